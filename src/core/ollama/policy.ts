/**
 * The frozen-Ollama policy of research/ollama.md §5 as pure functions of observations and
 * `now` (wall ms, persisted between cron passes). The ops layer observes and acts.
 */
import type {LoadedModel} from './api.js'
import type {GpuSample} from './nvidia.js'

export interface FrozenConfig {
  thresholdMs: number
  confirmations: number
  cooldownMs: number
  gpuBusyPct: number
  maxRestarts: number
  restartWindowMs: number
}

export interface RunnerSample {
  pid: number
  startTime: string
  state: string
  /** Whole-process CPU since the previous pass, in cores; null on first sight. */
  cpuCores: number | null
  /** Threads above half a core since the previous pass; null on first sight. */
  busyThreads: number | null
  readBytesDelta: number | null
}

export type GpuObservation =
  | {kind: 'none'; detail: string}
  | {kind: 'ok'; gpus: GpuSample[]; runnerGpus: string[]; heldByNoProcessMiB: number; vramDeltaMiB: number | null}
  | {kind: 'hang' | 'failed'; detail: string}

export interface OllamaObservation {
  now: number
  up: {ok: boolean; detail: string}
  ps: {kind: 'ok'; models: LoadedModel[]} | {kind: 'timeout' | 'error'; detail: string}
  gpu: GpuObservation
  runners: RunnerSample[]
}

export type Assessment =
  | {kind: 'down'; why: string}
  | {kind: 'idle'; why: string}
  | {kind: 'inconclusive'; why: string}
  | {kind: 'progress'; why: string}
  | {kind: 'stall'; why: string; cpuOnly: boolean}

export interface FrozenState {
  version: 1
  firstPassAt: number
  suspectSince: number | null
  failures: number
  restarts: number[]
  /** A real counter: persisted, only ever grows. */
  restartsTotal: number
  lastRestartAt: number | null
  falseAlarms: number
  cooldownUntil: number | null
  lastAction: {kind: 'runner-kill' | 'restart'; at: number} | null
}

export function newFrozenState(now: number): FrozenState {
  return {version: 1, firstPassAt: now, suspectSince: null, failures: 0, restarts: [], restartsTotal: 0, lastRestartAt: null, falseAlarms: 0, cooldownUntil: null, lastAction: null}
}

const VRAM_MOVING_MIB = 256
const READING_BYTES = 16 * 1024 * 1024

export function assess(o: OllamaObservation, cfg: FrozenConfig): Assessment {
  if (!o.up.ok) return {kind: 'down', why: `API down: ${o.up.detail}`}
  if (o.ps.kind !== 'ok') return {kind: 'inconclusive', why: `/api/ps ${o.ps.kind === 'timeout' ? 'timed out: busy or loading, not frozen' : o.ps.detail}`}
  const models = o.ps.models
  if (models.length === 0) return {kind: 'idle', why: 'no model loaded'}
  const onGpu = models.some((m) => m.sizeVram > 0)
  const cpuOnly = !onGpu || o.gpu.kind !== 'ok'
  if (o.gpu.kind === 'ok') {
    const relevant = o.gpu.runnerGpus.length ? o.gpu.gpus.filter((g) => o.gpu.kind === 'ok' && o.gpu.runnerGpus.includes(g.uuid)) : o.gpu.gpus
    const busy = relevant.filter((g) => g.util !== null && g.util > cfg.gpuBusyPct)
    if (onGpu && busy.length) return {kind: 'progress', why: `GPU ${busy.map((g) => `${g.index} at ${g.util}%`).join(', ')}: generating`}
    if (o.gpu.vramDeltaMiB !== null && Math.abs(o.gpu.vramDeltaMiB) > VRAM_MOVING_MIB) return {kind: 'progress', why: `VRAM moved ${o.gpu.vramDeltaMiB} MiB: loading`}
  }
  if (o.runners.some((r) => (r.readBytesDelta ?? 0) > READING_BYTES)) return {kind: 'progress', why: 'runner reading its model: loading'}
  if (cpuOnly && o.runners.some((r) => (r.busyThreads ?? 0) >= 2)) return {kind: 'progress', why: 'several runner threads busy: CPU generation'}
  const pending = models.some((m) => m.expiresAt !== null && Date.parse(m.expiresAt) < o.now)
  const spinning = o.runners.some((r) => (r.cpuCores ?? 0) >= 0.5)
  const quiet = o.runners.length > 0 && o.runners.every((r) => r.cpuCores !== null && r.cpuCores < 0.05)
  if (pending || spinning) {
    const why = [pending ? 'a request pending (expires_at in the past)' : '', spinning ? 'a runner spinning on one core' : '', onGpu && o.gpu.kind === 'ok' ? `GPU idle (≤ ${cfg.gpuBusyPct}%)` : 'no GPU evidence'].filter(Boolean).join(', ')
    return {kind: 'stall', why, cpuOnly}
  }
  if (quiet) return {kind: 'progress', why: 'model loaded, runner idle: healthy idle'}
  return {kind: 'idle', why: 'model loaded, nothing pending'}
}

