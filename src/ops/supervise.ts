import {JOB_ENV} from '../core/protect.js'
import {initialState, transition, type SupervisorAction, type SupervisorConfig, type SupervisorEvent, type SupervisorState} from '../core/supervisor-machine.js'
import {timerMs} from '../core/duration.js'
import type {SuperviseStateFile} from '../core/supervise-state.js'
import type {KillTarget} from '../core/kill-plan.js'
import type {Verdict} from '../core/verdict.js'
import {CappedLog} from '../sys/capped-log.js'
import type {JobCgroups} from '../sys/cgroup.js'
import {after, every} from '../sys/clock.js'
import {consume, identify, removeJudged, type Seen} from '../sys/file-gate.js'
import type {Prober} from '../sys/probe.js'
import type {Member} from '../sys/signal-gate.js'
import type {SignalHub} from '../sys/signal-hub.js'
import type {Held, Spawner} from '../sys/spawn-job.js'
import {LogFile} from '../sys/log-file.js'
import {writeFileAtomic} from '../sys/state-store.js'
import {cleanup} from './cleanup.js'
import type {ProcessDeps} from '../deps.js'
import {terminate} from './terminate.js'

export interface SuperviseInput {
  name: string
  subject: string
  command: string[]
  env: NodeJS.ProcessEnv
  port: number | null
  healthUrl: string | null
  probeIntervalMs: number
  probeTimeoutMs: number
  graceMs: number
  config: SupervisorConfig
  restartFlag: string | null
  childLog: string
  childLogMax: number
  statePath: string
  pidFile: string
  childPidFile: string | null
  /** Stop by itself at this monotonic time (`--timeout`), or never. */
  deadlineAt: number | null
}

export interface SuperviseDeps extends ProcessDeps {
  prober: Prober
  /** Status lines (a token each) printed while running: stdout. */
  announce: (line: string) => void
  /** The supervisor's state as a verdict after every event, for --metrics-file and --notify. */
  observe?: (v: Verdict, ms: number) => void
  /** Starts the child (its own session and group, in its cgroup) and reports its events; holds a spare of it. */
  spawner: Pick<Spawner, 'resolve' | 'start' | 'hold'>
  /** The cgroup made for the service, where medic can make one. */
  cgroups: JobCgroups
  /** SIGTERM/SIGINT (stop) and SIGHUP (restart) sent to the supervisor. */
  signals: SignalHub
}

/**
 * `medic supervise`: runs the pure state machine against a real child. Events come from
 * the child's exit (at once, no polling), timers, probes, signals and the restart flag;
 * they are handled one at a time, in order.
 */
