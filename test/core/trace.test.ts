import {readFileSync} from 'node:fs'
import {describe, expect, it} from 'vitest'
import {explain, isSignalEvent, parseOomLines, parseStraceLine, parseTraceLine, type GuardAction, type ObservedSignal, type SignalEvent} from '../../src/core/trace.js'

const snap = (name: string) => readFileSync(new URL(`../fixtures/snapshots/${name}`, import.meta.url), 'utf8')

describe('tracefs lines (captured from this kernel)', () => {
  const events = snap('tracefs-signal.txt').split('\n').map(parseTraceLine).filter((e) => e !== null)
  it('reads signal_generate and sched_process_fork, skipping headers', () => {
    expect(events).toHaveLength(6)
    expect(events[0]).toEqual({ts: 3133.971112, parentPid: 1119, childComm: 'bash', childPid: 1123})
    expect(events[2]).toEqual({ts: 3223.463001, senderPid: 1387, senderComm: 'bash', sig: 15, code: 0, targetPid: 1388, targetComm: 'sleep', result: 0})
  })
  it('keeps senders and targets whose comm has dashes, slashes and spaces', () => {
    const last = events[5] as SignalEvent
    expect(isSignalEvent(last)).toBe(true)
    expect(last).toMatchObject({senderComm: 'kworker/u4:2', senderPid: 55, targetComm: 'my prog', targetPid: 2001, code: 128})
  })
})

describe('strace lines (captured)', () => {
  const lines = snap('strace-signals.txt').split('\n').map(parseStraceLine).filter((e) => e !== null)
  it('reads the sender of catchable signals and the blind SIGKILL', () => {
    expect(lines[0]).toEqual({pid: 1923, kind: 'signal', sig: 15, code: 'SI_USER', senderPid: 1922, senderUid: 0})
    expect(lines[1]).toEqual({pid: 1923, kind: 'killed', sig: 15})
    expect(lines.at(-1)).toEqual({pid: 1930, kind: 'killed', sig: 9})
  })
})

describe('kernel OOM lines (captured from a memory cgroup OOM here)', () => {
  it('finds the killed pid in both line shapes', () => {
    const hits = parseOomLines(snap('kernel-oom-memcg.txt'))
    expect(hits.map((h) => [h.pid, h.comm])).toEqual([[1960, 'node'], [1960, 'node']])
    expect(hits[0].memcg).toBe('/medic-probe')
    expect(parseOomLines('[ 1.0] Out of memory: Killed process 77 (java) total-vm:1kB')[0]).toMatchObject({pid: 77, comm: 'java'})
  })
})

const sender = (pid: number, comm: string, tty: string | null = null, chain: string[] = []) => ({pid, comm, uid: 0, user: 'root', cmdline: [comm], chain, tty})
const sig = (ts: number, from: number, comm: string, s: number, target: number, code = 0, tty: string | null = null, chain: string[] = []): ObservedSignal => ({ts, senderPid: from, senderComm: comm, sig: s, code, targetPid: target, targetComm: 'job', result: 0, sender: sender(from, comm, tty, chain)})

