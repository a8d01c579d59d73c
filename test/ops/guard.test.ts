// The guard's op against a fake world: what happens between the sample and the act.
import {describe, expect, it} from 'vitest'
import {PROTECTOR_LIMITS} from '../../src/core/guard-config.js'
import {initialState, type GuardState, type HostSample} from '../../src/core/guard-ladder.js'
import {guardPass, type GuardDeps, type GuardInput} from '../../src/ops/guard.js'
import type {ProcFacts} from '../../src/sys/guard-sampler.js'
import {LogFile} from '../../src/sys/log-file.js'
import type {ProcessTable} from '../../src/sys/proc-table.js'
import type {SignalGate} from '../../src/sys/signal-gate.js'

const fact = (pid: number, startTime: string, o: Partial<ProcFacts> = {}): ProcFacts => ({
  pid, startTime, comm: 'node', cmdline: ['node', 'hog.js'], ppid: 500, sid: 500, ttyNr: 0, uid: 0, kernelThread: false, rssKiB: 500_000, oomScore: 600, cpuPercent: null, writeBps: null, cgroup: '/', ...o,
})

/** A world whose process changes (reused pid, newly protected) between the sample and the last look. */
function world(o: {atSample: ProcFacts; atAct: ProcFacts | null; refusalAtAct?: {kind: string; reason: string} | null; devFlagAtAct?: boolean; state?: GuardState}) {
  let now = 1_000_000
  let looked = false
  const calls: string[] = []
  let state = o.state ?? initialState()
  const sample: HostSample = {at: 0, memory: {usedPercent: 93, totalKiB: 1, availableKiB: 1}, cpuBusyPercent: 10, pressure: {memory: null, cpu: null, io: null}, disks: [{path: '/', usedPercent: 10}]}
  const deps: GuardDeps = {
    clock: {now: () => now, wall: () => new Date(now), sleep: async (ms) => void (now += ms)},
    sampler: {
      host: async () => ({...sample, at: now}),
      procs: () => [o.atSample],
      proc: () => {
        looked = true
        return o.atAct
      },
      uptimeMs: () => 1e9,
    },
    gate: {
      inspect: (pid: number, st?: string) => ({proc: {pid, startTime: st ?? ''}, refusal: looked ? (o.refusalAtAct ?? null) : null}),
      send: (pid: number, _st: string, sig: NodeJS.Signals) => (calls.push(`${sig} ${pid}`), {result: 'sent' as const}),
      adjust: (pid: number) => (calls.push(`adjust ${pid}`), {result: 'sent' as const, before: {nice: 0, oomScoreAdj: 0}}),
      resume: () => ({result: 'sent' as const}),
      scope: () => {
        throw new Error('not used')
      },
    } as unknown as SignalGate,
    procs: {
      liveness: () => 'alive', stat: () => ({startTime: '1'}), ancestors: () => [], descendants: () => [99],
      envVar: (_pid: number, name: string) => (looked && o.devFlagAtAct && name === 'OMNIMIND_DEV_SCRIPT_MODE' ? 'true' : null),
    } as unknown as ProcessTable,
    store: {read: () => state, write: (s) => void (state = s), record: (a) => void calls.push(`record ${a.action} ${a.result}`)},
    log: new LogFile(undefined),
    progress: () => {},
    announce: () => {},
    selfPid: 99,
    uid: 0,
  }
  return {deps, calls, state: () => state}
}

const input: GuardInput = {
  mode: 'test', limits: {...PROTECTOR_LIMITS.test, memoryPercent: 88, startupGraceSeconds: 0}, configPath: null, enforce: true, watchMs: null, sampleMs: 10,
  hysteresis: 1, graceMs: 1000, killsPerHour: 3, diskPaths: ['/'], devPatterns: [], daemonPatterns: [],
}

describe('guard pass: the last look before acting', () => {
  it('acts on the sampled offender when nothing changed (the control)', async () => {
    const w = world({atSample: fact(10, '777'), atAct: fact(10, '777')})
    const v = await guardPass(input, w.deps)
    expect(w.calls).toEqual(['adjust 10', 'record renice sent'])
    expect(v.summary).toMatch(/memory 93 % > 88 % \(1\/1 sample\): reniced pid 10 \(node hog\.js\)/)
  })

  it('never acts on a pid reused between the sample and the act', async () => {
    const w = world({atSample: fact(10, '777'), atAct: fact(10, '999', {comm: 'sshd', cmdline: ['sshd']})})
    await guardPass(input, w.deps)
    expect(w.calls).toEqual(['record renice gone'])
    expect(w.state().victims).toEqual([])
  })

  it('never acts on a process protected between the sample and the act', async () => {
    const w = world({atSample: fact(10, '777'), atAct: fact(10, '777'), refusalAtAct: {kind: 'registered', reason: 'protected by run-dev-safe (job "late")'}})
    await guardPass(input, w.deps)
    expect(w.calls).toEqual(['record renice refused'])
  })

  it('never acts on a process that became a dev job (the seed\'s environment flag) in between', async () => {
    const w = world({atSample: fact(10, '777'), atAct: fact(10, '777'), devFlagAtAct: true})
    await guardPass(input, w.deps)
    expect(w.calls).toEqual(['record renice refused'])
  })

  it('does not signal when the kill budget cannot be written down first', async () => {
    const w = world({atSample: fact(10, '777'), atAct: fact(10, '777'), state: {...initialState(), over: {memory: 1, cpu: 0, disk: 0}, lastAt: 1_000_000, victims: [{pid: 10, startTime: '777', comm: 'node', cmdline: ['node', 'hog.js'], resource: 'memory', stage: 'reniced', at: 999_000, reason: 'x', nice0: 0, oomScoreAdj0: 0}]}})
    w.deps.store.write = () => {
      throw new Error('EROFS')
    }
    const v = await guardPass(input, w.deps)
    expect(w.calls.filter((c) => c.startsWith('SIG'))).toEqual([])
    expect(v.checks.map((c) => c.detail).join()).toMatch(/the state cannot be written \(EROFS\): nothing is signalled/)
  })

  it('an offender that ignores SIGTERM gets SIGKILL within the same pass, after the grace', async () => {
    const w = world({atSample: fact(10, '777'), atAct: fact(10, '777'), state: {...initialState(), over: {memory: 1, cpu: 0, disk: 0}, lastAt: 1_000_000, victims: [{pid: 10, startTime: '777', comm: 'node', cmdline: ['node', 'hog.js'], resource: 'memory', stage: 'reniced', at: 999_000, reason: 'x', nice0: 0, oomScoreAdj0: 0}]}})
    await guardPass(input, w.deps)
    expect(w.calls.filter((c) => c.startsWith('SIG'))).toEqual(['SIGTERM 10', 'SIGKILL 10'])
  })
})
