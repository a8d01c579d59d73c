import {formatMs} from '../core/duration.js'
import type {PerfDatum} from '../core/perfdata.js'
import {describeSource, type LogPosition, type LogSourceSpec} from '../core/log-match.js'
import {countRestarts, decide, diagnose, FAST_LOOK_PROBE_WAIT_MS, fastLookStands, probeDown, probeNotNeeded, repairBudget, skippedProbe, startVerify, stepVerify, type HealthObservation, type OwnerFact, type Problem, type ProbeResult, type ProcFact, type RestartMemory} from '../core/health-policy.js'
import {unavailableText} from '../core/manager-parse.js'
import {describeProc} from '../core/protect.js'
import {foreignSocket, STATE_NAMES} from '../core/proc-parse.js'
import {worstOf, type Action, type Check, type Status, type Verdict} from '../core/verdict.js'
import type {LogSource} from '../sys/log-source.js'
import type {ManagerStatus, ServiceManager} from '../sys/managers.js'
import type {PortListeners} from '../sys/port-table.js'
import type {Prober} from '../sys/probe.js'
import {after} from '../sys/clock.js'
import {readJson, writeFileAtomic} from '../sys/state-store.js'
import {probeService, type HealthState} from './health-early.js'
import type {ProcessDeps} from '../deps.js'
import {restartService} from './restart.js'

export {probeService}

export interface HealthInput {
  name: string
  subject: string
  /** null with `--tcp`: a TCP connect to host:port is the probe. */
  url: string | null
  host: string
  port: number
  probeTimeoutMs: number
  healthy: [number, number]
  reprobeDelayMs: number
  loopThreshold: number
  repair: boolean
  dryRun: boolean
  verifyProbes: number
  verifyTimeoutMs: number
  verifyIntervalMs: number
  maxRepairs: number
  repairWindowMs: number
  graceMs: number
  lockWaitMs: number
  deadlineAt: number | null
  statePath: string
  /**
   * The port's socket table, asked for as the command starts so that the spawn of ss
   * overlaps the set-up (~10–20 ms of a healthy run). Used only by a run that did not
   * wait for the lock; one that waited looks again.
   */
  listenersAhead?: Promise<PortListeners>
  /** The first probe, sent as the command starts for the same reason (probeService); a run that waited for the lock probes again. */
  probeAhead?: Promise<ProbeResult>
  /** --log-pattern: count matching lines since the last run; restart on them only with repairOnLog. */
  log: {source: LogSourceSpec; pattern: RegExp; threshold: number; repairOnLog: boolean; timeoutMs: number} | null
}

export interface HealthDeps extends ProcessDeps {
  prober: Prober
  manager: ServiceManager
  /** What `--manager auto` tried before it settled. */
  detected: string[] | null
  logs?: LogSource
}

/** The text each state was read from: a run that changed nothing does not rewrite it (an fsync and a rename). */
const readAs = new WeakMap<HealthState, string>()

function loadState(path: string): HealthState {
  const s = readJson<HealthState>(path)
  if (!s || s.version !== 1) return {version: 1, owners: [], ownerChanges: [], repairs: [], lastRepair: null}
  readAs.set(s, stateText(s))
  return s
}

function stateText(state: HealthState): string {
  return JSON.stringify(state, null, 2) + '\n'
}

/**
 * `medic health`: probe, diagnose, repair (stop → free the port → start → verify), verdict.
 * One run at a time per service (a lock); a repair budget persisted across runs.
 */
