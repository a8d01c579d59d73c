/**
 * The freeze decision of `medic ollama frozen-check` as a step function of `now` (wall ms,
 * persisted between cron passes). A freeze is either inference stalled behind a live API
 * (seed 004) or the API itself down or wedged (the seed's `pkill -STOP ollama` drill):
 * both must hold for --threshold, then fail --confirmations consecutive checks (a 1-token
 * canary for a stall, the liveness probe itself for a down API) before medic acts, within
 * a cooldown and a sliding-window budget. The ops layer observes, probes and acts.
 */
import {formatMs} from '../duration.js'
import type {Assessment} from './policy.js'

export interface FrozenConfig {
  thresholdMs: number
  confirmations: number
  cooldownMs: number
  gpuBusyPct: number
  maxRestarts: number
  restartWindowMs: number
}

/** What medic did about a freeze; every kind is charged to the budget. */
export type Remediation = 'runner-kill' | 'resume-kill' | 'restart' | 'start'

export interface FrozenState {
  version: 2
  firstPassAt: number
  suspectSince: number | null
  /** What is suspected: inference stalled behind a live API, or the API down or wedged. */
  suspect: 'stall' | 'down' | null
  /** Consecutive failed confirmations: canaries (stall) or liveness probes past the threshold (down). */
  failures: number
  restarts: number[]
  /** A real counter: persisted, only ever grows (`--reset` keeps it). */
  restartsTotal: number
  lastRestartAt: number | null
  falseAlarms: number
  cooldownUntil: number | null
  lastAction: {kind: Remediation; at: number} | null
}

export function newFrozenState(now: number): FrozenState {
  return {version: 2, firstPassAt: now, suspectSince: null, suspect: null, failures: 0, restarts: [], restartsTotal: 0, lastRestartAt: null, falseAlarms: 0, cooldownUntil: null, lastAction: null}
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null)
const count = (v: unknown): number => Math.max(0, Math.floor(num(v) ?? 0))

/**
 * Whatever the state file held — nothing, garbage, version 1 — a usable state. Anything
 * unreadable is a first pass (which never acts), never an instant restart (the seed's
 * empty-file bug); counters are kept when they can be read.
 */
export function loadFrozenState(raw: unknown, now: number): {state: FrozenState; firstPass: boolean} {
  const o = raw as (Omit<Partial<FrozenState>, 'version'> & {version?: number}) | null
  if (!o || typeof o !== 'object' || (o.version !== 1 && o.version !== 2) || num(o.firstPassAt) === null) return {state: newFrozenState(now), firstPass: true}
  const kinds = new Set<Remediation>(['runner-kill', 'resume-kill', 'restart', 'start'])
  const last = o.lastAction && kinds.has(o.lastAction.kind) && num(o.lastAction.at) !== null ? {kind: o.lastAction.kind, at: o.lastAction.at} : null
  const since = num(o.suspectSince)
  return {
    firstPass: false,
    state: {
      version: 2,
      firstPassAt: o.firstPassAt!,
      suspectSince: since,
      suspect: since === null ? null : o.suspect === 'down' ? 'down' : 'stall',
      failures: count(o.failures),
      restarts: Array.isArray(o.restarts) ? o.restarts.filter((t): t is number => num(t) !== null) : [],
      restartsTotal: count(o.restartsTotal),
      lastRestartAt: num(o.lastRestartAt),
      falseAlarms: count(o.falseAlarms),
      cooldownUntil: num(o.cooldownUntil),
      lastAction: last,
    },
  }
}

export type PassPlan =
  /** Healthy (idle, progressing): any suspicion is cleared. */
  | {kind: 'clear'}
  /** Cannot tell (/api/ps busy): the suspicion is kept as it is. */
  | {kind: 'hold'; forMs: number}
  /** Suspected, not yet for the threshold (or the first pass, which never acts). */
  | {kind: 'suspect'; forMs: number; thresholdMs: number; firstPass: boolean}
  /** A stall past the threshold: send the canary. */
  | {kind: 'canary'; forMs: number}
  /** The API down past the threshold: this pass's failed probe was one more confirmation. */
  | {kind: 'confirm'; forMs: number}

/** A pass that sends no canary and confirms nothing. */
export type WaitingPlan = Extract<PassPlan, {kind: 'clear' | 'hold' | 'suspect'}>

export const isWaiting = (p: PassPlan): p is WaitingPlan => p.kind === 'clear' || p.kind === 'hold' || p.kind === 'suspect'

export function thresholdFor(a: Assessment, cfg: FrozenConfig): number {
  return a.kind === 'stall' && a.cpuOnly ? 2 * cfg.thresholdMs : cfg.thresholdMs
}

/** One observation. The stall and the down API share one suspicion: both mean "not serving". */
export function observePass(s: FrozenState, a: Assessment, now: number, cfg: FrozenConfig, firstPass: boolean): {state: FrozenState; plan: PassPlan} {
  if (a.kind === 'inconclusive') return {state: s, plan: {kind: 'hold', forMs: s.suspectSince === null ? 0 : now - s.suspectSince}}
  if (a.kind !== 'stall' && a.kind !== 'down') return {state: {...s, suspectSince: null, suspect: null, failures: 0}, plan: {kind: 'clear'}}
  const since = s.suspectSince ?? now
  const thresholdMs = thresholdFor(a, cfg)
  const forMs = now - since
  const state: FrozenState = {...s, suspectSince: since, suspect: a.kind}
  if (firstPass || forMs < thresholdMs) return {state, plan: {kind: 'suspect', forMs, thresholdMs, firstPass}}
  if (a.kind === 'stall') return {state, plan: {kind: 'canary', forMs}}
  return {state: {...state, failures: state.failures + 1}, plan: {kind: 'confirm', forMs}}
}

