import {existsSync, mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import type {ProbeResult} from '../../src/core/health-policy.js'
import type {SupervisorConfig} from '../../src/core/supervisor-machine.js'
import type {Verdict} from '../../src/core/verdict.js'
import {supervise, type SuperviseDeps, type SuperviseInput} from '../../src/ops/supervise.js'
import {LogFile} from '../../src/sys/log-file.js'
import type {ProcessTable} from '../../src/sys/proc-table.js'
import type {JobScope, Member} from '../../src/sys/signal-gate.js'
import type {JobEvents, Spawner} from '../../src/sys/spawn-job.js'
import {fakeClock} from '../helpers/fake-clock.js'
import {fakeSignalHub} from '../helpers/fake-signal-hub.js'

const SELF = 4242
const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, {recursive: true, force: true})
})

interface FakeChild {
  pid: number
  n: number
  alive: boolean
  startedAt: number
  on: JobEvents
  ignoresTerm: boolean
  /** A spare held before its exec (spawner.hold) until released. */
  held: boolean
}

/**
 * A fake world for the supervisor: a clock that moves only when run, children that start
 * and die on cue, a job scope and a gate that record every signal, a port that is always
 * bindable, probes answering as told, signals raised through a fake hub. Everything the
 * op does is written down in `events` with its fake time.
 */
/** The fake world's cgroup and its escape watch: nothing escaped unless a test says so. */
const fakeCgroups = (o: {cgroup?: boolean; escaped?: Map<number, string>} = {}): SuperviseDeps['cgroups'] => ({
  make: () => (o.cgroup === false ? {ok: false, reason: 'fake world'} : {ok: true, cgroup: {path: '/medic-supervise-fake', dir: '/nonexistent/medic-supervise-fake'}}),
  removeReleased: async () => true,
  watchEscapes: () => ({ok: true, watch: {drain: () => {}, escaped: () => o.escaped ?? new Map(), overrun: () => 0, close: () => {}}}),
})