export async function health(input: HealthInput, deps: HealthDeps): Promise<Verdict> {
  const {clock} = deps
  const t0 = clock.now()
  const startedWall = clock.wall().getTime()
  const at = () => Math.round(clock.now() - t0)
  const actions: Action[] = []
  const details: string[] = []
  const log = (line: string) => deps.log.line(`[${input.name}] ${line}`)
  const perf: PerfDatum[] = []
  const base = {subject: input.subject, actions, details, perf}

  // 1. One run at a time per service. A run that had to wait reports what the other did.
  // A lock that cannot be written at all (read-only or full state dir) still lets medic
  // look, but never repair: the lock and the budget are what keep a repair safe.
  let release = () => {}
  let waited = false
  let stateProblem: string | null = null
  let lock = await deps.locks.acquire(`health-${input.name}`, 0, 'health')
  if (!lock.acquired && !lock.error) {
    waited = true
    deps.progress(`another medic health (pid ${lock.owner?.pid ?? '?'}) is checking ${input.name}; waiting up to ${formatMs(input.lockWaitMs)}`)
    deps.progress.step?.(`waiting for medic pid ${lock.owner?.pid ?? '?'} to finish with ${input.name}`)
    lock = await deps.locks.acquire(`health-${input.name}`, input.lockWaitMs, 'health')
    deps.progress.step?.()
  }
  if (lock.acquired) release = lock.release
  else if (lock.error) {
    stateProblem = lock.error
    details.push(`no lock: ${lock.error}; checking only`)
  } else {
    return {...base, status: 'UNKNOWN', summary: `a repair of ${input.name} by medic pid ${lock.owner?.pid ?? '?'} is in progress; not waiting longer`, checks: []}
  }

  try {
    const state = loadState(input.statePath)
    const obs = await observe(input, deps, state, details, waited ? {} : {listeners: input.listenersAhead, probe: input.probeAhead})
    perf.push(...healthPerf(input, obs.observation))
    const problems = diagnose(obs.observation)
    const checks = obs.checks
    checks.push({name: 'problems', status: problems.length ? 'ALERT' : 'OK', detail: problems.length ? problems.map((p) => `${p.code}: ${p.detail}`).join('; ') : 'none'})
    log(`check: ${problems.length ? problems.map((p) => p.code).join(', ') : 'healthy'}; probe ${obs.observation.probe.detail}; manager ${obs.managerText}`)
    const extra = {name: input.name, manager: deps.manager.kind, problems, dryRun: input.dryRun}

    // 2. Someone else repaired while we waited: no second repair.
    const other = state.lastRepair
    if (waited && other && other.finishedAt >= startedWall && other.by !== deps.selfPid) {
      saveState(input.statePath, state, deps)
      if (problems.length === 0) return {...base, status: 'OK', checks, extra, summary: `${input.name} healthy; repaired by concurrent medic pid ${other.by} ${formatMs(startedWall + at() - other.finishedAt)} ago`}
      return {...base, status: 'ALERT', checks, extra, summary: `${codes(problems)}: a concurrent repair (medic pid ${other.by}) ended ${other.status.toLowerCase()}: ${other.summary}`}
    }

    const budget = repairBudget(state.repairs, clock.wall().getTime(), input.maxRepairs, input.repairWindowMs)
    checks.push({name: 'repair budget', status: budget.exhausted ? 'ALERT' : 'OK', detail: `${budget.used}/${budget.max} repairs in the last ${formatMs(budget.windowMs)}`})
    const decision = decide(problems, {repair: input.repair, dryRun: input.dryRun, manager: obs.observation.manager, budget, repairOnLog: input.log?.repairOnLog})

    if (decision.kind === 'ok') {
      saveState(input.statePath, state, deps)
      const blind = checks.find((c) => c.name === 'log' && c.status === 'UNKNOWN')
      if (blind) return {...base, status: 'UNKNOWN', checks, extra, summary: `${input.name} answers, but its log could not be read: ${blind.detail}`}
      return {...base, status: 'OK', checks, extra, summary: `${input.name} healthy: ${obs.observation.probe.detail}; ${obs.managerText}`}
    }
    if (decision.kind === 'alert') {
      saveState(input.statePath, state, deps)
      log(`alert: ${decision.reason}`)
      return {...base, status: 'ALERT', checks, extra, summary: `${codes(problems)}: ${decision.reason}; ${problemHeadline(problems)}`}
    }
    if (decision.kind === 'plan') {
      details.push(...planLines(input, deps, obs.owners))
      saveState(input.statePath, state, deps)
      return {...base, status: 'ALERT', checks, extra, summary: `${codes(problems)}: dry run, would stop, free port ${input.port}, start and verify; ${problemHeadline(problems)}`}
    }

    // 3. Repair. Counted against the budget before acting, so a crash mid-repair still
    // counts — and a budget that cannot be recorded means no repair (fail closed).
    const refuse = (why: string): Verdict => {
      log(`not repairing: ${why}`)
      checks.push({name: 'state', status: 'ALERT', detail: why})
      return {...base, status: 'ALERT', checks, extra, summary: `${codes(problems)}: not repaired: ${why}; ${problemHeadline(problems)}`}
    }
    if (stateProblem) return refuse(stateProblem)
    if (input.deadlineAt !== null && clock.now() >= input.deadlineAt) return refuse(`--timeout reached before the repair could start`)
    state.repairs = [...state.repairs.filter((t) => t > clock.wall().getTime() - input.repairWindowMs), clock.wall().getTime()]
    try {
      writeFileAtomic(input.statePath, JSON.stringify(state, null, 2) + '\n')
    } catch (e) {
      return refuse(`cannot record the repair budget: ${(e as Error).message}`)
    }
    const r = await repair(input, deps, obs.managerStatus, problems, actions, at, log)
    const status: Status = r.ok ? 'RECOVERED' : 'ALERT'
    const summary = r.ok ? `${codes(problems)}: ${r.story}; restarted and verified in ${formatMs(at())}` : `${codes(problems)}: repair failed: ${r.reason}; ${problemHeadline(problems)}`
    checks.push({name: 'verify', status: r.ok ? 'RECOVERED' : 'ALERT', detail: r.reason})
    state.lastRepair = {by: deps.selfPid, startedAt: startedWall, finishedAt: clock.wall().getTime(), status, summary}
    // The owners right after our own repair are the new baseline, not a restart to count.
    const after = await deps.ports.listeners(input.port)
    state.owners = after.pids.map((pid) => ({pid, startTime: deps.procs.stat(pid)?.startTime ?? ''}))
    state.ownersLookedAt = clock.wall().getTime()
    // What the old process logged before the restart is not counted against the new one.
    if (input.log && deps.logs) state.log = (await deps.logs.read(input.log.source, undefined, input.log.pattern, input.log.timeoutMs)).position
    saveState(input.statePath, state, deps) // after acting: best effort, the verdict is what happened
    log(`${status === 'RECOVERED' ? 'recovered' : 'repair failed'}: ${r.reason}`)
    return {...base, status, checks, extra, summary}
  } finally {
    release()
  }
}