describe('the explanation', () => {
  const targets = new Set([100])
  it('names the sender of a SIGKILL and recognises a stop timeout', () => {
    const e = explain({kind: 'signaled', signal: 9}, [sig(1, 50, 'systemd', 15, 100), sig(91, 50, 'systemd', 9, 100)], [], targets, {oomCounter: null, killers: []})
    expect(e.headline).toBe('killed by SIGKILL (exit status 137 = 128 + 9); sent by pid 50 (systemd, user root: systemd)')
    expect(e.causes[0]).toMatch(/stop timeout: SIGTERM then SIGKILL 1m30s later .*systemd's stop timeout/)
    expect(e.counts).toEqual([{signal: 'SIGTERM', sender: 'systemd (pid 50)', count: 1}, {signal: 'SIGKILL', sender: 'systemd (pid 50)', count: 1}])
  })
  it('blames the OOM killer on kernel evidence', () => {
    const e = explain({kind: 'signaled', signal: 9}, [sig(1, 100, 'job', 9, 100, 128)], parseOomLines(snap('kernel-oom-memcg.txt').replace(/1960/g, '100')), targets, {oomCounter: 1, killers: []})
    expect(e.headline).toMatch(/sent by the kernel$/)
    expect(e.causes[0]).toMatch(/^the kernel OOM killer: Memory cgroup out of memory: Killed process 100 \(node\).*memory cgroup \/medic-probe; cgroup oom_kill counter \+1$/)
  })
  it('recognises a human at a shell', () => {
    const e = explain({kind: 'signaled', signal: 15}, [sig(1, 7, 'kill', 15, 100, 0, 'pts/3', ['6 bash', '5 sshd'])], [], targets, {oomCounter: null, killers: []})
    expect(e.causes).toContain('a human at a shell on pts/3')
  })
  it('says "in its own cgroup" when the OOM kill happened in the job\'s own memory cgroup, and only then', () => {
    const oom = parseOomLines(snap('kernel-oom-memcg.txt').replace(/1960/g, '100'))
    const own = explain({kind: 'signaled', signal: 9}, [sig(1, 100, 'job', 9, 100, 128)], oom, targets, {oomCounter: 1, killers: [], ownCgroup: {path: '/medic-probe', limit: 64 * 1024 * 1024}})
    expect(own.headline).toBe('killed by SIGKILL (exit status 137 = 128 + 9); sent by the kernel OOM killer in its own cgroup')
    expect(own.causes[0]).toMatch(/^the kernel OOM killer in its own cgroup \(\/medic-probe, memory limit 64 MiB\): the job went over its own budget/)
    const parent = explain({kind: 'signaled', signal: 9}, [sig(1, 100, 'job', 9, 100, 128)], oom, targets, {oomCounter: 1, killers: [], ownCgroup: {path: '/medic-probe/child', limit: null}})
    expect(parent.causes[0]).toMatch(/^the kernel OOM killer: /)
    // A kernel whose OOM lines name no cgroup: its own cgroup's counter moved.
    const bare = explain({kind: 'vanished'}, [], parseOomLines('[ 1.0] Memory cgroup out of memory: Killed process 100 (node)'), targets, {oomCounter: 1, killers: [], ownCgroup: {path: '/x', limit: null}})
    expect(bare.headline).toMatch(/sent by the kernel OOM killer in its own cgroup$/)
  })
  const guardRec = (o: Partial<GuardAction> = {}): GuardAction => ({at: 1, guard: {pid: 50, startTime: '1'}, victim: {pid: 100, startTime: '2', comm: 'hog'}, action: 'kill', resource: 'memory', reason: 'memory 93 % > 88 % for 3 samples', result: 'sent', ...o})
  it('names medic guard and its reason from its record, matched by the sender it saw', () => {
    const e = explain({kind: 'signaled', signal: 9}, [sig(1, 50, 'node', 15, 100), sig(11, 50, 'node', 9, 100)], [], targets, {oomCounter: null, killers: [], guard: [guardRec({action: 'term'}), guardRec()]})
    expect(e.headline).toBe('killed by SIGKILL (exit status 137 = 128 + 9); sent by medic guard (pid 50)')
    expect(e.causes[0]).toBe('medic guard, memory 93 % > 88 % for 3 samples (SIGKILL after its SIGTERM and grace; guard pid 50)')
    // Another sender than the guard that wrote the record: the record is not its explanation.
    const other = explain({kind: 'signaled', signal: 9}, [sig(11, 51, 'kill', 9, 100)], [], targets, {oomCounter: null, killers: [], guard: [guardRec()]})
    expect(other.causes.join()).not.toMatch(/medic guard/)
    // strace never sees a SIGKILL's sender: the record is named as evidence, said so.
    const blind = explain({kind: 'signaled', signal: 9}, [], [], targets, {oomCounter: null, killers: [], guard: [guardRec()]})
    expect(blind.causes[0]).toMatch(/^medic guard, memory 93 % > 88 % for 3 samples \(.*from its record — the sender was not seen\)$/)
    expect(explain({kind: 'signaled', signal: 9}, [], [], targets, {oomCounter: null, killers: [], guard: [guardRec({result: 'refused'})]}).causes).toEqual([])
  })
  it('counts zero signals as zero and says how a clean run ended', () => {
    const e = explain({kind: 'exited', code: 0}, [], [], targets, {oomCounter: null, killers: []})
    expect(e).toMatchObject({headline: 'exited with code 0', counts: [], causes: []})
  })
})
