import type {Limits} from './guard-config.js'
import type {Pressure} from './guard-parse.js'
import {describe, weight, type ProcSample, type Ranking, type Resource} from './guard-rank.js'

/**
 * The decisions of `medic guard`, as a step function of `now` (no clock, no I/O):
 *
 *   assess(sample, limits)      → which resources are over their limit, and why
 *   decide(state, now, …)       → what to do at this sample (hysteresis, ladder, budget)
 *   commit(state, step, result) → the state after the op tried a step through the gate
 *
 * The ladder, per resource (disk: report only):
 *   over for fewer than N consecutive samples   report
 *   the N-th sample                              renice 19 (memory: and oom_score_adj 1000); CPU without
 *                                                preferNice: SIGTERM at once above kill-cpu (the protector's way)
 *   still over at the next sample                SIGTERM (CPU: only above kill-cpu, never with preferNice)
 *   still alive `grace` after the SIGTERM        SIGKILL (only while the resource is still over)
 * A reniced victim whose resource is back under the limit gets its nice and oom_score_adj
 * back (the seed's renices were never undone). One new victim per resource per sample;
 * SIGTERMs are counted against a budget per hour.
 */

export interface DiskReading {
  path: string
  usedPercent: number | null
  error?: string
}

export interface HostSample {
  /** Wall clock, ms. */
  at: number
  memory: {usedPercent: number; totalKiB: number; availableKiB: number} | null
  /** Host CPU busy % since the previous reading; null without one. */
  cpuBusyPercent: number | null
  pressure: {memory: Pressure | null; cpu: Pressure | null; io: Pressure | null}
  disks: DiskReading[]
}

export interface Reading {
  resource: Resource
  /** null: could not be measured. */
  value: number | null
  limit: number
  over: boolean
  /** "memory 93 % > 88 %", "memory pressure 65 % ≥ 60 % (PSI full avg10)", "disk / 97 % > 90 %". */
  why: string
}

/** A percentage as the report prints it: whole numbers, one decimal where rounding would hide the comparison. */
export function pct(v: number, against?: number): string {
  const r = Math.round(v)
  return `${against !== undefined && r === Math.round(against) && v !== against ? v.toFixed(1) : String(r)} %`
}

export function assess(s: HostSample, l: Limits): Reading[] {
  const out: Reading[] = []
  // Memory: MemAvailable, and PSI memory `full` (every task stalled on memory: systemd-oomd's measure).
  {
    const used = s.memory?.usedPercent ?? null
    const full = s.pressure.memory?.full?.avg10 ?? null
    const byPsi = l.memoryPressurePercent !== null && full !== null && full >= l.memoryPressurePercent
    const byUse = used !== null && used > l.memoryPercent
    const why = byUse || !byPsi
      ? used === null ? 'memory: /proc/meminfo has no MemAvailable' : `memory ${pct(used, l.memoryPercent)} ${byUse ? '>' : '≤'} ${pct(l.memoryPercent)}`
      : `memory pressure ${pct(full!)} ≥ ${pct(l.memoryPressurePercent!)} (PSI full avg10)`
    out.push({resource: 'memory', value: used, limit: l.memoryPercent, over: byUse || byPsi, why})
  }
  {
    const busy = s.cpuBusyPercent
    const some = s.pressure.cpu?.some.avg10 ?? null
    const byPsi = l.cpuPressurePercent !== null && some !== null && some >= l.cpuPressurePercent
    const byUse = busy !== null && busy > l.cpuPercent
    const why = byUse || !byPsi
      ? busy === null ? 'cpu: no interval measured yet' : `cpu ${pct(busy, l.cpuPercent)} ${byUse ? '>' : '≤'} ${pct(l.cpuPercent)}`
      : `cpu pressure ${pct(some!)} ≥ ${pct(l.cpuPressurePercent!)} (PSI some avg10)`
    out.push({resource: 'cpu', value: busy, limit: l.cpuPercent, over: byUse || byPsi, why})
  }
  {
    const seen = s.disks.filter((d) => d.usedPercent !== null)
    const worst = seen.reduce<DiskReading | null>((a, d) => (a === null || d.usedPercent! > a.usedPercent! ? d : a), null)
    const over = seen.filter((d) => d.usedPercent! > l.diskPercent)
    const blind = s.disks.filter((d) => d.usedPercent === null)
    const why = over.length
      ? over.map((d) => `disk ${d.path} ${pct(d.usedPercent!, l.diskPercent)} > ${pct(l.diskPercent)}`).join(', ')
      : blind.length ? `disk: ${blind.map((d) => `${d.path}: ${d.error ?? 'unreadable'}`).join(', ')}` : worst ? `disk ${worst.path} ${pct(worst.usedPercent!, l.diskPercent)} ≤ ${pct(l.diskPercent)}` : 'disk: no path to watch'
    out.push({resource: 'disk', value: blind.length && !over.length ? null : (worst?.usedPercent ?? null), limit: l.diskPercent, over: over.length > 0, why})
  }
  return out
}

