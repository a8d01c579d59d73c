/**
 * What one look at Ollama says (research/ollama.md §5): down, idle, busy, loading, or the
 * stall signature. A pure function of the observation; `freeze.ts` keeps the time.
 */
import type {LoadedModel} from './api.js'
import type {FrozenConfig} from './freeze.js'
import type {GpuSample} from './nvidia.js'

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
  /** The liveness probe (/api/version): how it failed matters to the remedy. */
  up: {ok: true; detail: string} | {ok: false; how: DownHow; detail: string}
  ps: {kind: 'ok'; models: LoadedModel[]} | {kind: 'timeout' | 'error'; detail: string}
  gpu: GpuObservation
  runners: RunnerSample[]
}

/** refused: nothing listens; timeout: accepted and never answered (stopped, hung); error: anything else (HTTP 5xx, reset). */
export type DownHow = 'refused' | 'timeout' | 'error'

export type Assessment =
  | {kind: 'down'; how: DownHow; why: string}
  | {kind: 'idle'; why: string}
  | {kind: 'inconclusive'; why: string}
  | {kind: 'progress'; why: string}
  | {kind: 'stall'; why: string; cpuOnly: boolean}

/** GPUs above the busy threshold, among those holding the runner (all of them when none is known). */
export function busyGpus(gpus: GpuSample[], runnerGpus: string[], busyPct: number): GpuSample[] {
  const relevant = runnerGpus.length ? gpus.filter((g) => runnerGpus.includes(g.uuid)) : gpus
  return relevant.filter((g) => g.util !== null && g.util > busyPct)
}

/**
 * The two signs a stall needs (research §5.2 step 6): work pending (a model's expires_at in
 * the past: a request started before its expiry has not finished) or a runner spinning on
 * one core. Without either, a pass is idle or progressing whatever the GPU says — so the
 * GPU need not be asked.
 */
export function stallSigns(models: LoadedModel[], runners: RunnerSample[], now: number): {pending: boolean; spinning: boolean} {
  return {
    pending: models.some((m) => m.expiresAt !== null && Date.parse(m.expiresAt) < now),
    spinning: runners.some((r) => (r.cpuCores ?? 0) >= 0.5),
  }
}

const VRAM_MOVING_MIB = 256
const READING_BYTES = 16 * 1024 * 1024

export function assess(o: OllamaObservation, cfg: FrozenConfig): Assessment {
  if (!o.up.ok) return {kind: 'down', how: o.up.how, why: `API down: ${o.up.detail}`}
  if (o.ps.kind !== 'ok') return {kind: 'inconclusive', why: `/api/ps ${o.ps.kind === 'timeout' ? 'timed out: busy or loading, not frozen' : o.ps.detail}`}
  const models = o.ps.models
  if (models.length === 0) return {kind: 'idle', why: 'no model loaded'}
  const onGpu = models.some((m) => m.sizeVram > 0)
  const cpuOnly = !onGpu || o.gpu.kind !== 'ok'
  if (o.gpu.kind === 'ok') {
    const busy = busyGpus(o.gpu.gpus, o.gpu.runnerGpus, cfg.gpuBusyPct)
    if (onGpu && busy.length) return {kind: 'progress', why: `GPU ${busy.map((g) => `${g.index} at ${g.util}%`).join(', ')}: generating`}
    if (o.gpu.vramDeltaMiB !== null && Math.abs(o.gpu.vramDeltaMiB) > VRAM_MOVING_MIB) return {kind: 'progress', why: `VRAM moved ${o.gpu.vramDeltaMiB} MiB: loading`}
  }
  if (o.runners.some((r) => (r.readBytesDelta ?? 0) > READING_BYTES)) return {kind: 'progress', why: 'runner reading its model: loading'}
  if (cpuOnly && o.runners.some((r) => (r.busyThreads ?? 0) >= 2)) return {kind: 'progress', why: 'several runner threads busy: CPU generation'}
  const {pending, spinning} = stallSigns(models, o.runners, o.now)
  const quiet = o.runners.length > 0 && o.runners.every((r) => r.cpuCores !== null && r.cpuCores < 0.05)
  if (pending || spinning) {
    const why = [pending ? 'a request pending (expires_at in the past)' : '', spinning ? 'a runner spinning on one core' : '', onGpu && o.gpu.kind === 'ok' ? `GPU idle (≤ ${cfg.gpuBusyPct}%)` : 'no GPU evidence'].filter(Boolean).join(', ')
    return {kind: 'stall', why, cpuOnly}
  }
  if (quiet) return {kind: 'progress', why: 'model loaded, runner idle: healthy idle'}
  return {kind: 'idle', why: 'model loaded, nothing pending'}
}
