import {formatMs} from '../core/duration.js'
import {DEV_ENV_FLAG, type Limits, type Mode} from '../core/guard-config.js'
import {assess, commit, decide, initialState, reniceFor, stepLine, type Decision, type GuardState, type HostSample, type Outcome, type Reading, type Step} from '../core/guard-ladder.js'
import {classify, describe, offends, rank, RESOURCES, type ProcSample, type Ranking, type Resource, type Scope} from '../core/guard-rank.js'
import {resourceStatus, statusLines} from '../core/guard-status.js'
import {JOB_ENV} from '../core/protect.js'
import type {GuardAction} from '../core/trace.js'
import {worstOf, type Action, type Check, type Status, type Verdict} from '../core/verdict.js'
import type {Clock} from '../sys/clock.js'
import type {GuardSampler, ProcFacts} from '../sys/guard-sampler.js'
import type {LogFile} from '../sys/log-file.js'
import type {ProcessTable} from '../sys/proc-table.js'
import type {SignalGate} from '../sys/signal-gate.js'
import {watchLoop} from './watch-loop.js'

/**
 * `medic guard`: resource_protector.py's job, done so it can never kill the job it
 * protects. Each sample reads the kernel's numbers (PSI, MemAvailable, /proc/stat, statfs);
 * only when a resource is over its limit is the process table read, the offenders ranked
 * and the ladder stepped (core/guard-ladder.ts). Every renice and signal goes through the
 * signal gate, after a last look at the process (identity, owner, protection), so a
 * process protected between the sample and the act, or a pid reused, is never touched.
 * Dry run unless --enforce.
 */

export interface GuardInput {
  mode: Mode
  limits: Limits
  configPath: string | null
  enforce: boolean
  /** null: one pass. */
  watchMs: number | null
  /** The CPU window of the first sample. */
  sampleMs: number
  hysteresis: number
  graceMs: number
  killsPerHour: number
  diskPaths: string[]
  devPatterns: RegExp[]
  daemonPatterns: RegExp[]
  /** --match (the gate checks it too). */
  match?: RegExp | null
}

export interface GuardStore {
  /** One pass: the state between runs; --watch keeps it in memory. */
  read(): GuardState
  /** Throws when it cannot be written. */
  write(state: GuardState): void
  record(a: GuardAction & Record<string, unknown>): void
}

export interface GuardDeps {
  clock: Clock
  sampler: GuardSampler
  gate: SignalGate
  procs: ProcessTable
  store: GuardStore
  log: LogFile
  progress: (line: string) => void
  announce: (line: string) => void
  selfPid: number
  uid: number
}

interface Pass {
  verdict: Verdict
  state: GuardState
  decision: Decision | null
}

/** Facts of one process as the policy sees them; env marks and the gate's answer only for offenders. */
function toSample(f: ProcFacts, deps: GuardDeps, needsLook: boolean): ProcSample {
  if (!needsLook) return {...f, devFlag: false, supervised: false, refusal: null}
  const inspected = deps.gate.inspect(f.pid, f.startTime)
  return {
    ...f,
    devFlag: deps.procs.envVar(f.pid, DEV_ENV_FLAG.name) === DEV_ENV_FLAG.value,
    supervised: deps.procs.envVar(f.pid, JOB_ENV) !== null,
    // Gone since it was read: nothing may be done to it.
    refusal: inspected ? inspected.refusal : {kind: 'gone', reason: 'gone'},
  }
}

export function makeScope(input: GuardInput, deps: GuardDeps): Scope {
  const own = new Set<number>([deps.selfPid, ...deps.procs.ancestors(deps.selfPid).map((p) => p.pid), ...deps.procs.descendants([deps.selfPid])])
  return {uid: deps.uid, ownTree: own, devPatterns: input.devPatterns, daemonPatterns: input.daemonPatterns, match: input.match ?? null}
}

function emptyRanking(): Record<Resource, Ranking> {
  return {memory: {candidates: [], spared: []}, cpu: {candidates: [], spared: []}, disk: {candidates: [], spared: []}}
}