/** --perfdata: the probe's time (critical at its timeout), restarts in the last hour (critical past the loop threshold), log matches. */
function healthPerf(input: HealthInput, o: HealthObservation): PerfDatum[] {
  const probe = o.reprobe ?? o.probe
  return [
    ...(probe.kind === 'skipped' ? [] : [{label: 'probe', value: probe.ms, uom: 'ms' as const, crit: input.probeTimeoutMs, min: 0}]),
    {label: 'restarts_1h', value: o.restarts.count, crit: input.loopThreshold, min: 0},
    ...(o.log ? [{label: 'log_matches', value: o.log.count, crit: `~:${o.log.threshold - 1}`, min: 0}] : []),
  ]
}

function codes(problems: Problem[]): string {
  return problems.map((p) => p.code).join('+')
}

function problemHeadline(problems: Problem[]): string {
  const p = problems.find((x) => x.code === 'ORPHAN_PROCESS') ?? problems[0]
  return p.detail
}

function saveState(path: string, state: HealthState, deps: ProcessDeps): void {
  const text = stateText(state)
  if (readAs.get(state) === text) return
  try {
    writeFileAtomic(path, text)
  } catch (e) {
    deps.progress(`cannot write ${path}: ${(e as Error).message}`)
  }
}

interface Observed {
  observation: HealthObservation
  checks: Check[]
  owners: (OwnerFact & {startTime: string; refused?: string; cmdline: string[]})[]
  managerStatus: ManagerStatus
  managerText: string
}

/** The probe's result if it comes within `ms`, else null (the probe goes on). */
function probeWithin(probing: Promise<ProbeResult>, ms: number, deps: HealthDeps): Promise<ProbeResult | null> {
  return new Promise((resolve) => {
    const cancel = after(deps.clock, ms, () => resolve(null))
    void probing.then((p) => {
      cancel()
      resolve(p)
    })
  })
}

async function probeOnce(input: HealthInput, deps: HealthDeps): Promise<ProbeResult> {
  return probeService(deps.prober, input)
}

