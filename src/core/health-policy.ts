/**
 * The health policy of `medic health`: from observations to problems, from problems to
 * a decision, and the verification after a repair as a step function of `now`.
 * Pure: the ops layer observes, this decides.
 */
import {formatMs} from './duration.js'
import type {ManagerView, ServiceState} from './manager-parse.js'

/** `skipped`: not awaited, because the port is held by a process outside the service. */
export type ProbeKind = 'ok' | 'http-error' | 'refused' | 'timeout' | 'error' | 'skipped'

export interface ProbeResult {
  kind: ProbeKind
  ok: boolean
  status?: number
  ms: number
  detail: string
}

export type ProblemCode = 'RESTART_LOOP' | 'ORPHAN_PROCESS' | 'GATEWAY_DEAD' | 'UNRESPONSIVE' | 'HUNG' | 'ZOMBIE' | 'LOG_PATTERN'

export interface Problem {
  code: ProblemCode
  detail: string
}

export interface ProcFact {
  pid: number
  comm: string
  state: string
}

export interface OwnerFact extends ProcFact {
  /** Inside the service's process tree / cgroup? null when the service's processes are unknown. */
  inService: boolean | null
}

export interface ManagerFact {
  kind: string
  available: boolean
  /** Why it cannot be used (no user bus, docker daemon down, not installed …). */
  reason?: string
  view?: ManagerView
}

export interface HealthObservation {
  probe: ProbeResult
  /** The second probe after a short wait, taken only when the first failed. */
  reprobe?: ProbeResult
  manager: ManagerFact
  restarts: {count: number; sources: string[]}
  loopThreshold: number
  owners: OwnerFact[]
  portListening: boolean
  invisibleOwner: boolean
  /** The service's own processes (main pid and its tree, or its cgroup). */
  serviceProcs: ProcFact[]
  /** --log-pattern: lines matching it since the last run (absent on the first run and when unread). */
  log?: {count: number; threshold: number; source: string; sample: string | null}
}

const DOWN_STATES: ReadonlySet<ServiceState> = new Set(['inactive', 'failed', 'not-found'])

export function probeDown(o: Pick<HealthObservation, 'probe' | 'reprobe'>): boolean {
  return !o.probe.ok && !(o.reprobe?.ok ?? false)
}

const who = (p: ProcFact) => `pid ${p.pid} (${p.comm})`

/**
 * When the port is held by a process known to be outside the service, ORPHAN_PROCESS is
 * certain and a probe would only measure the orphan — one that accepts and never answers
 * costs a probe timeout, a re-probe delay and another timeout (13 s of seed 000's 18 s
 * under a real systemd). The probe is then not awaited: this says why, or null.
 */
export function probeNotNeeded(owners: OwnerFact[], port: number): string | null {
  const outsiders = owners.filter((w) => w.inService === false)
  return outsiders.length ? `not awaited: port ${port} is held by ${outsiders.map(who).join(', ')} outside the service` : null
}

export function skippedProbe(detail: string, ms: number): ProbeResult {
  return {kind: 'skipped', ok: false, ms, detail}
}