function world(o: {behaviour?: (c: FakeChild, w: {exit: (c: FakeChild, code: number | null, signal: NodeJS.Signals | null) => void}) => void; resolvable?: boolean; startFails?: string; probeOk?: () => boolean; cgroups?: SuperviseDeps['cgroups']} = {}) {
  const t = fakeClock()
  const hub = fakeSignalHub()
  const events: string[] = []
  const announced: string[] = []
  /** What the supervisor logged (its progress lines), with the fake time each was written. */
  const lines: string[] = []
  /** Each logged line with the number of events before it: where it was written among them. */
  const logged: {line: string; after: number}[] = []
  const children: FakeChild[] = []
  let nextPid = 1000
  const at = () => `@${t.now()}`
  const exit = (c: FakeChild, code: number | null, signal: NodeJS.Signals | null) => {
    if (!c.alive) return
    c.alive = false
    events.push(`exit ${c.pid} ${signal ?? code}${at()}`)
    queueMicrotask(() => c.on.exited(code, signal))
  }
  const answer = (what: string): ProbeResult => (o.probeOk?.() ?? true ? {kind: 'ok', ok: true, ms: 1, detail: what} : {kind: 'refused', ok: false, ms: 1, detail: `${what} refused`})
  const byPid = (pid: number) => children.find((c) => c.pid === pid && c.alive)
  const spawner: Pick<Spawner, 'resolve' | 'start' | 'hold'> = {
    resolve: (name) => (o.resolvable === false ? {ok: false, code: 'ENOENT', reason: `${name}: not found in PATH (ENOENT)`} : {ok: true, path: `/bin/${name}`}),
    start(opts, on) {
      if (o.startFails) {
        // What jobSpawner reports when node's spawn throws (E2BIG): no process, `failed`.
        events.push(`spawn-failed ${o.startFails}${at()}`)
        return void queueMicrotask(() => on.failed({code: o.startFails, message: `spawn ${o.startFails}`}))
      }
      const c: FakeChild = {pid: nextPid++, n: children.length, alive: true, startedAt: t.now(), on, ignoresTerm: false, held: false}
      children.push(c)
      events.push(`spawn ${c.pid} ${opts.argv.join(' ')}${at()}`)
      queueMicrotask(() => {
        on.spawned(c.pid)
        o.behaviour?.(c, {exit})
      })
    },
    hold(opts, on) {
      const c: FakeChild = {pid: nextPid++, n: children.length, alive: true, startedAt: t.now(), on, ignoresTerm: false, held: true}
      children.push(c)
      events.push(`hold ${c.pid} ${opts.argv.join(' ')}${at()}`)
      queueMicrotask(() => on.spawned(c.pid))
      return {
        pid: c.pid,
        release: () => {
          if (!c.alive || !c.held) return
          c.held = false
          c.startedAt = t.now()
          events.push(`release ${c.pid}${at()}`)
          o.behaviour?.(c, {exit})
        },
        discard: () => {
          if (!c.alive || !c.held) return
          events.push(`discard ${c.pid}${at()}`)
          exit(c, 0, null)
        },
      }
    },
  }
  const send = (pid: number, _st: string, sig: NodeJS.Signals) => {
    const c = byPid(pid)
    if (!c) return {result: 'gone' as const}
    if (sig !== 'SIGCONT') events.push(`${sig} ${pid}${at()}`)
    if (sig === 'SIGKILL' || (sig === 'SIGTERM' && !c.ignoresTerm)) exit(c, null, sig)
    return {result: 'sent' as const}
  }
  const scope: JobScope = {
    cgroup: null,
    adopt: (pid) => ({pid, startTime: `s${pid}`}),
    members: () => children.filter((c) => c.alive).map((c): Member => ({pid: c.pid, startTime: `s${c.pid}`, comm: 'svc', via: 'root'})),
    send,
    signalAll: () => [],
    freeze: () => false,
  }
  const procs = {
    get: (pid: number) => (pid === SELF ? {pid: SELF, startTime: '77', cmdline: ['medic', 'supervise'], comm: 'node', state: 'S', ppid: 1, pgid: SELF, sid: SELF, uid: 0} : null),
    stat: (pid: number) => (byPid(pid) ? {pid, startTime: `s${pid}`, state: 'S', comm: 'svc'} : null),
    liveness: (pid: number) => (byPid(pid) ? 'alive' : 'gone'),
    ancestors: () => [],
  } as unknown as ProcessTable
  const dir = mkdtempSync(join(tmpdir(), 'medic-ops-sup-'))
  dirs.push(dir)
  const deps: SuperviseDeps = {
    clock: t.clock,
    procs,
    ports: {
      bindable: async (port) => (events.push(`bind-test ${port}${at()}`), {ok: true}),
      listeners: async () => { throw new Error('a free port needs no socket table') },
      knownListeners: async () => { throw new Error('a free port needs no socket table') },
    },
    gate: {send, inspect: () => null, resume: () => ({result: 'sent'}), adjust: () => { throw new Error('supervise never renices') }, scope: () => scope},
    locks: {acquire: async () => ({acquired: true, release: () => {}})},
    log: new LogFile(undefined),
    progress: (l) => (lines.push(`${l}${at()}`), logged.push({line: l, after: events.length})),
    selfPid: SELF,
    uid: 0,
    prober: {
      http: async () => answer('http'),
      tcp: async () => (events.push(`probe${at()}`), answer('tcp')),
    },
    announce: (l) => announced.push(l),
    spawner,
    cgroups: o.cgroups ?? fakeCgroups(),
    signals: hub,
  }
  const config: SupervisorConfig = {minUptimeMs: 1000, backoffBaseMs: 1000, backoffCapMs: 8000, maxRestarts: 3, restartWindowMs: 3_600_000, probeFailures: 3}
  const input = (over: Partial<SuperviseInput> = {}): SuperviseInput => ({
    name: 'gw', subject: 'SUPERVISOR', command: ['svc', '--port', '8080'], env: {PATH: '/bin'}, port: 8080, healthUrl: null,
    probeIntervalMs: 30_000, probeTimeoutMs: 5000, graceMs: 500, config, restartFlag: null,
    childLog: join(dir, 'gw.out.log'), childLogMax: 1 << 20, statePath: join(dir, 'gw.json'), pidFile: join(dir, 'gw.pid'), childPidFile: join(dir, 'child.pid'),
    deadlineAt: null, ...over,
  })
  const state = () => JSON.parse(readFileSync(join(dir, 'gw.json'), 'utf8'))
  let verdict: Verdict | null = null
  const start = (over: Partial<SuperviseInput> = {}) => {
    const p = supervise(input(over), deps).then((v) => (verdict = v))
    return p
  }
  const running = () => children.filter((c) => c.alive && !c.held)
  /** A process of the service the child left behind (its group, its session, the cgroup). */
  const leftover = () => {
    const c: FakeChild = {pid: nextPid++, n: children.length, alive: true, startedAt: t.now(), on: {spawned: () => {}, failed: () => {}, exited: () => {}}, ignoresTerm: false, held: false}
    children.push(c)
    return c
  }
  return {t, hub, events, announced, lines, logged, children, running, exit, leftover, dir, state, start, verdict: () => verdict, spawns: () => events.filter((e) => e.startsWith('spawn')), starts: () => events.filter((e) => e.startsWith('spawn') || e.startsWith('release'))}
}