async function observe(input: HealthInput, deps: HealthDeps, state: HealthState, details: string[], ahead: {listeners?: Promise<PortListeners>; probe?: Promise<ProbeResult>}): Promise<Observed> {
  const t = deps.clock.now()
  const target = input.url ?? `tcp ${input.host}:${input.port}`
  deps.progress.step?.(`probing ${target}`)
  const first: {done: ProbeResult | null} = {done: null}
  const probing = (ahead.probe ?? probeOnce(input, deps)).then((p) => (first.done = p))
  const reading = input.log && deps.logs ? deps.logs.read(input.log.source, state.log, input.log.pattern, input.log.timeoutMs) : null
  const [managerStatus, listenersFirst, logRead] = await Promise.all([deps.manager.status(), ahead.listeners ?? deps.ports.listeners(input.port), reading])
  let listeners = listenersFirst
  const view = managerStatus.view
  const servicePids = managerStatus.available || view ? deps.manager.servicePids(view) : null
  const serviceSet = servicePids ? new Set(servicePids) : null
  const ownersOf = (l: PortListeners): Observed['owners'] => {
    const found: Observed['owners'] = []
    for (const pid of l.pids) {
      const seen = deps.gate.inspect(pid)
      if (!seen) continue
      const p = seen.proc
      const refusal = seen.refusal ?? ((why) => (why ? {reason: why} : null))(foreignSocket(l.sockets, pid, deps.procs.realUid(pid)))
      found.push({pid, comm: p.comm, state: p.state, startTime: p.startTime, cmdline: p.cmdline, inService: serviceSet ? serviceSet.has(pid) : null, ...(refusal ? {refused: refusal.reason} : {})})
    }
    return found
  }
  let owners = ownersOf(listeners)
  // The fast look (the last full look's holders, still holding the socket) stands only in a
  // run that finds nothing wrong with them and whose probe passes within a short wait; any
  // other run looks at every process before it diagnoses (core/health-policy.ts).
  if (listeners.via === 'known' && !(fastLookStands({owners, view}) && (first.done ?? (await probeWithin(probing, FAST_LOOK_PROBE_WAIT_MS, deps)))?.ok === true)) {
    listeners = await deps.ports.listeners(input.port)
    owners = ownersOf(listeners)
  }
  if (listeners.via !== 'known' && listeners.pids.length > 0) state.ownersLookedAt = deps.clock.wall().getTime()
  // The port's holder is known to be outside the service: act now, do not wait out the
  // probe timeouts against an orphan that accepts and never answers.
  const skip = probeNotNeeded(owners, input.port)
  let probe: ProbeResult
  let reprobe: ProbeResult | undefined
  if (skip && !first.done) probe = skippedProbe(skip, Math.round(deps.clock.now() - t))
  else {
    probe = first.done ?? (await probing)
    if (!probe.ok && !skip) {
      // gateway_health.sh v4's rule: one failed probe is not yet a verdict.
      deps.progress.step?.(`${target}: ${probe.detail}; probing again in ${formatMs(input.reprobeDelayMs)}`)
      // …but waits no longer than --timeout leaves (the re-probe is then cut at the deadline too).
      await deps.clock.sleep(input.deadlineAt === null ? input.reprobeDelayMs : Math.min(input.reprobeDelayMs, input.deadlineAt - deps.clock.now()))
      deps.progress.step?.(`probing ${target} again`)
      reprobe = await probeOnce(input, deps)
    }
  }
  deps.progress.step?.()
  const serviceProcs: ProcFact[] = (servicePids ?? []).map((pid) => deps.procs.stat(pid)).filter((s) => s !== null).map((s) => ({pid: s!.pid, comm: s!.comm, state: s!.state}))

  // Restarts in the last hour: the manager's figures and medic's own record of the port's owners.
  const counted = countRestarts(state, owners, view?.restarts ?? [], deps.clock.wall().getTime())
  Object.assign(state, counted.memory)
  const {count, sources} = counted

  const observation: HealthObservation = {
    probe, ...(reprobe ? {reprobe} : {}),
    manager: {kind: deps.manager.kind, available: managerStatus.available, ...(managerStatus.available ? {} : {reason: unavailableText(deps.manager, managerStatus.reason)}), ...(view ? {view} : {})},
    restarts: {count, sources: sources.map((s) => `${s.source}: ${s.count}`)},
    loopThreshold: input.loopThreshold,
    owners,
    portListening: listeners.listening,
    invisibleOwner: listeners.invisible,
    serviceProcs,
    ...(logRead && !logRead.baseline && !logRead.error ? {log: {count: logRead.count, threshold: input.log!.threshold, source: describeSource(input.log!.source), sample: logRead.sample}} : {}),
  }
  if (logRead) state.log = logRead.position
  const managerText = managerStatus.available
    ? `${deps.manager.label} ${view?.raw ?? ''}`.trim()
    : unavailableText(deps.manager, managerStatus.reason)
  const down = probeDown(observation)
  const checks: Check[] = [
    {name: 'probe', status: down ? 'ALERT' : 'OK', detail: `${input.url ?? `tcp ${input.host}:${input.port}`}: ${probe.detail}${reprobe ? `; re-probe after ${formatMs(input.reprobeDelayMs)}: ${reprobe.detail}` : ''}`},
    {name: 'manager', status: managerStatus.available ? (view && ['failed', 'inactive'].includes(view.state) ? 'ALERT' : 'OK') : 'UNKNOWN', detail: `${managerText}${deps.detected ? ` [auto: ${deps.detected.length ? `tried ${deps.detected.join('; ')}` : 'first candidate'}]` : ''}`},
    {name: 'restarts', status: count > input.loopThreshold ? 'ALERT' : 'OK', detail: `${count} in the last hour (threshold ${input.loopThreshold}); ${sources.map((s) => `${s.source}: ${s.count}`).join('; ')}`},
    {
      name: `port ${input.port}`,
      status: owners.some((o) => o.inService === false) || listeners.invisible || (owners.length > 0 && ['inactive', 'failed', 'not-found'].includes(view?.state ?? '')) ? 'ALERT' : 'OK',
      detail: owners.length
        ? owners.map((o) => `pid ${o.pid} (${o.comm}, ${STATE_NAMES[o.state] ?? o.state})${o.inService === false ? ' outside the service' : o.inService ? ' in the service' : ''}`).join(', ')
        : listeners.invisible ? 'held by an invisible process' : 'no listener',
    },
    {name: 'processes', status: serviceProcs.some((p) => p.state === 'D' || p.state === 'Z') ? 'ALERT' : 'OK', detail: serviceProcs.length ? serviceProcs.map((p) => `${p.pid} ${p.comm} ${p.state}`).join(', ') : servicePids ? `none (${deps.manager.label} ${view?.raw ?? ''})`.trim() : 'service processes unknown'},
  ]
  if (logRead) {
    const where = describeSource(input.log!.source)
    checks.push({
      name: 'log', status: logRead.error ? 'UNKNOWN' : logRead.count >= input.log!.threshold ? 'ALERT' : 'OK',
      detail: logRead.error ? `${where}: ${logRead.error}` : logRead.baseline ? `${where}: first run, position taken; lines from now on are counted` : `${logRead.count} matching line(s) in ${where} since the last run (threshold ${input.log!.threshold})${logRead.note ? `; ${logRead.note}` : ''}`,
    })
  }
  for (const o of owners) details.push(`port ${input.port} owner pid ${o.pid}: ${describeProc(o)}${o.refused ? ` [never signalled: ${o.refused}]` : ''}`)
  return {observation, checks, owners, managerStatus, managerText}
}

