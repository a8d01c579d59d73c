import {formatMs} from '../core/duration.js'
import {APPS_QUERY, GPU_QUERY, parseAppsCsv, parseGpuCsv, type ComputeApp, type GpuSample} from '../core/ollama/nvidia.js'
import type {NvidiaLook} from '../core/ollama/progress.js'
import {run, type ExecResult} from './exec.js'

/** What nvidia-smi said: core's view of it (core/ollama/progress.ts), with the raw text of a reading. */
export type NvidiaResult = Exclude<NvidiaLook, {kind: 'ok'}> | (Extract<NvidiaLook, {kind: 'ok'}> & {raw: string})

export type GpuReading = Exclude<NvidiaResult, {kind: 'ok'}> | {kind: 'ok'; gpus: GpuSample[]; raw: string}

const csv = ['--format=csv,noheader,nounits']

function judge(r: ExecResult, what: string, timeoutMs: number): Exclude<NvidiaResult, {kind: 'ok'}> | null {
  if (r.missing) return {kind: 'missing'}
  if (r.timedOut) return {kind: 'hang', detail: `nvidia-smi${what} did not answer within ${formatMs(timeoutMs)}`}
  if (r.code !== 0) return {kind: 'failed', code: r.code, detail: `nvidia-smi${what} exit ${r.code}: ${(r.stdout + r.stderr).trim().split('\n')[0] ?? ''}`}
  return null
}

/**
 * One utilisation reading of every GPU, with a hard timeout: on a wedged GPU nvidia-smi can
 * block in the driver. A missing binary is "no NVIDIA telemetry" (CPU mode), not an error.
 */
export async function readGpus(timeoutMs: number): Promise<GpuReading> {
  const r = await run(['nvidia-smi', `--query-gpu=${GPU_QUERY}`, ...csv], {timeoutMs})
  return judge(r, '', timeoutMs) ?? {kind: 'ok', gpus: parseGpuCsv(r.stdout), raw: r.stdout}
}

/**
 * GPUs and the compute apps on them (which GPU holds the runner): the two queries cannot
 * share one nvidia-smi call, so they run side by side — one call's time, not two.
 */
export async function queryNvidia(timeoutMs: number): Promise<NvidiaResult> {
  const [g, a] = await Promise.all([readGpus(timeoutMs), run(['nvidia-smi', `--query-compute-apps=${APPS_QUERY}`, ...csv], {timeoutMs})])
  if (g.kind !== 'ok') return g
  if (a.timedOut) return {kind: 'hang', detail: `nvidia-smi --query-compute-apps did not answer within ${formatMs(timeoutMs)}`}
  return {kind: 'ok', gpus: g.gpus, apps: a.code === 0 ? parseAppsCsv(a.stdout) : [], raw: g.raw + a.stdout}
}
