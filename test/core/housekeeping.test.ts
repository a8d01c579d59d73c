import {describe, expect, it} from 'vitest'
import {keepTail, nameVariant, unsafePath} from '../../src/core/file-rules.js'
import {archiveName, archiveTime, hangStep, holderGone, lockDecision, parseLockPid, parseOpsRequest, pruneDecision, utcStamp} from '../../src/core/housekeeping.js'

describe('lock files', () => {
  it.each([['{"pid":123}', 123], ['{"pid": "77"}', 77], ['  42\n', 42], ['{"pid":0}', null], ['{}', null], ['garbage', null], ['', null], ['{"pid":-3}', null], ['[1]', null]])('reads the pid of %j', (text, pid) => {
    expect(parseLockPid(text)).toBe(pid)
  })

  it('removes only old locks of dead pids; a live pid is kept however old; unparsable is kept', () => {
    const H = 3_600_000
    const gone = () => ({state: 'gone' as const, why: ''})
    expect(lockDecision(60_000, 300_000, 5, false, gone)).toBe('keep-fresh')
    expect(lockDecision(100 * H, 300_000, 5, true, gone)).toBe('keep-live')
    expect(lockDecision(100 * H, 300_000, null, false, gone)).toBe('keep-unparsable')
    expect(lockDecision(300_001, 300_000, 5, false, gone)).toBe('remove')
    expect(lockDecision(300_001, 300_000, 5, false, () => ({state: 'alive-elsewhere', why: ''}))).toBe('keep-live')
    expect(lockDecision(300_001, 300_000, 5, false, () => ({state: 'unknown', why: ''}))).toBe('keep-unprovable')
  })

  it('a pid medic does not see is dead only with proof (attack C5: a pid of another pid namespace)', () => {
    const f = {bootMs: 1_000_000, initial: true, elsewhere: [] as number[] | null, local: false}
    expect(holderGone(7, 999_999, {...f, initial: false, elsewhere: null}).state).toBe('gone') // written before this boot
    expect(holderGone(7, 2_000_000, f)).toEqual({state: 'gone', why: 'no process has pid 7 in any pid namespace'})
    expect(holderGone(7, 2_000_000, {...f, elsewhere: [4242]})).toEqual({state: 'alive-elsewhere', why: 'pid 7 is alive in another pid namespace (host pid 4242): kept'})
    expect(holderGone(7, 2_000_000, {...f, elsewhere: null}).state).toBe('unknown') // /proc not readable whole
    expect(holderGone(7, 2_000_000, {...f, initial: false}).why).toMatch(/inside a pid namespace of its own/)
    expect(holderGone(7, 2_000_000, {...f, initial: false, local: true}).state).toBe('gone')
    expect(holderGone(7, 2_000_000, {...f, bootMs: null, initial: false}).state).toBe('unknown')
  })
})

describe('session archives', () => {
  it('stamps in UTC without colons', () => {
    expect(utcStamp(new Date('2026-11-23T10:11:12.345Z'))).toBe('20261123T101112Z')
  })

  it('names an archive by its archive time, and its free variants keep .old last', () => {
    const d = new Date('2026-11-23T10:11:12Z')
    expect(archiveName('s.jsonl', d)).toBe('s.jsonl.20261123T101112Z.old')
    expect(nameVariant(archiveName('s.jsonl', d), 2)).toBe('s.jsonl.20261123T101112Z.2.old')
  })

  it('knows its own archives by name, and their archive time by the stamp', () => {
    expect(archiveTime('main.jsonl.20261123T101112Z.old')).toBe(Date.UTC(2026, 10, 23, 10, 11, 12))
    expect(archiveTime('main.jsonl.20261123T101112Z.3.old')).toBe(Date.UTC(2026, 10, 23, 10, 11, 12))
    for (const n of ['notes.old', 'config.old', 'main.jsonl.old', 'main.txt.20261123T101112Z.old', 'main.jsonl.20261323T101112Z.old', 'main.jsonl.20261123T101112Z.old.bak']) expect(archiveTime(n)).toBeNull()
  })

  it('prunes only what medic archived longer ago than the limit — by the stamp, not the mtime', () => {
    const D = 86_400_000
    const now = Date.UTC(2026, 10, 23)
    const name = (t: number) => archiveName('s.jsonl', new Date(t))
    expect(pruneDecision(name(now - 10 * D), now, 7 * D)).toBe('prune')
    expect(pruneDecision(name(now - 1000), now, 7 * D)).toBe('young') // just archived, however old the session
    expect(pruneDecision(name(now + D), now, 7 * D)).toBe('young') // a clock that went back
    expect(pruneDecision('notes.old', now, 7 * D)).toBe('not-medic')
  })
})