/** The process table, ranked per resource — read only when something is over (or a victim is being followed). */
function rankAll(readings: Reading[], state: GuardState, input: GuardInput, deps: GuardDeps, scope: Scope): {ranked: Record<Resource, Ranking>; seen: Map<string, ProcSample>} {
  const over = new Set(readings.filter((r) => r.over).map((r) => r.resource))
  const seen = new Map<string, ProcSample>()
  if (over.size === 0 && state.victims.length === 0) return {ranked: emptyRanking(), seen}
  const victims = new Set(state.victims.map((v) => `${v.pid}-${v.startTime}`))
  // Only offenders (and the victims being followed) are looked at closely: command line, cgroup, environment, the gate.
  const matters = (f: ProcFacts) => victims.has(`${f.pid}-${f.startTime}`) || [...over].some((r) => offends({...f, devFlag: false, supervised: false, refusal: null}, r, input.limits))
  const memoryOnly = over.size === 1 && over.has('memory') && !state.victims.some((v) => v.resource !== 'memory')
  const prefilter = memoryOnly ? {minRssKiB: input.limits.candidateRssMiB * 1024, keep: new Set(state.victims.map((v) => v.pid))} : undefined
  const facts = deps.sampler.procs({writes: over.has('disk'), detail: matters, prefilter})
  const samples = facts.map((f) => {
    const s = toSample(f, deps, !f.kernelThread && matters(f))
    seen.set(`${f.pid}-${f.startTime}`, s)
    return s
  })
  const ranked = emptyRanking()
  for (const r of RESOURCES) if (over.has(r) || state.victims.some((v) => v.resource === r)) ranked[r] = rank(samples, r, scope, input.limits)
  return {ranked, seen}
}

/**
 * The last look before acting: the process is read again and judged again (its owner, a
 * system service, the patterns, the seed's environment flag); the gate then checks its
 * identity and the protected registry once more as it acts.
 */
function lastLook(step: Step, deps: GuardDeps, scope: Scope): string | null {
  if (step.action === 'restore') return null
  const f = deps.sampler.proc(step.target.pid)
  if (!f || f.startTime !== step.target.startTime) return 'gone or its pid reused since the sample'
  const v = classify(toSample(f, deps, true), scope)
  return v.kind === 'candidate' ? null : v.reason
}

async function act(step: Step, input: GuardInput, deps: GuardDeps, scope: Scope): Promise<{outcome: Outcome; detail: string; before?: {nice: number | null; oomScoreAdj: number | null}}> {
  const {pid, startTime} = step.target
  const refused = lastLook(step, deps, scope)
  if (refused) return {outcome: refused.startsWith('gone') ? 'gone' : 'refused', detail: refused}
  if (step.action === 'renice') {
    const r = deps.gate.adjust(pid, startTime, {nice: step.nice, ...(step.oomScoreAdj !== null ? {oomScoreAdj: step.oomScoreAdj} : {})})
    return {outcome: r.result, detail: r.reason ?? r.result, before: r.before}
  }
  if (step.action === 'restore') {
    const t = step.target
    if (t.nice0 === null && t.oomScoreAdj0 === null) return {outcome: 'sent', detail: 'nothing recorded to give back'}
    // Only what the first rung set is given back, and only while the process still has it.
    const set = reniceFor(t.resource)
    const r = deps.gate.adjust(pid, startTime, {...(t.nice0 !== null ? {nice: t.nice0} : {}), ...(t.oomScoreAdj0 !== null && set.oomScoreAdj !== null ? {oomScoreAdj: t.oomScoreAdj0} : {})}, {undo: {nice: set.nice, ...(set.oomScoreAdj !== null ? {oomScoreAdj: set.oomScoreAdj} : {})}})
    return {outcome: r.result, detail: r.reason ?? r.result}
  }
  const r = deps.gate.send(pid, startTime, step.action === 'term' ? 'SIGTERM' : 'SIGKILL')
  return {outcome: r.result, detail: r.reason ?? r.result}
}

