import {describe, expect, it} from 'vitest'
import {archiveName, lockDecision, parseLockPid, parseOpsRequest, utcStamp} from '../../src/core/housekeeping.js'

describe('lock files', () => {
  it.each([['{"pid":123}', 123], ['{"pid": "77"}', 77], ['  42\n', 42], ['{"pid":0}', null], ['{}', null], ['garbage', null], ['', null], ['{"pid":-3}', null], ['[1]', null]])('reads the pid of %j', (text, pid) => {
    expect(parseLockPid(text)).toBe(pid)
  })

  it('removes only old locks of dead pids; a live pid is kept however old; unparsable is kept', () => {
    const H = 3_600_000
    expect(lockDecision(60_000, 300_000, 5, false)).toBe('keep-fresh')
    expect(lockDecision(100 * H, 300_000, 5, true)).toBe('keep-live')
    expect(lockDecision(100 * H, 300_000, null, false)).toBe('keep-unparsable')
    expect(lockDecision(300_001, 300_000, 5, false)).toBe('remove')
  })
})

describe('session archives', () => {
  it('stamps in UTC without colons', () => {
    expect(utcStamp(new Date('2026-11-23T10:11:12.345Z'))).toBe('20261123T101112Z')
  })

  it('never picks a name that is taken', () => {
    const d = new Date('2026-11-23T10:11:12Z')
    const taken = new Set(['s.jsonl.20261123T101112Z.old', 's.jsonl.20261123T101112Z.1.old'])
    expect(archiveName('s.jsonl', d, (c) => taken.has(c))).toBe('s.jsonl.20261123T101112Z.2.old')
    expect(archiveName('t.jsonl', d, () => false)).toBe('t.jsonl.20261123T101112Z.old')
  })
})

describe('ops requests', () => {
  it('accepts the three known actions and rejects the rest', () => {
    expect(parseOpsRequest('{"action":"restart"}')).toMatchObject({ok: true, action: 'restart'})
    expect(parseOpsRequest('{"action":"set_model","model":"x"}')).toMatchObject({ok: true, action: 'set_model', params: {model: 'x'}})
    expect(parseOpsRequest('{"action":"rm -rf"}')).toMatchObject({ok: false, error: 'unknown action: "rm -rf"'})
    expect(parseOpsRequest('nope')).toMatchObject({ok: false})
    expect(parseOpsRequest('[]')).toMatchObject({ok: false, error: 'not a JSON object'})
  })
})