export type Stage = 'reniced' | 'termed' | 'killed'

export interface Victim {
  pid: number
  startTime: string
  comm: string
  cmdline: string[]
  resource: Resource
  stage: Stage
  /** When it entered this stage (ms). */
  at: number
  /** "memory 93 % > 88 % for 3 samples" */
  reason: string
  /** What to give back when the pressure is gone. */
  nice0: number | null
  oomScoreAdj0: number | null
}

export interface GuardState {
  version: 1
  /** Consecutive samples over the limit, per resource. */
  over: Record<Resource, number>
  lastAt: number | null
  victims: Victim[]
  /** When each SIGTERM of the last hour was sent (the budget). */
  kills: number[]
}

export function initialState(): GuardState {
  return {version: 1, over: {memory: 0, cpu: 0, disk: 0}, lastAt: null, victims: [], kills: []}
}

/** A state file's content, or a fresh state when it is not one (a garbage file must not act on stale victims). */
export function parseState(data: unknown): GuardState {
  const o = data as Partial<GuardState> | null
  if (!o || o.version !== 1 || typeof o.over !== 'object' || !Array.isArray(o.victims) || !Array.isArray(o.kills)) return initialState()
  const n = (x: unknown) => (Number.isInteger(x) && (x as number) >= 0 ? (x as number) : 0)
  const victims = o.victims.filter((v): v is Victim => !!v && Number.isInteger(v.pid) && typeof v.startTime === 'string' && ['memory', 'cpu', 'disk'].includes(v.resource) && ['reniced', 'termed', 'killed'].includes(v.stage) && Number.isFinite(v.at))
  return {version: 1, over: {memory: n(o.over?.memory), cpu: n(o.over?.cpu), disk: n(o.over?.disk)}, lastAt: Number.isFinite(o.lastAt) ? (o.lastAt as number) : null, victims, kills: o.kills.filter((k) => Number.isFinite(k))}
}

export interface LadderConfig {
  limits: Limits
  hysteresis: number
  graceMs: number
  killsPerHour: number
  /** No step before this (ms). */
  startupUntil: number
  /** Counters older than this are not "consecutive" any more. */
  staleMs: number
}

/** What the first rung sets: nice 19, and on the memory path oom_score_adj 1000 (the kernel's first pick). */
export function reniceFor(r: Resource): {nice: 19; oomScoreAdj: number | null} {
  return {nice: 19, oomScoreAdj: r === 'memory' ? 1000 : null}
}

export type Step =
  | {action: 'renice'; resource: Resource; target: ProcSample; nice: 19; oomScoreAdj: number | null; reason: string}
  | {action: 'term' | 'kill'; resource: Resource; target: Victim; reason: string; detail?: string}
  | {action: 'restore'; resource: Resource; target: Victim; reason: string}

export interface Decision {
  state: GuardState
  steps: Step[]
  /** Why nothing (more) was done: hysteresis, grace, budget, only protected offenders, disk. */
  notes: string[]
  /** The next moment a step falls due without a new sample (a SIGKILL after the grace). */
  wakeAt: number | null
}

const HOUR = 3_600_000

export interface DecideInput {
  state: GuardState
  now: number
  readings: Reading[]
  ranked: Record<Resource, Ranking>
  /** Is the process with this identity still running? */
  live: (pid: number, startTime: string) => boolean
  cfg: LadderConfig
}

