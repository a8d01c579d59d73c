import {describe, expect, it} from 'vitest'
import {splitCommandLine} from '../../src/core/command-line.js'

describe('splitting a command line like ExecStart (no shell)', () => {
  it.each([
    ['systemctl restart ollama', ['systemctl', 'restart', 'ollama']],
    ['  a   b  ', ['a', 'b']],
    [`node "my app.js" 'x y'`, ['node', 'my app.js', 'x y']],
    [`echo '$(rm -rf /)' "*" ; ls`, ['echo', '$(rm -rf /)', '*', ';', 'ls']],
    [`a\\ b "q\\"q" 'no\\escape'`, ['a b', 'q"q', 'no\\escape']],
    [`x "" ''`, ['x', '', '']],
    [`pre"mid"post`, ['premidpost']],
  ])('%s', (text, words) => expect(splitCommandLine(text)).toEqual(words))

  it('refuses an unbalanced quote', () => {
    expect(() => splitCommandLine(`echo "oops`)).toThrow(/unbalanced/)
  })
})