export async function supervise(input: SuperviseInput, deps: SuperviseDeps): Promise<Verdict> {
  const {clock, procs, selfPid} = deps
  const lock = await deps.locks.acquire(`supervise-${input.name}`, 0, 'supervise')
  if (!lock.acquired) {
    // Without its lock and pid file a second supervisor could start beside it: not started (fail closed).
    if (lock.error) return {subject: input.subject, status: 'ALERT', summary: `${input.name} not started: ${lock.error}`, checks: [], actions: []}
    return {subject: input.subject, status: 'UNKNOWN', summary: `${input.name} is already supervised by medic pid ${lock.owner?.pid ?? '?'}`, checks: [], actions: []}
  }
  const self = procs.get(selfPid)!
  /** The pid files this run wrote, by identity: at exit only those are removed, never a file that replaced one. */
  const written = new Map<string, Seen | null>()
  try {
    // The pid alone, as `kill $(cat FILE)` and the seed's scripts want it; the identity
    // (pid + start time) that medic itself trusts is in the state file.
    writeFileAtomic(input.pidFile, `${selfPid}\n`)
    written.set(input.pidFile, identify(input.pidFile))
  } catch (e) {
    lock.release()
    return {subject: input.subject, status: 'ALERT', summary: `${input.name} not started: cannot write its pid file ${(e as Error).message}`, checks: [], actions: []}
  }

  let state: SupervisorState = initialState(input.config)
  let childId: {pid: number; startTime: string} | null = null
  const out = new CappedLog(input.childLog, input.childLogMax, (why) => log(why))
  const quiet = new LogFile(undefined)
  const wallOf = (mono: number) => clock.wall().getTime() - (clock.now() - mono)
  /** Lines held while a restart is under way, written once the new child is started. */
  let deferred: string[] | null = null
  const log = (line: string) => {
    if (deferred) return void deferred.push(line)
    deps.log.line(`[SUPERVISOR ${input.name}] ${line}`)
    deps.progress(`[SUPERVISOR ${input.name}] ${line}`)
  }
  const flushLog = () => {
    const lines = deferred ?? []
    deferred = null
    for (const l of lines) log(l)
  }
  // The service is every process the child starts, wherever it goes: its process group and
  // session, a cgroup made for it where one can be (root, a delegated subtree), and the
  // MEDIC_JOB mark in the environment. The gate's JobScope reaches exactly those.
  const made = deps.cgroups.make('supervise', input.name, self, (pid, st) => procs.liveness(pid, st) === 'alive')
  const cgroup = made.ok ? made.cgroup : null
  const jobMark = `${selfPid}-${self.startTime}`
  const scope = deps.gate.scope({mark: {name: JOB_ENV, value: jobMark}, cgroup})
  const childEnv: NodeJS.ProcessEnv = {...input.env, [JOB_ENV]: jobMark}
  const tracking = `process group, session, ${JOB_ENV} mark${cgroup ? `, cgroup ${cgroup.path}` : ''}`
  log(`the service's processes are tracked by ${tracking}${made.ok ? '' : ` (no cgroup: ${made.reason})`}`)
  // A root process can leave the cgroup: the kernel's own record of who moved where is
  // what lets the closing verdict say "nothing left" (contract §3.11). Drained often: the
  // buffer is finite.
  const watched = cgroup ? (deps.cgroups.watchEscapes?.(cgroup.path, selfPid) ?? {ok: false as const, reason: 'no tracepoints in this world'}) : null
  const watch = watched?.ok ? watched.watch : null
  const stopDrain = watch ? every(clock, 250, () => watch.drain()) : () => {}
  if (watched && !watched.ok) log(`moves out of cgroup ${cgroup!.path} are not watched: ${watched.reason}`)

  let finish!: (v: Verdict) => void
  const finished = new Promise<Verdict>((r) => (finish = r))
  let cancelWake = () => {}
  let busy = Promise.resolve()
  let exiting = false

  const persist = () => {
    const file: SuperviseStateFile = {
      version: 1, name: input.name,
      supervisor: {pid: selfPid, startTime: self.startTime, cmdline: self.cmdline},
      child: childId, state: state.phase, stable: state.stable, command: input.command, port: input.port, starts: state.starts,
      restarts: state.restarts.map(wallOf),
      budget: {max: input.config.maxRestarts, windowMs: input.config.restartWindowMs, exhausted: state.alert?.startsWith('restart budget') ?? false},
      alert: state.alert, updatedAt: clock.wall().toISOString(),
    }
    try {
      // Atomic, not fsync'd: rewritten after every event, and an fsync's journal commit right
      // after a start slowed the service's own start (bench/supervise.mjs, exec → answering:
      // +20–30 ms under load). After a power loss its supervisor is gone anyway, and a reader
      // takes an unreadable file for no state.
      writeFileAtomic(input.statePath, JSON.stringify(file, null, 2) + '\n', 0o644, {durable: false})
    } catch (e) {
      log(`cannot write ${input.statePath}: ${(e as Error).message}`)
    }
    deps.observe?.({
      subject: input.subject, status: state.alert ? 'ALERT' : 'OK', summary: `${input.name}: ${state.alert ?? state.phase}`, actions: [],
      checks: [{name: 'restart budget', status: file.budget.exhausted ? 'ALERT' : 'OK', detail: `${file.restarts.length} restarts in the window (max ${input.config.maxRestarts})`}],
      extra: {supervisor: {id: `${selfPid}:${self.startTime}`, starts: state.starts}},
    }, 0)
  }

  const dispatch = (e: SupervisorEvent) => {
    busy = busy.then(async () => {
      if (exiting) return
      const t = transition(state, e, clock.now(), input.config)
      state = t.state
      cancelWake()
      if (t.wakeAt !== null) cancelWake = after(clock, timerMs(t.wakeAt - clock.now()), () => dispatch({type: 'tick'}))
      // Stopping: the spare goes first, so the reaps that follow find it like any process of the service.
      if (state.phase === 'stopping' || state.phase === 'stopped' || state.phase === 'fatal' || t.actions.some((a) => a.type === 'exit')) discardSpare()
      // On the way to a start, only what the start needs comes before it: the log lines,
      // the state file (fsync) and the pid file are written after the exec.
      if (t.actions.some((a) => a.type === 'spawn')) deferred ??= []
      try {
        for (const a of t.actions) await perform(a)
      } finally {
        flushLog()
      }
      if (t.actions.some((a) => a.type === 'spawn')) watch?.drain()
      persist()
      if (state.phase === 'running' && state.stable) makeSpare()
    }).catch((err) => log(`internal error: ${(err as Error).stack ?? err}`))
  }

  const perform = async (a: SupervisorAction): Promise<void> => {
    switch (a.type) {
      case 'log':
        return log(a.line)
      case 'alert':
        log(`ALERT ${a.line}`)
        return deps.announce(`${input.subject}_ALERT: ${input.name}: ${a.line}`)
      case 'clear-alert':
        log(a.line)
        return deps.announce(`${input.subject}_OK: ${input.name}: ${a.line}`)
      case 'reap': {
        const r = await reap(input.graceMs)
        if (r.killed.length) log(`the child left ${r.killed.length} process(es) behind: ${r.killed.join(', ')}: terminated`)
        if (r.left.length) log(`ALERT the child left process(es) that could not be stopped: ${describe(r.left)}`)
        return
      }
      case 'free-port': {
        if (input.port === null) return
        // Its own log lines (one per start, "port free") are not written: what it did is in
        // the summary. Its progress comes only from signalling a holder, before the wait for
        // it: the held lines are written then (attack-spare F2); a free port keeps them held.
        const v = await cleanup({ports: [input.port], graceMs: input.graceMs, killWaitMs: 3000, dryRun: false, deadlineAt: null}, {...deps, log: quiet, progress: () => flushLog()})
        if (v.status !== 'OK') log(`before start: ${v.summary}`)
        return
      }
      case 'spawn':
        return startChild()
      case 'terminate':
        return stopChild(a.reason)
      case 'exit': {
        // Verified, not assumed: whatever is still found of the service is named, the
        // whole process table searched; "no process left" only where it can be proven.
        const r = await reap(input.graceMs, true)
        exiting = true
        stopDrain()
        const escaped = watch ? [...watch.escaped()] : [] // the watch drops those that exited
        const dropped = watch ? watch.overrun() : 0
        watch?.close()
        const cg = cgroup && r.left.length === 0 ? ((await deps.cgroups.removeReleased(cgroup, (ms) => clock.sleep(ms))) ? '' : `; cgroup ${cgroup.path} not removed`) : ''
        const extra = {starts: state.starts, restarts: state.restarts.length, left: r.left.map((m) => ({pid: m.pid, comm: m.comm, via: m.via})), escaped: escaped.map(([pid, to]) => ({pid, to}))}
        if (a.code !== 0) return finish({subject: input.subject, status: 'ALERT', summary: `${input.name}: ${a.line ?? 'supervisor failed'}`, checks: [], actions: [], extra})
        if (r.left.length) return finish({subject: input.subject, status: 'ALERT', summary: `${input.name} supervisor stopped; ${r.left.length} process(es) of the service still running: ${describe(r.left)}`, checks: [], actions: [], extra})
        if (escaped.length) return finish({subject: input.subject, status: 'ALERT', summary: `${input.name} supervisor stopped; ${escaped.length} process(es) of the service left its cgroup ${cgroup!.path} and may still run: ${escaped.slice(0, 5).map(([pid, to]) => `pid ${pid} (moved to ${to})`).join(', ')}`, checks: [], actions: [], extra})
        const unproven = !cgroup
          ? `without a cgroup (${made.ok ? '' : made.reason}) a process that left the service's session and cleared its environment cannot be found`
          : !watch ? `moves out of cgroup ${cgroup.path} were not watched (${watched && !watched.ok ? watched.reason : ''})`
          : dropped !== 0 ? `the kernel dropped ${dropped < 0 ? 'an unknown number of' : dropped} trace event(s), so a move out of cgroup ${cgroup.path} may have gone unseen`
          : null
        if (unproven) return finish({subject: input.subject, status: 'ALERT', summary: `${input.name} supervisor stopped; cannot verify that no process of the service is left: ${unproven}; none found by ${tracking}`, checks: [], actions: [], extra})
        return finish({subject: input.subject, status: 'OK', summary: `${input.name} supervisor stopped; no process of the service left (checked: ${tracking}, and that none left the cgroup)${cg}`, checks: [], actions: [], extra})
      }
    }
  }

  const describe = (ms: Member[]) => ms.slice(0, 5).map((m) => `pid ${m.pid} (${m.comm}, by ${m.via})`).join(', ') + (ms.length > 5 ? ` and ${ms.length - 5} more` : '')

  /**
   * TERM → grace → KILL to every process of the service, each by identity through the
   * gate's JobScope; then KILL rounds for whatever forked meanwhile — with the cgroup
   * frozen, where there is one, so nothing can fork between the listing and the kill.
   * Returns what was terminated and what is left (refused, unkillable).
   */
  const reap = async (graceMs: number, thorough = false): Promise<{killed: string[]; left: Member[]}> => {
    const killed: string[] = []
    // The escape watch's record is read in order whenever it is drained; on the restart path
    // it waits until the new child is started (a drain parses every fork and exit on the host
    // since the last one), and the closing reap reads it first.
    if (thorough) watch?.drain()
    // The spare is medic's own, held before its exec: never a leftover while it is kept.
    const members = () => scope.members({thorough}).filter((m) => !(spare?.id && m.pid === spare.id.pid && m.startTime === spare.id.startTime))
    for (let round = 0; round < 6; round++) {
      const found = members()
      if (found.length === 0) return {killed, left: []}
      // Leftovers: this restart waits out their grace anyway. What is known (why the child
      // ended) is written now, before the signals and the wait, not held until the next
      // start — lost if medic dies meanwhile (attack-spare F2).
      flushLog()
      const frozen = round > 0 && scope.freeze(true)
      const targets: KillTarget[] = found.map((m) => ({pid: m.pid, startTime: m.startTime, label: `pid ${m.pid} (${m.comm}, by ${m.via})`}))
      let r
      try {
        r = await terminate(targets, {graceMs: round === 0 ? graceMs : 0, killWaitMs: 3000, deadlineAt: null, t0: clock.now(), via: scope.send}, {...deps, progress: () => {}})
      } finally {
        if (frozen) scope.freeze(false)
      }
      for (const t of r.plan.targets) if (t.phase === 'gone' && t.target.pid !== childId?.pid && t.target.pid !== spentSpare) killed.push(t.target.label)
      // Nothing more to gain when every target was refused or survived a SIGKILL.
      if (r.plan.targets.every((t) => t.phase === 'denied' || t.phase === 'survived')) break
    }
    return {killed, left: members()}
  }

  /**
   * A spare of the child, made once a run is stable (one per run), where the service has a
   * cgroup: forked and put in the cgroup now, held before its exec (spawner.hold). The next
   * start — after the leftovers are reaped and the port checked, as for any start —
   * releases it instead of forking: the cgroup migration, which waits out an RCU grace
   * period (~10 ms, more under load), and node's fork are then not on the restart path.
   * A stop discards it (it exits without running the command, as it does when medic dies).
   */
  interface Spare {
    held: Held
    id: {pid: number; startTime: string} | null
    /** The child's exit, once released. */
    exited: ((code: number | null, signal: NodeJS.Signals | null) => void) | null
  }
  let spare: Spare | null = null
  /**
   * Set the moment a stop is received (SIGTERM, SIGINT, --timeout), before its event waits
   * its turn behind a restart under way (a reap's grace, the port): no child is started
   * after it — the spare is discarded unrun (attack-spare F1).
   */
  let stopAsked = false
  let spareFor = -1
  /** The last spare discarded: found by a reap, it is not named as a leftover. */
  let spentSpare: number | null = null
  const makeSpare = () => {
    if (spare || !cgroup || spareFor === state.starts) return
    spareFor = state.starts
    let s: Spare | null = null
    const held = deps.spawner.hold({argv: input.command, env: childEnv, cgroup, output: true}, {
      output: (d) => out.write(d),
      spawned: () => {},
      failed: (err) => {
        if (s && spare === s) spare = null
        log(`no spare child: ${err.code ?? err.message}`)
      },
      exited: (code, signal) => {
        if (s?.exited) return s.exited(code, signal)
        if (s && spare === s) spare = null
      },
    })
    const st = held.pid !== undefined ? procs.stat(held.pid) : null
    s = {held, id: st ? {pid: st.pid, startTime: st.startTime} : null, exited: null}
    spare = s
  }
  const discardSpare = () => {
    const s = spare
    if (!s) return
    spare = null
    spentSpare = s.id?.pid ?? null
    s.held.discard()
  }
  /**
   * The spare, when it can run the command: alive and held. Its shim may still be on its
   * way into the cgroup: it joins before it reads the release, so the command still starts
   * inside (and adopt() joins it from here too, as for a plain spawn).
   */
  const takeSpare = (): {pid: number; startTime: string} | null => {
    const s = spare
    if (!s) return null
    const st = s.id ? procs.stat(s.id.pid) : null
    if (!s.id || !st || st.startTime !== s.id.startTime || st.state === 'Z') {
      discardSpare()
      return null
    }
    spare = null
    s.exited = childExited
    s.held.release()
    return s.id
  }

  const childExited = (code: number | null, signal: NodeJS.Signals | null) => {
    childId = null
    dispatch({type: 'exited', code, signal})
  }
  const childSpawned = (pid: number, how: string) => {
    childId = scope.adopt(pid) ?? {pid, startTime: procs.stat(pid)?.startTime ?? ''}
    if (input.childPidFile) {
      try {
        writeFileAtomic(input.childPidFile, `${pid}\n`, 0o644, {durable: false})
        written.set(input.childPidFile, identify(input.childPidFile))
      } catch (e) {
        log(`child pid file not written: ${(e as Error).message}`)
      }
    }
    log(`started child pid ${pid}${how}: ${input.command.join(' ')}`)
    dispatch({type: 'spawned'})
  }

  const startChild = () => {
    if (stopAsked) {
      // The queued stop comes first (phase stopping), so this ends the supervisor: stopped.
      discardSpare()
      return dispatch({type: 'spawn-failed', error: 'a stop was received before its start', permanent: false})
    }
    // A program that is not there is known before spawning (through the cgroup shim it would only be an exit 127).
    const prog = deps.spawner.resolve(input.command[0], childEnv.PATH)
    if (!prog.ok) {
      discardSpare()
      return dispatch({type: 'spawn-failed', error: prog.reason, permanent: true})
    }
    const ready = takeSpare()
    if (ready) return childSpawned(ready.pid, ' (its spare, started ahead)')
    deps.spawner.start({argv: input.command, env: childEnv, cgroup, output: true}, {
      output: (d) => out.write(d),
      spawned: (pid) => childSpawned(pid, ''),
      // E2BIG (the command and its environment over ARG_MAX) fails the same way every time.
      failed: (err) => dispatch({type: 'spawn-failed', error: `${input.command[0]}: ${err.code ?? err.message}${err.code === 'E2BIG' ? ' (its arguments and environment are longer than the kernel takes)' : ''}`, permanent: err.code === 'ENOENT' || err.code === 'EACCES' || err.code === 'E2BIG'}),
      exited: childExited,
    })
  }

  /** Stops the child and everything of the service with it. */
  const stopChild = async (reason: string) => {
    const r = await reap(input.graceMs)
    log(`${reason}: ${r.killed.length ? `terminated ${r.killed.join(', ')}` : 'the child and its processes stopped'}${r.left.length ? `; still running: ${describe(r.left)}` : ''}`)
  }

  // Probes: the service answering, and the child not stuck in D state.
  const stopProbes = every(clock, timerMs(input.probeIntervalMs), async () => {
    if (state.phase !== 'running' || !childId) return
    const st = procs.stat(childId.pid)
    if (st && (st.state === 'D' || st.state === 'Z')) return dispatch({type: 'probe', ok: false, detail: `child in ${st.state} state`})
    if (!input.healthUrl && input.port === null) return
    const p = input.healthUrl ? await deps.prober.http(input.healthUrl, input.probeTimeoutMs, [200, 399]) : await deps.prober.tcp('127.0.0.1', input.port!, input.probeTimeoutMs)
    dispatch({type: 'probe', ok: p.ok, detail: p.detail})
  })

  // The restart flag is consumed once: removed, then acted on.
  const flag = input.restartFlag
  const stopFlag = flag
    ? every(clock, 1000, () => {
        try {
          if (!consume(flag)) return // absent, or someone else consumed it
        } catch {
          return // a folder the file gate refuses (another user's symlink on the way): never acted on
        }
        dispatch({type: 'restart', reason: `restart flag ${flag}`})
      })
    : () => {}

  const stop = (reason: string) => {
    stopAsked = true
    dispatch({type: 'stop', reason})
  }
  const unsubscribe = deps.signals.subscribe((sig) => (sig === 'SIGHUP' ? dispatch({type: 'restart', reason: 'received SIGHUP'}) : stop(`received ${sig}`)))
  const stopDeadline = input.deadlineAt !== null ? after(clock, timerMs(input.deadlineAt - clock.now()), () => stop('--timeout reached')) : () => {}

  dispatch({type: 'start'})
  const verdict = await finished
  unsubscribe()
  stopProbes()
  stopFlag()
  cancelWake()
  stopDeadline()
  persist()
  for (const [f, seen] of written) {
    try {
      if (seen) removeJudged(f, seen)
    } catch {}
  }
  lock.release()
  return verdict
}