/** Every problem found, in a stable order — not only the last, as gateway_health.sh v1 kept. */
export function diagnose(o: HealthObservation): Problem[] {
  const problems: Problem[] = []
  const state = o.manager.view?.state ?? 'unknown'
  const down = probeDown(o)

  if (o.restarts.count > o.loopThreshold) {
    problems.push({code: 'RESTART_LOOP', detail: `${o.restarts.count} restarts in the last hour (threshold ${o.loopThreshold}; ${o.restarts.sources.join(', ')})`})
  }
  const noProcesses = o.manager.view?.noProcesses === true
  const outsiders = o.owners.filter((w) => w.inService === false)
  if (outsiders.length > 0) {
    problems.push({code: 'ORPHAN_PROCESS', detail: `port held by ${outsiders.map(who).join(', ')} outside the service${DOWN_STATES.has(state) || noProcesses ? ` (service ${o.manager.view?.raw})` : ''}`})
  } else if (DOWN_STATES.has(state) && (o.owners.length > 0 || o.invisibleOwner)) {
    const holders = o.owners.length ? o.owners.map(who).join(', ') : 'an invisible process'
    problems.push({code: 'ORPHAN_PROCESS', detail: `service ${o.manager.view?.raw} but the port is held by ${holders}`})
  }
  const hung = [...o.serviceProcs, ...o.owners].filter((p) => p.state === 'D')
  if (down && hung.length > 0) {
    problems.push({code: 'HUNG', detail: `${uniq(hung).map(who).join(', ')} in uninterruptible sleep (D state): cannot be killed until the kernel lets go`})
  }
  const zombies = o.serviceProcs.filter((p) => p.state === 'Z')
  if (zombies.length > 0) {
    problems.push({code: 'ZOMBIE', detail: `${zombies.map(who).join(', ')} exited but was never reaped (zombie)`})
  }
  if (down) {
    const probe = o.reprobe ?? o.probe
    // A manager that says the service has no processes (a unit between restarts) means dead.
    const serviceDown = DOWN_STATES.has(state) || noProcesses || (state === 'unknown' && !o.portListening)
    if (serviceDown) {
      problems.push({code: 'GATEWAY_DEAD', detail: `service down (${o.manager.view ? o.manager.view.raw : 'no process on the port'}); probe ${probe.detail}`})
    } else {
      problems.push({code: 'UNRESPONSIVE', detail: `service ${o.manager.view?.raw ?? 'running'} but the probe failed twice: ${probe.detail}`})
    }
  }
  // Seed 001: /health passed while every reply failed; the log said why.
  if (o.log && o.log.count >= o.log.threshold) {
    problems.push({code: 'LOG_PATTERN', detail: `${o.log.count} new line${o.log.count === 1 ? '' : 's'} matching in ${o.log.source} (threshold ${o.log.threshold})${o.log.sample ? `; last: ${JSON.stringify(o.log.sample)}` : ''}`})
  }
  return problems
}

function uniq(ps: ProcFact[]): ProcFact[] {
  return [...new Map(ps.map((p) => [p.pid, p])).values()]
}

export interface Budget {
  used: number
  max: number
  windowMs: number
  exhausted: boolean
  /** Wall ms when the oldest counted repair leaves the window. */
  freesAt: number | null
}

/** A sliding window over persisted repair times (wall ms). */
export function repairBudget(history: number[], now: number, max: number, windowMs: number): Budget {
  const inWindow = history.filter((t) => t > now - windowMs && t <= now).sort((a, b) => a - b)
  return {used: inWindow.length, max, windowMs, exhausted: inWindow.length >= max, freesAt: inWindow.length ? inWindow[0] + windowMs : null}
}

export type Decision =
  | {kind: 'ok'}
  | {kind: 'alert'; reason: string}
  | {kind: 'plan'}
  | {kind: 'repair'}

export function decide(problems: Problem[], opts: {repair: boolean; dryRun: boolean; manager: ManagerFact; budget: Budget; repairOnLog?: boolean}): Decision {
  if (problems.length === 0) return {kind: 'ok'}
  const hung = problems.find((p) => p.code === 'HUNG')
  if (hung) return {kind: 'alert', reason: `HUNG: ${hung.detail}`}
  // A log line is evidence, not proof that a restart helps: only when asked (--repair-on-log).
  if (!opts.repairOnLog && problems.every((p) => p.code === 'LOG_PATTERN')) return {kind: 'alert', reason: 'no restart without --repair-on-log'}
  if (!opts.repair) return {kind: 'alert', reason: 'repair is off (--no-repair)'}
  if (!opts.manager.available) return {kind: 'alert', reason: `cannot repair: ${opts.manager.reason ?? `manager ${opts.manager.kind} unavailable`}`}
  if (opts.dryRun) return {kind: 'plan'}
  if (opts.budget.exhausted) {
    return {kind: 'alert', reason: `repair budget spent: ${opts.budget.used} repairs in the last ${formatMs(opts.budget.windowMs)} (max ${opts.budget.max})`}
  }
  return {kind: 'repair'}
}