/**
 * The canary's outcome. `busy`: it timed out while the runner's GPU was busy — queued
 * behind a real generation (one slot, OLLAMA_NUM_PARALLEL=1): progress, not a failure.
 */
export function afterCanary(s: FrozenState, outcome: 'ok' | 'failed' | 'busy'): FrozenState {
  if (outcome === 'failed') return {...s, failures: s.failures + 1}
  return {...s, suspectSince: null, suspect: null, failures: 0, falseAlarms: s.falseAlarms + 1}
}

export function budgetUsed(s: FrozenState, now: number, cfg: FrozenConfig): number {
  return s.restarts.filter((t) => t > now - cfg.restartWindowMs).length
}

export function budgetExhausted(s: FrozenState, now: number, cfg: FrozenConfig): boolean {
  return budgetUsed(s, now, cfg) >= cfg.maxRestarts
}

export type Gate = {kind: 'wait'; why: string} | {kind: 'alert'; why: string} | {kind: 'go'}

/** Confirmed? Allowed? The remedy itself is chosen by `chooseRemedy`. */
export function gateAction(s: FrozenState, now: number, cfg: FrozenConfig, o: {repair: boolean; gpuWedged: string | null}): Gate {
  if (s.failures < cfg.confirmations) return {kind: 'wait', why: `${s.failures}/${cfg.confirmations} failed ${s.suspect === 'down' ? 'liveness probes' : 'canaries'}`}
  if (o.gpuWedged) return {kind: 'alert', why: `GPU wedged (${o.gpuWedged}): a restart cannot fix it; reboot`}
  if (!o.repair) return {kind: 'alert', why: 'repair is off (--no-repair)'}
  if (s.cooldownUntil !== null && now < s.cooldownUntil) return {kind: 'alert', why: 'frozen again within the cooldown after the last remediation'}
  const used = budgetUsed(s, now, cfg)
  if (used >= cfg.maxRestarts) return {kind: 'alert', why: `restart budget spent: ${used} in the last ${formatMs(cfg.restartWindowMs)} (max ${cfg.maxRestarts})`}
  return {kind: 'go'}
}

/** A remediation was started: charge the budget, count it, start the cooldown. */
export function chargeRemediation(s: FrozenState, kind: Remediation, now: number, cfg: FrozenConfig): FrozenState {
  return {
    ...s,
    restarts: [...s.restarts.filter((t) => t > now - cfg.restartWindowMs), now],
    restartsTotal: s.restartsTotal + 1,
    lastRestartAt: now,
    lastAction: {kind, at: now},
    cooldownUntil: now + cfg.cooldownMs,
    failures: 0,
    suspectSince: null,
    suspect: null,
  }
}

/**
 * `--reset` (the seed's "Contadores resetados"): forget the suspicion, the budget window and
 * the cooldown; the next freeze must hold for the whole threshold again. The counters
 * (restarts_total, false alarms) and the time of the last restart are history: kept.
 */
export function resetFrozenState(s: FrozenState, now: number): FrozenState {
  return {...s, firstPassAt: now, suspectSince: null, suspect: null, failures: 0, restarts: [], cooldownUntil: null, lastAction: null}
}

/**
 * What a pass that sends no canary and takes no action says (`clear`, `hold`, `suspect`).
 * OK only when the pass saw the server serving (idle or progressing): a stall suspected
 * but not yet confirmed by a canary, or a pass that could not see (/api/ps blocked), is
 * UNKNOWN naming what is pending — the contract's "could not see enough is never OK". A
 * down API is ALERT from the first pass.
 */
export function waitingVerdict(plan: WaitingPlan, a: Assessment, s: Pick<FrozenState, 'suspectSince'>, cfg: Pick<FrozenConfig, 'confirmations'>, downText: string): {status: 'OK' | 'UNKNOWN' | 'ALERT'; summary: string} {
  if (plan.kind === 'clear') return {status: 'OK', summary: a.kind === 'idle' ? `healthy idle: ${a.why}` : `healthy: ${a.why}`}
  if (plan.kind === 'hold') return {status: 'UNKNOWN', summary: `inconclusive: ${a.why}${s.suspectSince !== null ? `; suspected for ${formatMs(plan.forMs)}` : ''}`}
  if (a.kind === 'down') return {status: 'ALERT', summary: `${downText}; ${plan.firstPass ? 'first pass' : `for ${formatMs(plan.forMs)}`}; acts after ${formatMs(plan.thresholdMs)} + ${cfg.confirmations} failed probes`}
  return {status: 'UNKNOWN', summary: `${plan.firstPass ? 'first pass never acts; ' : ''}stall suspected for ${formatMs(plan.forMs)}, canary pending (due after ${formatMs(plan.thresholdMs)}): ${a.why}`}
}