const ACTION_NAME: Record<Step['action'], string> = {renice: 'renice', term: 'SIGTERM', kill: 'SIGKILL', restore: 'restore'}

interface PassLog {
  actions: Action[]
  lines: string[]
  /** Each step tried (or, in a dry run, that would be), with how it went. */
  tried: {step: Step; done: boolean}[]
  acted: boolean
  ended: boolean
}

/** Applies the decision's steps (enforce) or records what would be done (dry run). */
async function applySteps(d: Decision, input: GuardInput, deps: GuardDeps, scope: Scope, sample: HostSample, log: PassLog, simulate: boolean): Promise<GuardState> {
  let state = d.state
  const self = deps.procs.stat(deps.selfPid)
  for (const step of d.steps) {
    const t0 = deps.clock.now()
    const now = deps.clock.wall().getTime()
    if (!input.enforce) {
      const line = stepLine(step, true)
      log.lines.push(line)
      log.tried.push({step, done: false})
      log.actions.push({action: ACTION_NAME[step.action], target: describe(step.target), result: 'dry run: not done', ms: 0})
      deps.progress(`guard: ${line}`)
      if (simulate) state = commit(state, step, 'sent', now, {nice: 0, oomScoreAdj: 0})
      continue
    }
    const r = await act(step, input, deps, scope)
    state = commit(state, step, r.outcome, now, r.before)
    const done = r.outcome === 'sent'
    const line = done ? stepLine(step, false) : `${stepLine(step, false)}: not done (${r.detail})`
    log.lines.push(line)
    log.tried.push({step, done})
    log.actions.push({action: ACTION_NAME[step.action], target: describe(step.target), result: done ? 'done' : `not done: ${r.detail}`, ms: Math.round(deps.clock.now() - t0)})
    if (done && (step.action === 'term' || step.action === 'kill' || step.action === 'renice')) log.acted = true
    deps.progress(`guard: ${line}`)
    deps.log.line(`guard: ${line}`)
    deps.store.record({
      at: now, guard: {pid: deps.selfPid, startTime: self?.startTime ?? ''}, victim: {pid: step.target.pid, startTime: step.target.startTime, comm: step.target.comm},
      action: step.action, resource: step.resource, reason: step.reason, result: r.outcome, detail: r.detail,
      cmdline: step.target.cmdline, mode: input.mode, sample: sampleRecord(sample),
    })
  }
  return state
}

function sampleRecord(s: HostSample): Record<string, unknown> {
  return {
    memoryPercent: s.memory ? Math.round(s.memory.usedPercent * 10) / 10 : null, cpuPercent: s.cpuBusyPercent === null ? null : Math.round(s.cpuBusyPercent * 10) / 10,
    psi: {memoryFull10: s.pressure.memory?.full?.avg10 ?? null, memorySome10: s.pressure.memory?.some.avg10 ?? null, cpuSome10: s.pressure.cpu?.some.avg10 ?? null, ioSome10: s.pressure.io?.some.avg10 ?? null},
    disks: s.disks.map((d) => ({path: d.path, usedPercent: d.usedPercent === null ? null : Math.round(d.usedPercent * 10) / 10})),
  }
}

function ladderCfg(input: GuardInput, startupUntil: number) {
  return {limits: input.limits, hysteresis: input.hysteresis, graceMs: input.graceMs, killsPerHour: input.killsPerHour, startupUntil, staleMs: Math.max(10 * 60_000, 5 * (input.watchMs ?? 60_000))}
}

