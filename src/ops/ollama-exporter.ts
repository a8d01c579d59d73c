import {parsePs, parseTags} from '../core/ollama/api.js'
import {loadFrozenState} from '../core/ollama/freeze.js'
import {exporterFamilies, stepExporter, type ExporterState} from '../core/ollama/metrics.js'
import {renderFamilies} from '../core/prom.js'
import type {Verdict} from '../core/verdict.js'
import {httpJson} from '../sys/http-json.js'
import {queryNvidia} from '../sys/nvidia-smi.js'
import {readJson, writeFileAtomic} from '../sys/state-store.js'
import {writeOllamaTextfile, type TextfileDeps} from './ollama-textfile.js'

export interface MetricsInput {
  url: string
  nvidiaTimeoutMs: number
  file: string | null
  /** The exporter's own state (last answer), and the monitor's state it reads for restarts. */
  statePath: string
  monitorStatePath: string
}

/**
 * `medic ollama metrics`: the exporter (ollama_metrics_exporter.sh), to its own file —
 * never the monitor's: /api/tags once, /api/ps, one nvidia-smi reading, the monitor's
 * restart counters from its state; every seed name, valid exposition, atomic write.
 */
export async function ollamaMetrics(input: MetricsInput, now: number, deps: TextfileDeps): Promise<{verdict: Verdict; text: string}> {
  const [tags, ps, n] = await Promise.all([httpJson('GET', `${input.url}/api/tags`, 10_000), httpJson('GET', `${input.url}/api/ps`, 10_000), queryNvidia(input.nvidiaTimeoutMs)])
  const up = tags.kind === 'ok' && tags.status === 200
  const installed = up ? parseTags((tags as {body: unknown}).body) : null
  const psOk = ps.kind === 'ok' && ps.status === 200
  const loaded = psOk ? parsePs(ps.body) : null
  const step = stepExporter(readJson<ExporterState>(input.statePath), now, up)
  const monitor = readJson<{frozen?: unknown}>(input.monitorStatePath)
  const text = renderFamilies(exporterFamilies({
    up, now, lastRequestAt: step.lastRequestAt, downSince: step.downSince, installed, loaded,
    gpus: n.kind === 'ok' ? n.gpus : null,
    probes: [{endpoint: '/api/tags', ms: up ? tags.ms : null}, {endpoint: '/api/ps', ms: psOk ? ps.ms : null}],
    monitor: monitor?.frozen ? loadFrozenState(monitor.frozen, now).state : null,
  }))
  const problems: string[] = []
  try {
    writeFileAtomic(input.statePath, JSON.stringify(step.state) + '\n')
  } catch (e) {
    problems.push(`cannot write ${input.statePath}: ${(e as Error).message}`)
  }
  // The textfile: medic's own, through the file gate (never a symlink, a FIFO, a file medic did not write, or another writer's).
  let fileProblem: string | null = null
  if (input.file) {
    try {
      writeOllamaTextfile(input.file, text, 'metrics', deps)
    } catch (e) {
      fileProblem = (e as Error).message
      problems.push(fileProblem)
    }
  }
  const gpuText = n.kind === 'ok' ? `${n.gpus.length} GPU(s)` : n.kind === 'missing' ? 'no nvidia-smi' : n.detail
  const fileFailed = fileProblem !== null
  const verdict: Verdict = {
    subject: 'OLLAMA', status: fileFailed ? 'UNKNOWN' : up ? 'OK' : 'ALERT',
    summary: `${fileFailed ? `${fileProblem}; ` : ''}${up ? `up: ${installed?.length ?? 0} installed, ${loaded?.length ?? 0} loaded` : `down: ${tags.kind === 'ok' ? `HTTP ${tags.status}` : tags.detail}`}; ${gpuText}${input.file && !fileFailed ? `; wrote ${input.file}` : ''}`,
    checks: [
      {name: 'api', status: up ? 'OK' : 'ALERT', detail: `${input.url}/api/tags`},
      {name: 'gpu', status: n.kind === 'hang' || n.kind === 'failed' ? 'ALERT' : 'OK', detail: gpuText},
      ...problems.map((p) => ({name: 'files', status: 'UNKNOWN' as const, detail: p})),
    ],
    actions: [],
  }
  return {verdict, text}
}
