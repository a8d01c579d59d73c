import {describe, expect, it} from 'vitest'
import {formatBytes, formatMs, parseDuration, parseSize} from '../../src/core/duration.js'

describe('durations and sizes', () => {
  it.each([
    ['250ms', 250], ['10s', 10_000], ['5m', 300_000], ['1h', 3_600_000], ['7d', 604_800_000], ['3', 3000], ['1.5s', 1500], [' 2S ', 2000],
  ])('parses %s', (t, ms) => expect(parseDuration(t)).toBe(ms))

  it.each(['', 'abc', '-1s', '5 minutes', '1w', '1e3', '1m 30', 's5'])('rejects %j', (t) => expect(parseDuration(t)).toBeNull())

  it.each([['10MB', 10_000_000], ['512KiB', 524_288], ['1024', 1024], ['2g', 2 * 1024 ** 3]])('parses size %s', (t, b) => expect(parseSize(t)).toBe(b))
  it('rejects unknown size units', () => expect(parseSize('3 parsecs')).toBeNull())

  it('formats for people, one form per magnitude, that parses back', () => {
    const cases: [number, string][] = [
      [12, '12ms'], [1500, '1.5s'], [2000, '2s'], [9990, '10s'], [42_400, '42s'], [90_000, '1m30s'], [300_000, '5m'],
      [3_570_000, '59m30s'], [3_599_700, '1h'], [3_600_000, '1h'], [5_400_000, '1h30m'], [86_400_000, '1d'], [183_600_000, '2d3h'],
    ]
    for (const [ms, text] of cases) {
      expect(formatMs(ms)).toBe(text)
      expect(Math.abs(parseDuration(text)! - ms)).toBeLessThanOrEqual(Math.max(50, ms / 100))
    }
    // never "60m" for an hour, never "1.0h"
    for (let ms = 3_000_000; ms < 4_000_000; ms += 7_919) expect(formatMs(ms)).not.toMatch(/^60m|\.0h/)
  })

  it('formats sizes in binary units only', () => {
    expect(formatBytes(512)).toBe('512B')
    expect(formatBytes(11 * 1024 * 1024)).toBe('11MiB')
    expect(formatBytes(11_010_048)).toBe('10.5MiB')
    expect(formatBytes(2 * 1024 ** 3)).toBe('2GiB')
    expect(parseSize(formatBytes(11_010_048))).toBe(11_010_048)
  })
})
