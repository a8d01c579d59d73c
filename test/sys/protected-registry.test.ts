import {describe, expect, it} from 'vitest'
import {fnv1a64, patternFileName} from '../../src/sys/protected-registry.js'

describe("a registered pattern's file name", () => {
  it('is FNV-1a 64 of the UTF-8 bytes (the published test vectors), per user', () => {
    expect(fnv1a64('')).toBe('cbf29ce484222325')
    expect(fnv1a64('a')).toBe('af63dc4c8601ec8c')
    expect(fnv1a64('foobar')).toBe('85944171f73967e8')
    expect(patternFileName('train\\.py', 1000)).toMatch(/^pattern-1000-[0-9a-f]{16}\.json$/)
    expect(patternFileName('train\\.py', 0)).not.toBe(patternFileName('train\\.py', 1000))
    expect(patternFileName('é', 0)).not.toBe(patternFileName('e', 0))
  })
})