describe('supervise (ops loop over the supervisor machine, fake world)', () => {
  it('frees the port, then spawns; a SIGKILL after a stable run restarts at once, with the port checked again first', async () => {
    const w = world()
    void w.start()
    await w.t.runUntil('first child stable', () => w.state().stable === true)
    expect(readFileSync(join(w.dir, 'gw.pid'), 'utf8')).toBe(`${SELF}\n`)
    expect(readFileSync(join(w.dir, 'child.pid'), 'utf8')).toBe('1000\n')
    expect(w.t.now()).toBe(1000)
    w.exit(w.children[0], null, 'SIGKILL')
    await w.t.runUntil('second child', () => w.running().length === 1)
    // Stable at 1000: a spare is held; the restart checks the port, then releases it (no fork on the restart path).
    expect(w.events).toEqual(['bind-test 8080@0', 'spawn 1000 svc --port 8080@0', 'hold 1001 svc --port 8080@1000', 'exit 1000 SIGKILL@1000', 'bind-test 8080@1000', 'release 1001@1000'])
    expect(w.state()).toMatchObject({child: {pid: 1001, startTime: 's1001'}, state: 'running', starts: 2, restarts: [expect.any(Number)], supervisor: {pid: SELF, startTime: '77'}})
    expect(readFileSync(join(w.dir, 'child.pid'), 'utf8')).toBe('1001\n')
    w.hub.raise('SIGTERM')
    await w.t.runUntil('stopped', () => w.verdict() !== null)
    expect(w.verdict()).toMatchObject({status: 'OK', extra: {starts: 2, restarts: 1, left: []}})
  })

  it('says "no process left" only when it can prove it: no cgroup, or a process moved out of it, is ALERT (contract §3.11)', async () => {
    for (const [cg, want] of [
      [fakeCgroups({cgroup: false}), /^gw supervisor stopped; cannot verify that no process of the service is left: without a cgroup \(fake world\) a process that left the service's session and cleared its environment cannot be found; none found by process group, session, MEDIC_JOB mark$/],
      [fakeCgroups({escaped: new Map([[4242, '/']])}), /^gw supervisor stopped; 1 process\(es\) of the service left its cgroup \/medic-supervise-fake and may still run: pid 4242 \(moved to \/\)$/],
    ] as const) {
      const w = world({cgroups: cg})
      void w.start()
      await w.t.runUntil('running', () => w.state().state === 'running')
      w.hub.raise('SIGTERM')
      await w.t.runUntil('stopped', () => w.verdict() !== null)
      expect(w.verdict()?.status).toBe('ALERT')
      expect(w.verdict()?.summary).toMatch(want)
    }
  })

  it('backs off a crash loop 1s, 2s, 4s, then the cap; one ALERT when the budget is spent', async () => {
    const w = world({behaviour: (c, x) => void w.t.clock.sleep(10).then(() => x.exit(c, 1, null))})
    void w.start()
    await w.t.runUntil('7 starts', () => w.spawns().length === 7)
    expect(w.spawns().map((s) => Number(s.split('@')[1]))).toEqual([0, 1010, 3020, 7030, 15040, 23050, 31060])
    expect(w.announced).toEqual(['SUPERVISOR_ALERT: gw: restart budget spent: 3 restarts in the last 3600s (max 3); retrying every 8s'])
    expect(w.state().budget).toMatchObject({max: 3, exhausted: true})
    w.hub.raise('SIGINT')
    await w.t.runUntil('stopped', () => w.verdict() !== null)
    expect(w.verdict()?.status).toBe('OK')
  })

  it('SIGTERM stops the child (TERM, then KILL after the grace) and leaves no timer, no subscription, no pid file', async () => {
    const w = world({behaviour: (c) => void (c.ignoresTerm = true)})
    void w.start({restartFlag: join(tmpdir(), 'never-there-' + process.pid)})
    await w.t.runUntil('running', () => w.state().state === 'running')
    expect(w.hub.count()).toBe(1)
    w.hub.raise('SIGTERM')
    await w.t.runUntil('stopped', () => w.verdict() !== null)
    const term = w.events.find((e) => e.startsWith('SIGTERM'))!
    const kill = w.events.find((e) => e.startsWith('SIGKILL'))!
    expect(Number(kill.split('@')[1]) - Number(term.split('@')[1])).toBe(500)
    expect(w.verdict()).toMatchObject({status: 'OK'})
    expect(w.hub.count()).toBe(0)
    expect(w.t.pending()).toBe(0)
    expect(existsSync(join(w.dir, 'gw.pid'))).toBe(false)
    expect(existsSync(join(w.dir, 'child.pid'))).toBe(false)
    expect(w.state().state).toBe('stopped')
  })

  it('SIGHUP restarts gracefully: TERM, the port, a new child, and no restart counted', async () => {
    const w = world()
    void w.start()
    await w.t.runUntil('running', () => w.state().state === 'running')
    w.hub.raise('SIGHUP')
    await w.t.runUntil('second child', () => w.spawns().length === 2 && w.running().length === 1)
    // The reap polls liveness every 2 ms: the next start follows the exit by one poll.
    expect(w.events.slice(2)).toEqual(['SIGTERM 1000@0', 'exit 1000 SIGTERM@0', 'bind-test 8080@2', 'spawn 1001 svc --port 8080@2'])
    expect(w.state().restarts).toEqual([])
    w.hub.raise('SIGTERM')
    await w.t.runUntil('stopped', () => w.verdict() !== null)
  })

  it('probes every interval; --probe-failures failures in a row restart the child', async () => {
    let ok = true
    const w = world({probeOk: () => ok})
    void w.start()
    await w.t.runUntil('two probes', () => w.events.filter((e) => e.startsWith('probe')).length === 2)
    expect(w.events.filter((e) => e.startsWith('probe'))).toEqual(['probe@30000', 'probe@60000'])
    ok = false
    await w.t.runUntil('restarted', () => w.starts().length === 2)
    expect(w.events.filter((e) => e.startsWith('probe'))).toEqual(['probe@30000', 'probe@60000', 'probe@90000', 'probe@120000', 'probe@150000'])
    expect(w.events).toContain('SIGTERM 1000@150000')
    w.hub.raise('SIGTERM')
    await w.t.runUntil('stopped', () => w.verdict() !== null)
  })

  it('--timeout stops it at the deadline exactly', async () => {
    const w = world()
    void w.start({deadlineAt: 45_000})
    await w.t.runUntil('stopped', () => w.verdict() !== null)
    expect(w.events.at(-2)).toBe('SIGTERM 1000@45000')
    expect(w.verdict()?.status).toBe('OK')
    expect(w.t.pending()).toBe(0)
  })

  it('the spare: the dead child\'s leftovers are killed and the port checked before it is released; never a leftover itself; one per run', async () => {
    const w = world()
    void w.start()
    await w.t.runUntil('a spare', () => w.events.some((e) => e.startsWith('hold')))
    const left = w.leftover()
    w.exit(w.children[0], null, 'SIGKILL')
    await w.t.runUntil('released', () => w.events.some((e) => e.startsWith('release')))
    const from = w.events.indexOf('exit 1000 SIGKILL@1000')
    expect(w.events.slice(from)).toEqual(['exit 1000 SIGKILL@1000', `SIGTERM ${left.pid}@1000`, `exit ${left.pid} SIGTERM@1000`, 'bind-test 8080@1002', 'release 1001@1002'])
    expect(w.state()).toMatchObject({child: {pid: 1001}, state: 'running', starts: 2})
    // The next run is stable at 2002: one new spare, and the probes' events make no other.
    await w.t.runUntil('the second spare', () => w.events.filter((e) => e.startsWith('hold')).length === 2)
    expect(w.t.now()).toBe(2002)
    await w.t.runUntil('a while', () => w.t.now() >= 120_000)
    expect(w.events.filter((e) => e.startsWith('hold'))).toHaveLength(2)
    expect(w.running().map((c) => c.pid)).toEqual([1001]) // the spare is held, not running
    w.hub.raise('SIGTERM')
    await w.t.runUntil('stopped', () => w.verdict() !== null)
    // Stopping discards the spare first: it ends without running the command.
    expect(w.events.slice(-4)).toEqual(['discard 1003@120000', 'exit 1003 0@120000', 'SIGTERM 1001@120000', 'exit 1001 SIGTERM@120000'])
    expect(w.children.filter((c) => c.alive)).toEqual([])
    expect(w.verdict()).toMatchObject({status: 'OK', extra: {left: []}})
  })

  it('no spare without a cgroup; a spare that died is replaced by a plain spawn', async () => {
    const w = world({cgroups: fakeCgroups({cgroup: false})})
    void w.start()
    await w.t.runUntil('stable', () => w.state().stable === true)
    w.exit(w.children[0], null, 'SIGKILL')
    await w.t.runUntil('second child', () => w.spawns().length === 2)
    expect(w.events.filter((e) => e.startsWith('hold'))).toEqual([])
    w.hub.raise('SIGTERM')
    await w.t.runUntil('stopped', () => w.verdict() !== null)

    const v = world()
    void v.start()
    await v.t.runUntil('a spare', () => v.events.some((e) => e.startsWith('hold')))
    v.exit(v.children[1], null, 'SIGKILL') // someone killed the held spare
    v.exit(v.children[0], null, 'SIGKILL')
    await v.t.runUntil('second child', () => v.spawns().length === 2)
    expect(v.events.filter((e) => e.startsWith('release'))).toEqual([])
    expect(v.state()).toMatchObject({child: {pid: 1002}, state: 'running'})
    v.hub.raise('SIGTERM')
    await v.t.runUntil('stopped', () => v.verdict() !== null)
    expect(v.verdict()?.status).toBe('OK')
  })

  // attack-spare F1: a stop that arrives while the dead child's leftovers are being reaped
  // (their --grace) must not start the service: the spare is discarded, never released.
  it('a stop received while the dead child\'s leftovers are reaped discards the spare: the command never runs after the stop', async () => {
    const w = world()
    void w.start()
    await w.t.runUntil('a spare', () => w.events.some((e) => e.startsWith('hold')))
    const left = w.leftover()
    left.ignoresTerm = true // the reap waits its --grace before the SIGKILL
    w.exit(w.children[0], null, 'SIGKILL')
    await w.t.runUntil('the leftover got its SIGTERM', () => w.events.includes(`SIGTERM ${left.pid}@1000`))
    w.hub.raise('SIGTERM') // `supervise stop` inside the restart window
    await w.t.runUntil('stopped', () => w.verdict() !== null)
    expect(w.starts()).toEqual(['spawn 1000 svc --port 8080@0']) // observed: the spare is released after the stop, and the command runs
    expect(w.events.filter((e) => e.startsWith('discard'))).toHaveLength(1)
    expect(w.verdict()?.status).toBe('OK')
  })

  // F1 with --timeout: the deadline is a stop too, and falls inside the leftover's grace here.
  it('a --timeout reached while the dead child\'s leftovers are reaped starts nothing either', async () => {
    const w = world()
    void w.start({deadlineAt: 1200})
    await w.t.runUntil('a spare', () => w.events.some((e) => e.startsWith('hold')))
    const left = w.leftover()
    left.ignoresTerm = true
    w.exit(w.children[0], null, 'SIGKILL')
    await w.t.runUntil('stopped', () => w.verdict() !== null)
    expect(w.starts()).toEqual(['spawn 1000 svc --port 8080@0'])
    expect(w.events.filter((e) => e.startsWith('discard'))).toHaveLength(1)
    expect(w.verdict()?.status).toBe('OK')
  })

  // attack-spare F2: the exit of the child is what an operator needs to see at once; held
  // until the next start, it is stamped late, and lost if medic dies during the reap.
  it('the child\'s exit is logged when it is known, not held back while the leftovers are reaped', async () => {
    const w = world()
    void w.start()
    await w.t.runUntil('a spare', () => w.events.some((e) => e.startsWith('hold')))
    const left = w.leftover()
    left.ignoresTerm = true
    w.exit(w.children[0], null, 'SIGKILL')
    await w.t.runUntil('the leftover got its SIGTERM', () => w.events.includes(`SIGTERM ${left.pid}@1000`))
    // Within the grace (500 ms): the exit happened at 1000 and medic knows it; the log must say so now.
    expect(w.lines.filter((l) => l.includes('child killed by SIGKILL'))).toEqual([expect.stringMatching(/@1000$/)])
    await w.t.runUntil('released', () => w.events.some((e) => e.startsWith('release')))
    w.hub.raise('SIGTERM')
    await w.t.runUntil('stopped', () => w.verdict() !== null)
  })

  // The other side of F2: a restart that waits for nothing (no leftover, the port free)
  // still keeps the log appends off its path — the lines come after the start.
  it('a restart that waits for nothing writes the exit line after the start, not before it', async () => {
    const w = world()
    void w.start()
    await w.t.runUntil('a spare', () => w.events.some((e) => e.startsWith('hold')))
    w.exit(w.children[0], null, 'SIGKILL')
    await w.t.runUntil('released', () => w.events.some((e) => e.startsWith('release')))
    await w.t.runUntil('logged', () => w.logged.some((l) => l.line.includes('child killed by SIGKILL')))
    const released = w.events.findIndex((e) => e.startsWith('release'))
    expect(w.logged.find((l) => l.line.includes('child killed by SIGKILL'))!.after).toBeGreaterThan(released)
    w.hub.raise('SIGTERM')
    await w.t.runUntil('stopped', () => w.verdict() !== null)
  })

  it('a command that cannot start is ALERT without a spawn', async () => {
    const w = world({resolvable: false})
    void w.start()
    await w.t.runUntil('ended', () => w.verdict() !== null)
    expect(w.spawns()).toEqual([])
    expect(w.verdict()).toMatchObject({status: 'ALERT', summary: 'gw: could not start: svc: not found in PATH (ENOENT): the command cannot start'})
    expect(w.hub.count()).toBe(0)
  })

  // attack-spare N5: a plain start the kernel refuses at the exec (E2BIG) threw out of the
  // spawner into the dispatch: the supervisor stayed "starting" with no child and no alert.
  // It is reported as `failed` now, and — the same command, the same environment — it can
  // never start: ALERT, the supervisor ends.
  it('a command the kernel refuses at the exec (E2BIG) is ALERT: the command cannot start', async () => {
    const w = world({startFails: 'E2BIG'})
    void w.start()
    await w.t.runUntil('ended', () => w.verdict() !== null)
    expect(w.events.filter((e) => e.startsWith('spawn'))).toEqual(['spawn-failed E2BIG@0'])
    expect(w.verdict()).toMatchObject({status: 'ALERT', summary: expect.stringMatching(/^gw: could not start: svc: E2BIG .*: the command cannot start$/)})
  })
})