describe('file gate rules', () => {
  it('finds free names with the extension last', () => {
    expect(nameVariant('req-a.json', 0)).toBe('req-a.json')
    expect(nameVariant('req-a.json', 1)).toBe('req-a.1.json')
    expect(nameVariant('req-a.result.json', 2)).toBe('req-a.result.2.json')
    expect(nameVariant('notes', 1)).toBe('notes.1')
    expect(nameVariant('.hidden', 1)).toBe('.hidden.1')
  })

  it('keeps the newest half of a capped log, from a line start', () => {
    const text = Buffer.from('aaaa\nbbbb\ncccc\ndddd\n')
    expect(Buffer.from(keepTail(text, 16)).toString()).toBe('dddd\n')
    expect(Buffer.from(keepTail(Buffer.from('x'.repeat(20)), 10)).toString()).toBe('xxxxx')
  })

  it('refuses, as root, a state dir another user can change', () => {
    const dir = (path: string, uid: number, mode: number, target = false) => ({path, uid, mode: 0o40000 | mode, symlink: false, target})
    const ok = [dir('/var/lib/medic', 0, 0o755, true), dir('/var/lib', 0, 0o755), dir('/var', 0, 0o755), dir('/', 0, 0o755)]
    expect(unsafePath(ok, 0)).toBeNull()
    expect(unsafePath([dir('/tmp/m', 0, 0o700, true), dir('/tmp', 0, 0o1777), dir('/', 0, 0o755)], 0)).toBeNull() // sticky /tmp: only root may move root's dir
    expect(unsafePath([dir('/tmp/m', 0, 0o777, true), dir('/tmp', 0, 0o1777)], 0)).toBe('/tmp/m is writable by every user (mode 0777)')
    expect(unsafePath([dir('/tmp/m', 0, 0o1777, true)], 0)).toMatch(/writable by every user/) // sticky does not save the state dir itself
    expect(unsafePath([dir('/srv/m', 0, 0o755, true), dir('/srv', 0, 0o775)], 0)).toBe('/srv is writable by its group (mode 0775)')
    expect(unsafePath([dir('/home/u/m', 1000, 0o700, true)], 0)).toBe('/home/u/m is owned by uid 1000')
    expect(unsafePath([{path: '/tmp/link', uid: 1000, mode: 0o120777, symlink: true, target: false}], 0)).toBe('/tmp/link is owned by uid 1000')
    expect(unsafePath([{path: '/tmp/link', uid: 0, mode: 0o120777, symlink: true, target: false}], 0)).toBeNull()
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

describe('the watchdog hang record', () => {
  const gw = (state: string, pid = 50, startTime = '900') => ({pid, startTime, state, comm: 'node', ppid: 1})

  it('restarts only once D or Z has lasted the threshold, for the same process', () => {
    let s = hangStep({seen: {}}, [gw('D')], 1000, 60_000)
    expect(s).toMatchObject({changed: true, hung: [], waiting: [{pid: 50, state: 'D', forMs: 0}], record: {seen: {'50:900': {since: 1000, state: 'D'}}}})
    s = hangStep(s.record, [gw('D')], 30_000, 60_000)
    expect(s).toMatchObject({changed: false, hung: [], waiting: [{forMs: 29_000}]})
    s = hangStep(s.record, [gw('Z')], 61_000, 60_000)
    expect(s.hung).toEqual([{pid: 50, state: 'Z', comm: 'node', forMs: 60_000, ppid: 1}])
    expect(s.changed).toBe(true) // the state it is in now is recorded
  })

  it('forgets a process that left D/Z, and never counts a reused pid as the same one', () => {
    const first = hangStep({seen: {}}, [gw('D')], 0, 10)
    expect(hangStep(first.record, [gw('S')], 100, 10)).toMatchObject({changed: true, hung: [], record: {seen: {}}})
    const reused = hangStep(first.record, [gw('D', 50, '901')], 100, 10)
    expect(reused).toMatchObject({hung: [], waiting: [{forMs: 0}], record: {seen: {'50:901': {since: 100}}}})
  })
})