export interface VerifyState {
  deadline: number
  need: number
  streak: number
  probes: number
  last?: ProbeResult
}

export type VerifyStep =
  | {done: false; state: VerifyState}
  | {done: true; ok: boolean; state: VerifyState; reason: string}

export function startVerify(now: number, need: number, timeoutMs: number): VerifyState {
  return {deadline: now + timeoutMs, need, streak: 0, probes: 0}
}

/**
 * One probe after a start. N consecutive passes → verified. A manager that reports the
 * service down again after it was started → crashed right after starting (never
 * RECOVERED). The deadline passing first → not verified.
 */
export function stepVerify(s: VerifyState, probe: ProbeResult, now: number, managerState: ServiceState | null): VerifyStep {
  const state: VerifyState = {...s, probes: s.probes + 1, streak: probe.ok ? s.streak + 1 : 0, last: probe}
  if (managerState === 'failed' || (managerState === 'inactive' && !probe.ok)) {
    return {done: true, ok: false, state, reason: `crashed right after starting (manager says ${managerState})`}
  }
  if (state.streak >= state.need) return {done: true, ok: true, state, reason: `${state.need} consecutive probes passed`}
  if (now >= state.deadline) {
    return {done: true, ok: false, state, reason: `not ${state.need} consecutive passing probes before the deadline (${state.probes} probes, last: ${probe.detail})`}
  }
  return {done: false, state}
}

const HOUR = 3_600_000

/** What `medic health` keeps between runs to count restarts no single look can see. */
export interface RestartMemory {
  owners: {pid: number; startTime: string}[]
  /**
   * Wall ms of the last full look at the port's holders (every process's fds) whose owners
   * are `owners`. Runs within FULL_LOOK_EVERY_MS of it may take the fast look.
   */
  ownersLookedAt?: number
  /** Wall ms at which the set of port owners changed identity between two runs. */
  ownerChanges: number[]
  /** Samples of the managers' lifetime restart counters, to turn them into restarts per hour. */
  counters?: Record<string, {at: number; count: number}[]>
}

/**
 * Restarts in the last hour, from medic's own record (the port owners' identities changing
 * between two runs is a restart that happened without medic, whatever the manager counts)
 * and the manager's figures: an hourly figure (journal) as it is; a lifetime counter
 * (NRestarts, pm2 restart_time, docker RestartCount) against medic's own samples of it an
 * hour ago — a counter that went down was reset. The manager's hourly figure wins over
 * lifetime counters; medic's record is a floor. `now` is wall ms; returns the new memory.
 */
export function countRestarts(memory: RestartMemory, owners: {pid: number; startTime: string}[], managerRestarts: {count: number; source: string}[], now: number): {memory: RestartMemory; count: number; sources: {count: number; source: string}[]} {
  const ids = owners.map((o) => `${o.pid}:${o.startTime}`).sort()
  const before = memory.owners.map((o) => `${o.pid}:${o.startTime}`).sort()
  const changed = before.length > 0 && ids.length > 0 && ids.join() !== before.join()
  const ownerChanges = [...memory.ownerChanges, ...(changed ? [now] : [])].filter((t) => t > now - HOUR)
  const counters = {...(memory.counters ?? {})}
  const hourlyOf = (source: string, count: number): number => {
    const samples = [...(counters[source] ?? []), {at: now, count}].filter((x, i, all) => x.at > now - 2 * HOUR || all.slice(i + 1).every((y) => y.at > now - HOUR))
    counters[source] = samples
    const base = [...samples].reverse().find((x) => x.at <= now - HOUR) ?? samples[0]
    return count >= base.count ? count - base.count : count
  }
  const sources: {count: number; source: string}[] = [
    ...managerRestarts.map((r) => (/last hour|window/.test(r.source) ? r : {count: hourlyOf(r.source, r.count), source: `${r.source.replace(/ \(.*\)$/, '')}, last hour (counter ${r.count})`})),
    {count: ownerChanges.length, source: 'medic: port owner changed between runs, last hour'},
  ]
  const hourly = sources.filter((s) => /last hour|window/.test(s.source))
  const count = Math.max(0, ...hourly.map((s) => s.count))
  return {memory: {owners: ids.length > 0 ? owners.map((o) => ({pid: o.pid, startTime: o.startTime})) : memory.owners, ownerChanges, counters}, count, sources}
}