export interface Step {
  state: FrozenState
  /** Time to send the 1-token canary. */
  canary: boolean
  frozenForMs: number
}

/** The stall must hold for the threshold (twice as long without GPU evidence) before a canary. */
export function stepFrozen(s: FrozenState, a: Assessment, now: number, cfg: FrozenConfig, firstPass: boolean): Step {
  if (a.kind === 'idle' || a.kind === 'progress' || a.kind === 'down') {
    return {state: {...s, suspectSince: null, failures: 0}, canary: false, frozenForMs: 0}
  }
  if (a.kind === 'inconclusive') return {state: s, canary: false, frozenForMs: s.suspectSince === null ? 0 : now - s.suspectSince}
  const since = s.suspectSince ?? now
  const threshold = a.cpuOnly ? 2 * cfg.thresholdMs : cfg.thresholdMs
  return {state: {...s, suspectSince: since}, canary: !firstPass && now - since >= threshold, frozenForMs: now - since}
}

export function afterCanary(s: FrozenState, ok: boolean): FrozenState {
  return ok ? {...s, suspectSince: null, failures: 0, falseAlarms: s.falseAlarms + 1} : {...s, failures: s.failures + 1}
}

export type ActDecision =
  | {kind: 'wait'; why: string}
  | {kind: 'alert'; why: string}
  | {kind: 'act'; ladder: 'runner-kill' | 'restart'}

export function decideAct(s: FrozenState, now: number, cfg: FrozenConfig, o: {repair: boolean; gpuWedged: string | null; killableRunner: boolean}): ActDecision {
  if (s.failures < cfg.confirmations) return {kind: 'wait', why: `${s.failures}/${cfg.confirmations} failed canaries`}
  if (o.gpuWedged) return {kind: 'alert', why: `GPU wedged (${o.gpuWedged}): a restart cannot fix it; reboot`}
  if (!o.repair) return {kind: 'alert', why: 'repair is off (--no-repair)'}
  if (s.cooldownUntil !== null && now < s.cooldownUntil) return {kind: 'alert', why: `frozen again within the cooldown after the last restart`}
  const used = s.restarts.filter((t) => t > now - cfg.restartWindowMs).length
  if (used >= cfg.maxRestarts) return {kind: 'alert', why: `restart budget spent: ${used} in the last ${Math.round(cfg.restartWindowMs / 60_000)}m (max ${cfg.maxRestarts})`}
  const recurred = s.lastAction?.kind === 'runner-kill' && now - s.lastAction.at < cfg.restartWindowMs
  return {kind: 'act', ladder: o.killableRunner && !recurred ? 'runner-kill' : 'restart'}
}

export function chargeRestart(s: FrozenState, kind: 'runner-kill' | 'restart', now: number, cfg: FrozenConfig): FrozenState {
  return {
    ...s,
    restarts: [...s.restarts.filter((t) => t > now - cfg.restartWindowMs), now],
    restartsTotal: s.restartsTotal + 1,
    lastRestartAt: now,
    lastAction: {kind, at: now},
    cooldownUntil: now + cfg.cooldownMs,
    failures: 0,
    suspectSince: null,
  }
}

export function budgetExhausted(s: FrozenState, now: number, cfg: FrozenConfig): boolean {
  return s.restarts.filter((t) => t > now - cfg.restartWindowMs).length >= cfg.maxRestarts
}