const same = (a: {pid: number; startTime: string}, b: {pid: number; startTime: string}) => a.pid === b.pid && a.startTime === b.startTime

export function decide(i: DecideInput): Decision {
  const {now, cfg} = i
  const prev = i.state
  const fresh = prev.lastAt !== null && now - prev.lastAt <= cfg.staleMs
  const over = {...initialState().over}
  for (const r of i.readings) over[r.resource] = r.over ? (fresh ? prev.over[r.resource] : 0) + 1 : 0
  const notes: string[] = []
  const steps: Step[] = []
  let wakeAt: number | null = null
  const victims: Victim[] = []
  for (const v of prev.victims) {
    if (!i.live(v.pid, v.startTime)) {
      if (v.stage !== 'reniced') notes.push(`${describe(v)} ended after ${v.stage === 'termed' ? 'SIGTERM' : 'SIGKILL'}`)
      continue
    }
    victims.push(v)
  }
  const state: GuardState = {version: 1, over, lastAt: now, victims, kills: prev.kills.filter((k) => now - k < HOUR)}
  const reading = (r: Resource) => i.readings.find((x) => x.resource === r)!
  const reason = (r: Resource) => `${reading(r).why} for ${over[r]} sample${over[r] === 1 ? '' : 's'}`

  // Pressure gone: give the renice back; a SIGTERMed process that survived is left alone.
  for (const v of [...victims]) {
    if (over[v.resource] > 0) continue
    if (v.stage === 'reniced') steps.push({action: 'restore', resource: v.resource, target: v, reason: `${reading(v.resource).why}: pressure gone`})
    else notes.push(`${describe(v)} survived SIGTERM; ${v.resource} is back under its limit, so it is left alone`)
    state.victims = state.victims.filter((x) => x !== v)
  }

  if (now < cfg.startupUntil) {
    for (const r of ['memory', 'cpu'] as const) if (over[r]) notes.push(`${reading(r).why}: nothing is done during the startup grace (${Math.ceil((cfg.startupUntil - now) / 1000)}s left)`)
  } else {
    for (const r of ['memory', 'cpu'] as const) {
      if (!over[r]) continue
      const ranking = i.ranked[r]
      if (over[r] < cfg.hysteresis) {
        notes.push(`${reading(r).why} (${over[r]} of ${cfg.hysteresis} samples before acting)`)
        continue
      }
      const mine = state.victims.filter((v) => v.resource === r)
      let busy = false
      for (const v of mine) {
        const now_ = ranking.candidates.find((c) => same(c, v))
        if (v.stage === 'termed') {
          // Still an offender that may be acted on, or it leaves the ladder (a state file naming anyone else changes nothing).
          if (!now_) {
            notes.push(`${describe(v)} is no longer a ${r} offender that may be acted on: no SIGKILL`)
            state.victims = state.victims.filter((x) => x !== v)
            continue
          }
          busy = true
          if (now >= v.at + cfg.graceMs) steps.push({action: 'kill', resource: r, target: v, reason: reason(r), detail: `alive ${Math.round((now - v.at) / 1000)}s after SIGTERM`})
          else wakeAt = Math.min(wakeAt ?? Infinity, v.at + cfg.graceMs)
          continue
        }
        if (v.stage !== 'reniced') continue
        if (!now_) {
          // No longer an offender here (or protected since): give it back.
          steps.push({action: 'restore', resource: r, target: v, reason: `no longer a ${r} offender${ranking.spared.some((s) => same(s.proc, v)) ? ' (protected now)' : ''}`})
          state.victims = state.victims.filter((x) => x !== v)
          continue
        }
        if (r === 'cpu' && (cfg.limits.preferNice || (now_.cpuPercent ?? 0) <= cfg.limits.killCpuPercent)) continue
        busy = true
        if (state.kills.length >= cfg.killsPerHour) {
          notes.push(`${reason(r)}: ${describe(v)} would get SIGTERM, but the budget of ${cfg.killsPerHour} per hour is spent`)
          continue
        }
        steps.push({action: 'term', resource: r, target: v, reason: reason(r)})
      }
      if (busy) continue
      const next = ranking.candidates.find((c) => !state.victims.some((v) => same(v, c)))
      // CPU without prefer-nice (prod; the protector itself): an offender above kill-cpu gets SIGTERM at once, as the seed's did.
      const direct = next && r === 'cpu' && !cfg.limits.preferNice && (next.cpuPercent ?? 0) > cfg.limits.killCpuPercent
      if (next && direct && state.kills.length < cfg.killsPerHour) steps.push({action: 'term', resource: r, target: victimOf(next, r, now, reason(r)), reason: reason(r)})
      else if (next && direct) notes.push(`${reason(r)}: ${describe(next)} would get SIGTERM, but the budget of ${cfg.killsPerHour} per hour is spent`)
      else if (next) steps.push({action: 'renice', resource: r, target: next, ...reniceFor(r), reason: reason(r)})
      else if (!mine.length) notes.push(`${reason(r)}: no process may be acted on${ranking.spared.length ? ` (${ranking.spared.length} offender${ranking.spared.length === 1 ? '' : 's'} protected)` : ''}`)
    }
  }
  if (over.disk) notes.push(`${reading('disk').why}: disk is reported only, nothing is deleted or signalled`)
  return {state, steps, notes, wakeAt}
}

