/**
 * Progress evidence from two looks at the same things, and the GPU's own state: pure
 * arithmetic over samples the ops layer took (the clock's `at` is in each sample), so the
 * stall policy is a step function of what was seen and when.
 */
import type {ComputeApp, GpuSample} from './nvidia.js'

/** One look at a process: wall ms, CPU ticks (utime + stime), ticks per thread, bytes read from storage. */
export interface ProcSample {
  at: number
  ticks: number
  threads: Record<string, number>
  readBytes: number | null
}

/** USER_HZ: /proc's CPU times are in these ticks. */
export const TICKS_PER_S = 100
/** A thread above half a core is busy. */
const BUSY_THREAD_CORES = 0.5

export interface ProcDeltas {
  /** Whole-process CPU between the looks, in cores; null without a previous look. */
  cpuCores: number | null
  /** Threads above half a core between the looks; null without a previous look. */
  busyThreads: number | null
  readBytesDelta: number | null
}

export function procDeltas(before: ProcSample | undefined, now: ProcSample | null): ProcDeltas {
  const dt = before && now ? (now.at - before.at) / 1000 : 0
  if (!before || !now || dt <= 0) return {cpuCores: null, busyThreads: null, readBytesDelta: before && now && before.readBytes !== null && now.readBytes !== null ? now.readBytes - before.readBytes : null}
  const rate = (t: number) => t / TICKS_PER_S / dt
  return {
    cpuCores: rate(now.ticks - before.ticks),
    busyThreads: Object.entries(now.threads).filter(([tid, t]) => before.threads[tid] !== undefined && rate(t - before.threads[tid]) > BUSY_THREAD_CORES).length,
    readBytesDelta: before.readBytes !== null && now.readBytes !== null ? now.readBytes - before.readBytes : null,
  }
}

/** VRAM per GPU uuid now, over the last known baseline (a GPU not read keeps its last value). */
export function vramBaseline(prev: Record<string, number>, gpus: GpuSample[]): Record<string, number> {
  const out = {...prev}
  for (const g of gpus) if (g.memUsedMiB !== null) out[g.uuid] = g.memUsedMiB
  return out
}

/** The largest VRAM move (signed MiB) of any GPU since its baseline; null when no GPU has one. */
export function vramDelta(prev: Record<string, number>, gpus: GpuSample[]): number | null {
  const deltas = gpus.filter((g) => g.memUsedMiB !== null && prev[g.uuid] !== undefined).map((g) => g.memUsedMiB! - prev[g.uuid])
  return deltas.length ? deltas.reduce((a, b) => (Math.abs(b) > Math.abs(a) ? b : a), 0) : null
}

/** What nvidia-smi said, as far as a wedged GPU goes (sys/nvidia-smi.ts NvidiaResult has this shape). */
export type NvidiaLook =
  | {kind: 'missing'}
  | {kind: 'hang'; detail: string}
  | {kind: 'failed'; code: number | null; detail: string}
  | {kind: 'ok'; gpus: GpuSample[]; apps: ComputeApp[]}

const HELD_MIB = 1024

/**
 * A GPU a restart cannot fix (reboot): nvidia-smi hanging, failing as a fallen-off GPU does
 * (exit 15 or 255, "fallen off the bus"), or VRAM held while no process, runner or model
 * is there to hold it. Null: not wedged (or not asked).
 */
export function gpuWedged(n: NvidiaLook | null, runners: number, models: number): string | null {
  if (!n) return null
  if (n.kind === 'hang') return n.detail
  if (n.kind === 'failed' && (n.code === 15 || n.code === 255 || /fallen off the bus/i.test(n.detail))) return n.detail
  if (n.kind === 'ok' && n.apps.length === 0 && runners === 0 && models === 0) {
    const held = n.gpus.filter((g) => (g.memUsedMiB ?? 0) > HELD_MIB)
    if (held.length) return `VRAM held with no process: ${held.map((g) => `GPU ${g.index} ${g.memUsedMiB} MiB`).join(', ')}`
  }
  return null
}

/**
 * How long to wait after a remediation before verifying: the cooldown, cut so the
 * verification (up to one canary) still ends before the deadline; never negative.
 */
export function verifyWaitMs(cooldownMs: number, now: number, deadlineAt: number | null, canaryTimeoutMs: number): number {
  return Math.max(0, Math.min(cooldownMs, deadlineAt === null ? Infinity : deadlineAt - now - canaryTimeoutMs))
}
