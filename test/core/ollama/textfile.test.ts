import {describe, expect, it} from 'vitest'
import {judgeTextfile, parseTextfileHeader, textfileHeader, type TextfileWriter} from '../../../src/core/ollama/textfile.js'

const me: TextfileWriter = {collector: 'metrics', pid: 4242, startTime: '123456'}

describe('who owns an Ollama textfile', () => {
  it('the header round-trips and is a Prometheus comment', () => {
    const h = textfileHeader(me)
    expect(h.startsWith('# ')).toBe(true)
    expect(h).not.toMatch(/^# (HELP|TYPE) /)
    expect(parseTextfileHeader(h)).toEqual(me)
    expect(parseTextfileHeader('# HELP ollama_up 1 when the Ollama API answered')).toBeNull()
  })

  it('writes a new file and its own; refuses a file without the header and the other command\'s', () => {
    expect(judgeTextfile(null, me)).toEqual({kind: 'write'})
    expect(judgeTextfile(textfileHeader(me), me)).toEqual({kind: 'write'})
    expect(judgeTextfile('', me)).toMatchObject({kind: 'refuse', why: expect.stringMatching(/not written by medic/)})
    expect(judgeTextfile('# HELP ollama_up seed exporter', me)).toMatchObject({kind: 'refuse'})
    expect(judgeTextfile(textfileHeader({...me, collector: 'frozen-check'}), me)).toMatchObject({kind: 'refuse', why: expect.stringMatching(/^medic ollama frozen-check's textfile/)})
  })

  it('another writer of the same command holds it (the caller asks whether it still runs); a reused pid is another writer', () => {
    expect(judgeTextfile(textfileHeader({...me, pid: 7}), me)).toMatchObject({kind: 'held', holder: {pid: 7, startTime: '123456'}, why: expect.stringMatching(/held by medic pid 7 \(ollama metrics\)/)})
    expect(judgeTextfile(textfileHeader({...me, startTime: '99'}), me)).toMatchObject({kind: 'held', holder: {pid: 4242, startTime: '99'}})
  })
})
