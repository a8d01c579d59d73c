import {spawn} from 'node:child_process'
import {afterEach, describe, expect, it} from 'vitest'
import type {LiveEntry} from '../../src/core/protect.js'
import {procTable} from '../../src/sys/proc-table.js'
import {makeSignalGate, type GatePolicy} from '../../src/sys/signal-gate.js'
import {alive, Janitor, startService, until} from '../helpers/procs.js'

const j = new Janitor()
afterEach(() => j.cleanup())

const gate = (policy: Partial<GatePolicy> = {}, registry: LiveEntry[] = []) => makeSignalGate({procs: procTable, registry: () => registry, policy: {protect: [], match: null, ...policy}})
const entry = (pid: number, startTime: string): LiveEntry => ({version: 1, pid, startTime, name: 'train', cmdline: [], descendants: true, registeredAt: '', fileUid: 0, procUid: 0, sessionLive: false, source: 'test'})

describe('the signal gate', () => {
  it('signals a process whose identity matches', async () => {
    const s = await startService(j)
    const st = procTable.stat(s.pid)!
    const exited = new Promise((r) => s.child.once('exit', (_c, sig) => r(sig)))
    expect(gate().send(s.pid, st.startTime, 'SIGTERM')).toEqual({result: 'sent'})
    expect(await exited).toBe('SIGTERM')
  })

  it('does not signal when the start time differs: the pid was reused', async () => {
    const s = await startService(j)
    expect(gate().send(s.pid, '1', 'SIGKILL').result).toBe('reused')
    expect(alive(s.pid)).toBe(true)
  })

  it('reports a vanished process as gone', async () => {
    const s = await startService(j)
    const st = procTable.stat(s.pid)!
    process.kill(s.pid, 'SIGKILL')
    await new Promise((r) => s.child.once('exit', r))
    expect(gate().send(s.pid, st.startTime, 'SIGTERM').result).toBe('gone')
  })

  it('refuses pid 1, itself and its ancestors whatever the identity', () => {
    const g = gate()
    expect(g.send(1, procTable.stat(1)?.startTime ?? '0', 'SIGTERM').result).toBe('refused')
    expect(g.send(0, '0', 'SIGTERM').result).toBe('refused')
    expect(g.send(process.pid, procTable.stat(process.pid)!.startTime, 'SIGTERM').result).toBe('refused')
    const parent = procTable.stat(process.ppid)!
    expect(g.send(parent.pid, parent.startTime, 'SIGTERM').result).toBe('refused')
  })

  it('refuses at send time what the policy and the registry protect, and says why', async () => {
    const s = await startService(j)
    const st = procTable.stat(s.pid)!
    expect(gate({protect: [/service\.mjs/]}).send(s.pid, st.startTime, 'SIGKILL')).toEqual({result: 'refused', reason: 'matches --protect service\\.mjs'})
    expect(gate({match: /nomatch/}).send(s.pid, st.startTime, 'SIGKILL').reason).toMatch(/does not match --match/)
    expect(gate({}, [entry(s.pid, st.startTime)]).send(s.pid, st.startTime, 'SIGKILL').reason).toMatch(/protected by run-dev-safe \(job "train"\)/)
    expect(gate({error: 'config file: cannot parse x.yaml'}).send(s.pid, st.startTime, 'SIGKILL').reason).toMatch(/protect patterns are unknown/)
    expect(alive(s.pid)).toBe(true)
  })

  it('a process reaped while it was judged is gone, not refused (its uid unreadable protects it only while it lives)', async () => {
    const s = await startService(j)
    const st = procTable.stat(s.pid)!
    // The target dies between the identity check and the protection check: its /proc status
    // is gone (uid unknown: fail closed), then so is its stat. A user's session claim is live.
    let died = false
    const procs = {...procTable, realUid: (pid: number) => (pid === s.pid ? ((died = true), null) : procTable.realUid(pid)), liveness: (pid: number, start: string) => (pid === s.pid && died ? 'gone' as const : procTable.liveness(pid, start))}
    const claim: LiveEntry = {...entry(999999, '1'), fileUid: 1000, procUid: 1000, sessionLive: true, session: {sid: st.sid, startTime: '1'}}
    const g = makeSignalGate({procs, registry: () => [claim], policy: {protect: [], match: null}})
    expect(g.send(s.pid, st.startTime, 'SIGCONT')).toEqual({result: 'gone'})
    // Alive, the same unreadable uid is refused (fail closed).
    const alive2 = makeSignalGate({procs: {...procTable, realUid: (pid: number) => (pid === s.pid ? null : procTable.realUid(pid))}, registry: () => [claim], policy: {protect: [], match: null}})
    expect(alive2.send(s.pid, st.startTime, 'SIGCONT').result).toBe('refused')
  })

  it('treats a zombie as gone', async () => {
    // The background child exits only once its parent has exec'd into sleep, which never reaps
    // it: a zombie. (Exiting earlier, the shell could reap it before the exec.)
    const c = spawn('sh', ['-c', 'exec 3<&0; (read x <&3; exit 0) & echo $!; exec sleep 1000'], {stdio: ['pipe', 'pipe', 'inherit'], detached: true})
    j.child(c)
    const pid = Number(await new Promise<string>((r) => c.stdout!.once('data', (d) => r(String(d)))))
    // Waited for, not polled a fixed number of times: a loaded host once let 1000 polls pass before
    // the exec, the child then exited under the shell, which reaped it (no zombie to judge).
    await until('the shell exec\'d into sleep', () => procTable.stat(c.pid!)?.comm === 'sleep' || null, 60_000)
    c.stdin!.write('go\n')
    const st = await until('the child a zombie', () => {
      const s = procTable.stat(pid)
      return s?.state === 'Z' ? s : null
    }, 60_000)
    expect(st.state).toBe('Z')
    expect(procTable.liveness(pid, st.startTime)).toBe('gone')
    expect(gate().send(pid, st.startTime, 'SIGKILL').result).toBe('gone')
  }, 90_000)
})

describe("a job scope: the owner's narrow capability", () => {
  it('adopts only its own children and reaches only their processes', async () => {
    const other = await startService(j) // a child of this test process, but never adopted
    const mine = spawn('sh', ['-c', 'sleep 1000 & echo $!; wait'], {stdio: ['ignore', 'pipe', 'ignore'], detached: true})
    j.child(mine)
    const grandchild = Number(await new Promise<string>((r) => mine.stdout!.once('data', (d) => r(String(d)))))
    const g = gate({protect: [/sleep/]})
    const scope = g.scope()
    expect(scope.adopt(1)).toBeNull()
    expect(scope.adopt(grandchild)).toBeNull() // not this process's child
    expect(scope.adopt(mine.pid!)).not.toBeNull()
    const members = scope.members().map((m) => [m.pid, m.via])
    expect(members).toEqual(expect.arrayContaining([[mine.pid, 'root'], [grandchild, 'group']]))
    expect(members.map(([p]) => p)).not.toContain(other.pid)
    const ost = procTable.stat(other.pid)!
    expect(scope.send(other.pid, ost.startTime, 'SIGKILL')).toMatchObject({result: 'refused', reason: expect.stringMatching(/not part of the job/)})
    // --protect matches `sleep`, yet the owner may stop its own job's sleep.
    const gst = procTable.stat(grandchild)!
    expect(scope.send(grandchild, gst.startTime, 'SIGKILL').result).toBe('sent')
    expect(g.send(other.pid, ost.startTime, 'SIGTERM').result).toBe('sent') // the full gate is unaffected by scopes
  })
})