function planLines(input: HealthInput, deps: HealthDeps, owners: Observed['owners']): string[] {
  return [
    `plan: stop via ${deps.manager.label}`,
    ...owners.map((o) => (o.refused ? `plan: leave pid ${o.pid} (${o.comm}): ${o.refused} → ALERT` : `plan: SIGTERM+SIGCONT pid ${o.pid} (${o.comm}), SIGKILL after ${formatMs(input.graceMs)}`)),
    `plan: start via ${deps.manager.label}`,
    `plan: verify ${input.verifyProbes} consecutive passing probes within ${formatMs(input.verifyTimeoutMs)}`,
  ]
}

async function repair(
  input: HealthInput, deps: HealthDeps, status: ManagerStatus, problems: Problem[], actions: Action[], at: () => number, log: (l: string) => void,
): Promise<{ok: boolean; reason: string; story: string}> {
  const stateNow = status.view?.state
  const r = await restartService({manager: deps.manager, alreadyDown: stateNow === 'inactive' || stateNow === 'not-found', port: input.port, graceMs: input.graceMs, deadlineAt: input.deadlineAt, t0: deps.clock.now() - at()}, deps, log)
  actions.push(...r.actions)
  if (!r.ok) return {ok: false, reason: r.reason, story: ''}
  const orphan = problems.some((p) => p.code === 'ORPHAN_PROCESS')
  const story = r.freed.length ? `port ${input.port} held by ${orphan ? 'orphan ' : ''}${r.freed.join(', ')}; freed` : problemHeadline(problems)
  // verify
  deps.progress.step?.(`verifying ${input.url ?? `tcp ${input.host}:${input.port}`}: ${input.verifyProbes} passing probe(s) in a row, within ${formatMs(input.verifyTimeoutMs)}`)
  let v = startVerify(deps.clock.now(), input.verifyProbes, Math.min(input.verifyTimeoutMs, input.deadlineAt === null ? Infinity : input.deadlineAt - deps.clock.now()))
  for (;;) {
    const probe = await probeOnce(input, deps)
    const ms = await deps.manager.status()
    const step = stepVerify(v, probe, deps.clock.now(), ms.available ? (ms.view?.state ?? null) : null)
    v = step.state
    if (step.done) {
      deps.progress.step?.()
      actions.push({action: 'verify', target: input.url ?? `tcp ${input.host}:${input.port}`, result: step.ok ? `ok: ${step.reason}` : `failed: ${step.reason}`, ms: at()})
      return step.ok ? {ok: true, reason: step.reason, story} : {ok: false, reason: step.reason, story: ''}
    }
    await deps.clock.sleep(Math.max(0, Math.min(input.verifyIntervalMs, v.deadline - deps.clock.now())))
  }
}