/** One sample → decision → actions. */
async function step(input: GuardInput, deps: GuardDeps, scope: Scope, state: GuardState, startupUntil: number, log: PassLog, simulate: boolean, persist: boolean): Promise<{state: GuardState; sample: HostSample; readings: Reading[]; ranked: Record<Resource, Ranking>; decision: Decision}> {
  const sample = await deps.sampler.host(input.diskPaths, deps.clock.wall().getTime())
  const readings = assess(sample, input.limits)
  const {ranked} = rankAll(readings, state, input, deps, scope)
  const now = deps.clock.wall().getTime()
  const live = (pid: number, st: string) => deps.procs.liveness(pid, st) === 'alive'
  const decision = decide({state, now, readings, ranked, live, cfg: ladderCfg(input, startupUntil)})
  if (decision.notes.some((n) => / ended after SIG/.test(n))) log.ended = true
  let steps = decision.steps
  // One pass, enforcing: the budget is written down BEFORE a signal, or no signal is sent.
  if (persist && input.enforce && steps.some((s) => s.action === 'term')) {
    try {
      deps.store.write({...decision.state, kills: [...decision.state.kills, now]})
    } catch (e) {
      steps = steps.filter((s) => s.action !== 'term' && s.action !== 'kill')
      decision.notes.push(`the state cannot be written (${(e as Error).message}): nothing is signalled, since the kill budget could not be kept`)
    }
  }
  const next = await applySteps({...decision, steps}, input, deps, scope, sample, log, simulate)
  return {state: next, sample, readings, ranked, decision: {...decision, steps}}
}

/** `node hog.mjs`: the program and its script, for a summary line that must name several processes. */
function short(p: {pid: number; comm: string; cmdline: string[]}, extra?: string): string {
  const script = p.cmdline.slice(1).find((a) => !a.startsWith('-'))
  return `pid ${p.pid} (${p.comm}${script ? ` ${script.split('/').pop()!.slice(0, 24)}` : ''}${extra ? `, ${extra}` : ''})`
}

/** The one number that made it an offender, for the summary line. */
function compact(p: ProcSample, r: Resource): string {
  return r === 'memory' ? `${Math.round(p.rssKiB / 1024)} MiB` : r === 'cpu' ? `${Math.round(p.cpuPercent ?? 0)} % cpu` : `${Math.round((p.writeBps ?? 0) / 1024)} KiB/s`
}

function summaryOf(readings: Reading[], ranked: Record<Resource, Ranking>, log: PassLog, input: GuardInput, state: GuardState): string {
  const over = readings.filter((r) => r.over)
  if (over.length === 0) {
    const restored = log.tried.filter((t) => t.step.action === 'restore').map((t) => `${t.done ? 'gave back the priority of' : input.enforce ? 'did not give back the priority of' : 'would give back the priority of'} ${short(t.step.target)}`)
    return `${readings.map((r) => r.why).join(', ')} (mode ${input.mode})${restored.length ? `; ${restored.join('; ')}` : ''}`
  }
  const verb: Record<Step['action'], string> = {renice: 'reniced', term: 'SIGTERM to', kill: 'SIGKILL to', restore: 'gave back the priority of'}
  const parts: string[] = []
  for (const r of over) {
    const c = state.over[r.resource]
    const rk = ranked[r.resource]
    const head = r.resource === 'disk' ? `${r.why} (${c} sample${c === 1 ? '' : 's'})` : `${r.why} (${c}/${input.hysteresis} sample${input.hysteresis === 1 ? '' : 's'})`
    const mine = log.tried.filter((t) => t.step.resource === r.resource && t.step.action !== 'restore')
    const next = rk.candidates[0]
    const acts = mine.map((t) => `${input.enforce ? (t.done ? '' : 'failed: ') : 'would '}${input.enforce ? verb[t.step.action] : ACTION_NAME[t.step.action]} ${short(t.step.target)}`)
    const what = r.resource === 'disk'
      ? `report only${next ? `, top writer ${short(next)}` : ''}`
      : acts.length ? acts.join(', ') : next ? `next victim ${short(next, compact(next, r.resource))}` : 'no process may be acted on'
    const spared = rk.spared.length ? `; spared pid ${rk.spared.map((x) => x.proc.pid).join(', ')} (${rk.spared[0].reason.split(' (')[0]}${rk.spared.length > 1 ? ', …' : ''})` : ''
    parts.push(`${head}: ${what}${spared}`)
  }
  return `${input.enforce ? '' : 'dry run: '}${parts.join('; ')}`
}

