import type {LoadedModel} from '../core/ollama/api.js'
import {busyGpus} from '../core/ollama/policy.js'
import type {Clock} from '../sys/clock.js'
import {httpJson} from '../sys/http-json.js'
import {readGpus} from '../sys/nvidia-smi.js'

export interface CanaryResult {
  ok: boolean
  detail: string
  ms: number
}

/**
 * One token, raw, no keep_alive (it would change the model's residency for everyone),
 * num_ctx echoed from /api/ps so the scheduler never reloads the model for us; only ever
 * against a model already loaded. An embedding-only model gets /api/embed instead.
 */
export async function canary(url: string, m: LoadedModel, timeoutMs: number): Promise<CanaryResult> {
  const options: Record<string, number> = {num_predict: 1, temperature: 0}
  if (m.contextLength) options.num_ctx = m.contextLength
  const g = await httpJson('POST', `${url}/api/generate`, timeoutMs, {model: m.model, prompt: '1', raw: true, stream: false, options})
  if (g.kind !== 'ok') return {ok: false, detail: `canary on ${m.name}: ${g.detail}`, ms: g.ms}
  if (g.status === 400 && /does not support generate/.test(g.text)) {
    const e = await httpJson('POST', `${url}/api/embed`, timeoutMs, {model: m.model, input: 'ping'})
    const ok = e.kind === 'ok' && e.status === 200 && Array.isArray((e.body as {embeddings?: unknown[]})?.embeddings) && ((e.body as {embeddings: unknown[]}).embeddings.length > 0)
    return {ok, detail: `embed canary on ${m.name}: ${e.kind === 'ok' ? `HTTP ${e.status} in ${e.ms}ms` : e.detail}`, ms: g.ms + e.ms}
  }
  const body = g.body as {done?: boolean; error?: string} | null
  const ok = g.status === 200 && body?.done === true && !body.error
  return {ok, detail: `canary on ${m.name}: HTTP ${g.status}${body?.error ? ` ${body.error}` : ''} in ${g.ms}ms`, ms: g.ms}
}

export interface GpuWatch {
  /** Further readings to take while the canary waits (the pass already took one). */
  samples: number
  gapMs: number
  timeoutMs: number
  runnerGpus: string[]
  busyPct: number
}

/**
 * The canary, with the GPU read every `gapMs` while it waits — time the pass spends anyway
 * on a frozen server (the canary runs to its timeout), so several samples cost nothing
 * extra. A canary that times out while the runner's GPU is busy was queued behind a real
 * generation (one slot, OLLAMA_NUM_PARALLEL=1): `busy`, progress, not a failure.
 */
export async function canaryWatchingGpu(url: string, m: LoadedModel, timeoutMs: number, watch: GpuWatch | null, clock: Clock): Promise<CanaryResult & {outcome: 'ok' | 'failed' | 'busy'; gpuReadings: number}> {
  let settled = false
  const stop = new AbortController()
  const running = canary(url, m, timeoutMs).finally(() => {
    settled = true
    stop.abort()
  })
  let busy: string | null = null
  let readings = 0
  if (watch) {
    for (let i = 0; i < watch.samples && !settled && busy === null; i++) {
      await clock.sleep(watch.gapMs, stop.signal)
      if (settled) break
      const r = await readGpus(watch.timeoutMs)
      readings++
      if (r.kind !== 'ok') break
      const hot = busyGpus(r.gpus, watch.runnerGpus, watch.busyPct)
      if (hot.length) busy = hot.map((g) => `GPU ${g.index} at ${g.util}%`).join(', ')
    }
  }
  const c = await running
  if (c.ok) return {...c, outcome: 'ok', gpuReadings: readings}
  if (busy) return {...c, ok: false, outcome: 'busy', detail: `${c.detail}; but ${busy} while it waited: queued behind a generation`, gpuReadings: readings}
  return {...c, outcome: 'failed', gpuReadings: readings}
}
