import {describe, expect, it} from 'vitest'
import {splitArgv} from '../../src/core/argv.js'

describe('splitArgv: the one `--` rule', () => {
  it('splits at the first bare --, keeping later ones in the rest', () => {
    expect(splitArgv(['--name', 'a', '--', 'node', '--', '-x'])).toEqual({words: ['--name', 'a'], rest: ['node', '--', '-x']})
  })

  it('tells no -- (rest null) from a -- with nothing after it (rest empty)', () => {
    expect(splitArgv(['--json'])).toEqual({words: ['--json'], rest: null})
    expect(splitArgv(['--json', '--'])).toEqual({words: ['--json'], rest: []})
  })

  it('leaves --flag=-- and words that only start with -- alone', () => {
    expect(splitArgv(['--name=--', '---', '--json'])).toEqual({words: ['--name=--', '---', '--json'], rest: null})
  })

  it('does not change its argument', () => {
    const argv = ['a', '--', 'b']
    splitArgv(argv).words.push('x')
    expect(argv).toEqual(['a', '--', 'b'])
  })
})