function verdictOf(input: GuardInput, readings: Reading[], ranked: Record<Resource, Ranking>, d: Decision | null, log: PassLog, state: GuardState, sample: HostSample): Verdict {
  const checks: Check[] = readings.map((r) => ({name: r.resource, status: r.over ? 'ALERT' : r.value === null && !(r.resource === 'cpu' && input.watchMs === null) ? 'UNKNOWN' : 'OK', detail: r.why}))
  const p = sample.pressure
  checks.push({name: 'pressure', status: 'OK', detail: `PSI avg10: memory some ${p.memory?.some.avg10 ?? '?'} % full ${p.memory?.full?.avg10 ?? '?'} %, cpu some ${p.cpu?.some.avg10 ?? '?'} %, io some ${p.io?.some.avg10 ?? '?'} % full ${p.io?.full?.avg10 ?? '?'} %`})
  for (const n of d?.notes ?? []) checks.push({name: 'ladder', status: 'OK', detail: n})
  const spared = RESOURCES.flatMap((r) => ranked[r].spared.map((s) => ({resource: r, pid: s.proc.pid, startTime: s.proc.startTime, command: describe(s.proc, 200), reason: s.reason})))
  for (const s of spared) checks.push({name: `spared (${s.resource})`, status: 'OK', detail: `${s.command}: ${s.reason}`})
  const anyOver = readings.some((r) => r.over)
  const blind = checks.some((c) => c.status === 'UNKNOWN')
  let status: Status = worstOf(checks.map((c) => c.status))
  if (!anyOver && (log.ended || log.acted) && input.enforce && !blind) status = 'RECOVERED'
  const summary = summaryOf(readings, ranked, log, input, state)
  const shape = resourceStatus(readings)
  return {
    subject: 'GUARD', status, summary, checks, actions: log.actions,
    details: [...statusLines(shape, false), ...log.lines, ...(d?.notes ?? [])],
    extra: {
      mode: input.mode, enforce: input.enforce, config: input.configPath, status: shape, sample: sampleRecord(sample),
      over: Object.fromEntries(RESOURCES.map((r) => [r, state.over[r]])), hysteresis: input.hysteresis,
      candidates: Object.fromEntries(RESOURCES.map((r) => [r, ranked[r].candidates.slice(0, 5).map((c) => ({pid: c.pid, startTime: c.startTime, command: describe(c, 200), rssKiB: c.rssKiB, oomScore: c.oomScore, cpuPercent: c.cpuPercent, writeBps: c.writeBps}))])),
      spared, steps: log.lines, notes: d?.notes ?? [],
      victims: state.victims.map((v) => ({pid: v.pid, startTime: v.startTime, comm: v.comm, resource: v.resource, stage: v.stage, reason: v.reason})),
      killsLastHour: state.kills.length, killsPerHour: input.killsPerHour,
    },
  }
}