function victimOf(p: ProcSample, resource: Resource, now: number, reason: string): Victim {
  return {pid: p.pid, startTime: p.startTime, comm: p.comm, cmdline: p.cmdline, resource, stage: 'termed', at: now, reason, nice0: null, oomScoreAdj0: null}
}

export type Outcome = 'sent' | 'gone' | 'reused' | 'denied' | 'refused'

/** The state once the op tried `step` (through the gate) and got `outcome`; pure. */
export function commit(state: GuardState, step: Step, outcome: Outcome, now: number, before?: {nice: number | null; oomScoreAdj: number | null}): GuardState {
  const s: GuardState = {...state, victims: [...state.victims], kills: [...state.kills]}
  if (step.action === 'renice') {
    if (outcome === 'sent') {
      const t = step.target
      s.victims.push({pid: t.pid, startTime: t.startTime, comm: t.comm, cmdline: t.cmdline, resource: step.resource, stage: 'reniced', at: now, reason: step.reason, nice0: before?.nice ?? null, oomScoreAdj0: before?.oomScoreAdj ?? null})
    }
    return s
  }
  const idx = s.victims.findIndex((v) => same(v, step.target) && v.resource === step.resource)
  if (step.action === 'restore') return s
  if (outcome !== 'sent') {
    // Gone, reused, refused (protected since), denied: it leaves the ladder.
    if (idx >= 0) s.victims.splice(idx, 1)
    return s
  }
  if (idx >= 0) s.victims[idx] = {...s.victims[idx], stage: step.action === 'term' ? 'termed' : 'killed', at: now, reason: step.reason}
  else if (step.action === 'term') s.victims.push({...step.target, stage: 'termed', at: now, reason: step.reason})
  if (step.action === 'term') s.kills.push(now)
  return s
}

/** One line for a step: what is done (or would be), to whom, why. */
export function stepLine(step: Step, dryRun: boolean): string {
  const w = dryRun ? 'would ' : ''
  const who = step.action === 'renice' ? `${describe(step.target)}, ${weight(step.target, step.resource)}` : describe(step.target)
  if (step.action === 'renice') return `${w}renice 19${step.oomScoreAdj !== null ? ` and raise oom_score_adj to ${step.oomScoreAdj}` : ''}: ${who} — ${step.reason}`
  if (step.action === 'restore') return `${w}give back nice ${step.target.nice0 ?? '?'}${step.target.oomScoreAdj0 !== null && reniceFor(step.resource).oomScoreAdj !== null ? ` and oom_score_adj ${step.target.oomScoreAdj0}` : ''}: ${who} — ${step.reason}`
  return `${w}${step.action === 'term' ? 'SIGTERM' : 'SIGKILL'} ${who} — ${step.reason}${step.detail ? ` (${step.detail})` : ''}`
}
