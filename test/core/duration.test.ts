import {describe, expect, it} from 'vitest'
import {formatMs, parseDuration, parseSize} from '../../src/core/duration.js'

describe('durations and sizes', () => {
  it.each([
    ['250ms', 250], ['10s', 10_000], ['5m', 300_000], ['1h', 3_600_000], ['7d', 604_800_000], ['3', 3000], ['1.5s', 1500], [' 2S ', 2000],
  ])('parses %s', (t, ms) => expect(parseDuration(t)).toBe(ms))

  it.each(['', 'abc', '-1s', '5 minutes', '1w', '1e3'])('rejects %j', (t) => expect(parseDuration(t)).toBeNull())

  it.each([['10MB', 10_000_000], ['512KiB', 524_288], ['1024', 1024], ['2g', 2 * 1024 ** 3]])('parses size %s', (t, b) => expect(parseSize(t)).toBe(b))
  it('rejects unknown size units', () => expect(parseSize('3 parsecs')).toBeNull())

  it('formats for people', () => {
    expect(formatMs(12)).toBe('12ms')
    expect(formatMs(1500)).toBe('1.5s')
    expect(formatMs(90_000)).toBe('2m')
  })
})