/** `medic guard` (one pass): baseline, a CPU window, a sample; an escalation started in the pass is seen through (TERM → grace → KILL). */
export async function guardPass(input: GuardInput, deps: GuardDeps): Promise<Verdict> {
  const scope = makeScope(input, deps)
  let state = input.enforce ? deps.store.read() : initialState()
  if (!input.enforce) {
    // A dry run changes nothing, its own counts included; it starts from what enforcing runs left.
    try {
      state = deps.store.read()
    } catch {}
  }
  const uptime = deps.sampler.uptimeMs()
  const now0 = deps.clock.wall().getTime()
  const startupUntil = uptime === null ? now0 : now0 - uptime + input.limits.startupGraceSeconds * 1000
  await deps.sampler.host([], now0) // the CPU baseline
  deps.sampler.procs({writes: true}) // per-process baseline: the first sample has rates
  await deps.clock.sleep(input.sampleMs)
  const log: PassLog = {actions: [], lines: [], tried: [], acted: false, ended: false}
  let r = await step(input, deps, scope, state, startupUntil, log, false, true)
  state = r.state
  // A SIGTERM sent in this pass: wait (without blocking) for the victim, then look again (SIGKILL after the grace).
  for (let round = 0; round < 3 && input.enforce; round++) {
    const termed = state.victims.filter((v) => v.stage === 'termed' || v.stage === 'killed')
    if (termed.length === 0) break
    const until = Math.max(...termed.map((v) => (v.stage === 'termed' ? v.at + input.graceMs : v.at + 2000)))
    while (deps.clock.wall().getTime() < until && termed.some((v) => deps.procs.liveness(v.pid, v.startTime) === 'alive')) await deps.clock.sleep(50)
    r = await step(input, deps, scope, state, startupUntil, log, false, true)
    state = r.state
  }
  let note: string | null = null
  if (input.enforce) {
    try {
      deps.store.write(state)
    } catch (e) {
      note = `state not saved (${(e as Error).message}): the next pass starts its counts over`
    }
  }
  const v = verdictOf(input, r.readings, r.ranked, r.decision, log, state, r.sample)
  if (note) v.checks.push({name: 'state', status: 'UNKNOWN', detail: note})
  return v
}

/** `medic guard --watch D`: a sample every D, state in memory, a verdict line on each change of status. */
export async function guardWatch(input: GuardInput, deps: GuardDeps): Promise<Verdict> {
  const scope = makeScope(input, deps)
  let state = initialState()
  const startupUntil = deps.clock.wall().getTime() + input.limits.startupGraceSeconds * 1000
  await deps.sampler.host([], deps.clock.wall().getTime())
  await deps.clock.sleep(Math.min(input.sampleMs, input.watchMs!))
  deps.progress(`guard: watching every ${formatMs(input.watchMs!)} (mode ${input.mode}${input.enforce ? ', enforcing' : ', dry run'}; hysteresis ${input.hysteresis} samples, grace ${formatMs(input.graceMs)}, ${input.killsPerHour} SIGTERMs per hour)`)
  return watchLoop(async () => {
    const log: PassLog = {actions: [], lines: [], tried: [], acted: false, ended: false}
    const r = await step(input, deps, scope, state, startupUntil, log, true, false)
    state = r.state
    return verdictOf(input, r.readings, r.ranked, r.decision, log, state, r.sample)
  }, {announce: deps.announce, intervalMs: input.watchMs!, subject: 'GUARD', clock: deps.clock})
}

/** `medic guard status`: resource_protector.get_resource_status() — no process table, no action. */
export async function guardStatus(input: GuardInput, deps: Pick<GuardDeps, 'sampler' | 'clock'>, fancy: boolean): Promise<Verdict> {
  await deps.sampler.host([], deps.clock.wall().getTime())
  await deps.clock.sleep(input.sampleMs)
  const sample = await deps.sampler.host(input.diskPaths, deps.clock.wall().getTime())
  const readings = assess(sample, input.limits)
  const shape = resourceStatus(readings)
  const levels = RESOURCES.map((r) => shape[r].level)
  const status: Status = levels.includes('critical') ? 'ALERT' : levels.includes('unknown') ? 'UNKNOWN' : 'OK'
  const elevated = RESOURCES.filter((r) => shape[r].level === 'elevated')
  return {
    subject: 'GUARD', status,
    summary: `${readings.map((r) => r.why).join(', ')} (mode ${input.mode})${elevated.length ? `; elevated (over 80 % of the limit): ${elevated.join(', ')}` : ''}`,
    checks: readings.map((r) => ({name: r.resource, status: r.over ? 'ALERT' : shape[r.resource].level === 'unknown' ? 'UNKNOWN' : 'OK', detail: `${r.why}: ${shape[r.resource].status}`})),
    actions: [], details: statusLines(shape, fancy), printDetails: true,
    extra: {mode: input.mode, config: input.configPath, ...shape, sample: sampleRecord(sample)},
  }
}