/**
 * How long a full look at the port's holders stands for the fast look (sys/port-table.ts
 * knownListeners): a holder the fast look cannot see (a socket passed over SCM_RIGHTS, or a
 * forked holder reparented away while its parent lives) is found by the next full look —
 * within this time, or at once when an owner changes, the probe fails or anything else is
 * wrong (fastLookStands).
 */
export const FULL_LOOK_EVERY_MS = 10 * 60_000

/**
 * How long a run on the fast look waits for its first probe before it looks fully anyway:
 * a holder the fast look missed may be one that accepts and never answers, and the full
 * look is what lets the run act on it without waiting out the probe's timeout. A healthy
 * service's probe, sent as the command starts, has answered long before.
 */
export const FAST_LOOK_PROBE_WAIT_MS = 250

/** At most this many recorded owners are proved by the fast look; more (a forged or runaway record) is a full look. */
export const FAST_LOOK_MAX_OWNERS = 64

/**
 * The holders the fast look may start from: the last full look's owners while it is
 * recent; none otherwise (look fully). The whole record or nothing: one owner the fast look
 * cannot prove like the others (pid 1 — systemd's socket activation holds the socket —, a
 * malformed entry) makes it a full look, never a fast look over the rest (which would report
 * a different owner set, counted as a restart).
 */
export function fastLookHolders(memory: RestartMemory, now: number): {pid: number; startTime: string}[] {
  const at = memory.ownersLookedAt
  if (typeof at !== 'number' || !(now - at >= 0 && now - at < FULL_LOOK_EVERY_MS)) return []
  const owners: unknown[] = memory.owners
  if (owners.length === 0 || owners.length > FAST_LOOK_MAX_OWNERS) return []
  const ok = (o: unknown): o is {pid: number; startTime: string} =>
    typeof o === 'object' && o !== null && Number.isInteger((o as {pid: unknown}).pid) && (o as {pid: number}).pid > 1 && typeof (o as {startTime: unknown}).startTime === 'string' && /^\d+$/.test((o as {startTime: string}).startTime)
  if (!owners.every(ok)) return []
  const seen = new Set<string>()
  return owners.filter((o) => !seen.has(`${o.pid}:${o.startTime}`) && seen.add(`${o.pid}:${o.startTime}`)).map((o) => ({pid: o.pid, startTime: o.startTime}))
}

/**
 * Whether the fast look's owners can stand for this run: none known to be outside the
 * service, none the signal gate refuses, the manager neither down nor without processes.
 * The run also needs its probe to pass (ops/health.ts): anything else looks at every
 * process before it diagnoses, so every problem is judged on every holder.
 */
export function fastLookStands(o: {owners: (OwnerFact & {refused?: string})[]; view?: {state: ServiceState; noProcesses?: boolean} | null}): boolean {
  if (o.owners.length === 0 || o.owners.some((w) => w.inService === false || w.refused !== undefined)) return false
  if (o.view && (DOWN_STATES.has(o.view.state) || o.view.noProcesses === true)) return false
  return true
}
