import {APPS_QUERY, GPU_QUERY, parseAppsCsv, parseGpuCsv, type ComputeApp, type GpuSample} from '../core/ollama/nvidia.js'
import {run} from './exec.js'

export type NvidiaResult =
  | {kind: 'missing'}
  | {kind: 'hang'; detail: string}
  | {kind: 'failed'; code: number | null; detail: string}
  | {kind: 'ok'; gpus: GpuSample[]; apps: ComputeApp[]; raw: string}

/**
 * nvidia-smi with a hard timeout: on a wedged GPU it can block in the driver. A missing
 * binary is "no NVIDIA telemetry" (CPU mode), not an error.
 */
export async function queryNvidia(timeoutMs: number, samples: number, gapMs: number): Promise<NvidiaResult> {
  const all: GpuSample[][] = []
  let raw = ''
  for (let i = 0; i < samples; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, gapMs))
    const r = await run(['nvidia-smi', `--query-gpu=${GPU_QUERY}`, '--format=csv,noheader,nounits'], {timeoutMs})
    if (r.missing) return {kind: 'missing'}
    if (r.timedOut) return {kind: 'hang', detail: `nvidia-smi did not answer within ${timeoutMs}ms`}
    if (r.code !== 0) return {kind: 'failed', code: r.code, detail: `nvidia-smi exit ${r.code}: ${(r.stdout + r.stderr).trim().split('\n')[0] ?? ''}`}
    raw += r.stdout
    all.push(parseGpuCsv(r.stdout))
  }
  const a = await run(['nvidia-smi', `--query-compute-apps=${APPS_QUERY}`, '--format=csv,noheader,nounits'], {timeoutMs})
  if (a.timedOut) return {kind: 'hang', detail: `nvidia-smi --query-compute-apps did not answer within ${timeoutMs}ms`}
  // Several samples, one per GPU: the max utilisation, the last memory reading.
  const gpus = all[all.length - 1].map((g) => ({...g, util: Math.max(...all.map((s) => s.find((x) => x.uuid === g.uuid)?.util ?? -1)) }))
    .map((g) => ({...g, util: g.util !== null && g.util < 0 ? null : g.util}))
  return {kind: 'ok', gpus, apps: a.code === 0 ? parseAppsCsv(a.stdout) : [], raw: raw + a.stdout}
}
