import type {Family, Sample} from '../prom.js'
import type {InstalledModel, LoadedModel} from './api.js'
import type {FrozenState} from './freeze.js'
import type {GpuSample} from './nvidia.js'

/**
 * The two textfiles medic writes for node_exporter: the monitor's (`frozen-check`,
 * ollama_selfheal.prom) and the exporter's (`metrics`, ollama.prom). A family that appears
 * in both carries the same HELP and TYPE (node_exporter requires it) and a `collector`
 * label, so the series stay distinct; rules aggregate with `max without(collector)`.
 */
export const SHARED = ['ollama_up', 'ollama_frozen_duration_seconds', 'ollama_selfheal_restarts_total', 'ollama_last_restart_timestamp', 'ollama_last_restart_timestamp_seconds', 'ollama_probe_duration_seconds'] as const

const HELP: Record<(typeof SHARED)[number], string> = {
  ollama_up: '1 when the Ollama API answered the last check, 0 when it did not.',
  ollama_frozen_duration_seconds: 'Seconds Ollama has not been serving as this collector sees it (frozen-check: inference stalled or API down; metrics: API not answering); 0 while serving.',
  ollama_selfheal_restarts_total: 'Remediations (runner kills, restarts, starts) medic performed; persisted, never reset.',
  ollama_last_restart_timestamp: "Unix time of medic's last remediation, 0 before the first (the seed's name).",
  ollama_last_restart_timestamp_seconds: "Unix time of medic's last remediation, 0 before the first.",
  ollama_probe_duration_seconds: "Seconds the Ollama API took to answer medic's last probe of this endpoint (absent when it did not answer).",
}

const shared = (name: (typeof SHARED)[number], type: 'gauge' | 'counter', collector: string, samples: Sample[]): Family => ({
  name, help: HELP[name], type, samples: samples.map((s) => ({...s, labels: {collector, ...s.labels}})),
})

export interface Probe {
  endpoint: string
  /** Milliseconds to the answer; null when it did not answer. */
  ms: number | null
}

const probes = (collector: string, list: Probe[]) => shared('ollama_probe_duration_seconds', 'gauge', collector, list.map((p) => ({labels: {endpoint: p.endpoint}, value: p.ms === null ? null : p.ms / 1000})))

/** What the monitor's state says about restarts, in both files. */
function selfheal(collector: string, s: Pick<FrozenState, 'restartsTotal' | 'lastRestartAt'> | null): Family[] {
  const last = s?.lastRestartAt ? Math.round(s.lastRestartAt / 1000) : 0
  return [
    shared('ollama_selfheal_restarts_total', 'counter', collector, [{value: s?.restartsTotal ?? 0}]),
    shared('ollama_last_restart_timestamp', 'gauge', collector, [{value: last}]),
    shared('ollama_last_restart_timestamp_seconds', 'gauge', collector, [{value: last}]),
  ]
}

export function monitorFamilies(o: {up: boolean; frozenForS: number; state: FrozenState; budgetExhausted: boolean; now: number; probes: Probe[]}): Family[] {
  const c = 'frozen-check'
  return [
    shared('ollama_up', 'gauge', c, [{value: o.up ? 1 : 0}]),
    shared('ollama_frozen_duration_seconds', 'gauge', c, [{value: Math.round(o.frozenForS)}]),
    ...selfheal(c, o.state),
    probes(c, o.probes),
    {name: 'ollama_selfheal_frozen_suspected', help: '1 while a freeze (stall or API down) is suspected.', type: 'gauge', samples: [{value: o.state.suspectSince === null ? 0 : 1}]},
    {name: 'ollama_selfheal_consecutive_failures', help: 'Consecutive failed confirmations (canaries, or liveness probes past the threshold).', type: 'gauge', samples: [{value: o.state.failures}]},
    {name: 'ollama_selfheal_restart_budget_exhausted', help: '1 when the restart budget of the window is spent.', type: 'gauge', samples: [{value: o.budgetExhausted ? 1 : 0}]},
    {name: 'ollama_selfheal_false_alarms_total', help: 'Suspected freezes that a canary cleared.', type: 'counter', samples: [{value: o.state.falseAlarms}]},
    {name: 'ollama_selfheal_last_check_timestamp_seconds', help: 'Unix time of the last check.', type: 'gauge', samples: [{value: Math.round(o.now / 1000)}]},
  ]
}

export interface ExporterView {
  up: boolean
  now: number
  /** Wall ms of the last request medic saw complete (see `stepExporter`), or null. */
  lastRequestAt: number | null
  /** Wall ms since when the API has not answered this exporter, or null while it answers. */
  downSince: number | null
  installed: InstalledModel[] | null
  loaded: LoadedModel[] | null
  gpus: GpuSample[] | null
  probes: Probe[]
  /** The monitor's persisted state for this Ollama, when there is one. */
  monitor: Pick<FrozenState, 'restartsTotal' | 'lastRestartAt'> | null
}

export function exporterFamilies(o: ExporterView): Family[] {
  const c = 'metrics'
  const MiB = 1048576
  const gpu = (f: (g: GpuSample) => number | null) => (o.gpus ?? []).map((g) => ({labels: {gpu: String(g.index)}, value: f(g)}))
  const installed = o.installed?.length
  const loaded = o.loaded?.length
  return [
    shared('ollama_up', 'gauge', c, [{value: o.up ? 1 : 0}]),
    {name: 'ollama_last_request_timestamp', help: "Unix time of the last Ollama request medic saw complete: its own probe answering, or a model's expires_at in /api/ps moving forward (Ollama re-arms it when a request finishes).", type: 'gauge', samples: [{value: o.lastRequestAt === null ? null : Math.round(o.lastRequestAt / 1000)}]},
    shared('ollama_frozen_duration_seconds', 'gauge', c, [{value: o.downSince === null ? 0 : Math.max(0, Math.round((o.now - o.downSince) / 1000))}]),
    {name: 'ollama_models_loaded', help: "Models INSTALLED (/api/tags): the seed exporter's name, kept for its dashboards; see ollama_models_installed and ollama_loaded_models.", type: 'gauge', samples: [{value: installed}]},
    {name: 'ollama_models_installed', help: 'Models installed (/api/tags).', type: 'gauge', samples: [{value: installed}]},
    {name: 'ollama_loaded_models', help: 'Models loaded in memory (/api/ps).', type: 'gauge', samples: [{value: loaded}]},
    {name: 'ollama_models_total_size_bytes', help: 'Total size of the installed models.', type: 'gauge', samples: [{value: o.installed?.reduce((n, m) => n + m.size, 0)}]},
    {name: 'ollama_models_active', help: 'Models loaded in memory (/api/ps), the seed exporter\'s name.', type: 'gauge', samples: [{value: loaded}]},
    {name: 'ollama_vram_used_bytes', help: 'VRAM Ollama reports for its loaded models.', type: 'gauge', samples: [{value: o.loaded?.reduce((n, m) => n + m.sizeVram, 0)}]},
    {name: 'ollama_model_loaded_size_bytes', help: 'Size of each loaded model.', type: 'gauge', samples: (o.loaded ?? []).map((m) => ({labels: {model: m.name}, value: m.size}))},
    {name: 'ollama_model_loaded_vram_bytes', help: 'VRAM of each loaded model.', type: 'gauge', samples: (o.loaded ?? []).map((m) => ({labels: {model: m.name}, value: m.sizeVram}))},
    {name: 'ollama_gpu_utilization_percent', help: 'GPU utilisation (nvidia-smi utilization.gpu).', type: 'gauge', samples: gpu((g) => g.util)},
    {name: 'ollama_gpu_memory_used_bytes', help: 'GPU memory used.', type: 'gauge', samples: gpu((g) => (g.memUsedMiB === null ? null : g.memUsedMiB * MiB))},
    {name: 'ollama_gpu_memory_total_bytes', help: 'GPU memory total.', type: 'gauge', samples: gpu((g) => (g.memTotalMiB === null ? null : g.memTotalMiB * MiB))},
    {name: 'ollama_gpu_temperature_celsius', help: 'GPU temperature.', type: 'gauge', samples: gpu((g) => g.tempC)},
    probes(c, o.probes),
    ...selfheal(c, o.monitor),
  ]
}

/** The exporter's memory between passes (the seed's /tmp/ollama_last_response.txt). */
export interface ExporterState {
  version: 1
  firstSeenAt: number
  /** Wall ms of the last time the API answered the exporter's /api/tags probe, or null. */
  lastAnsweredAt: number | null
}

/**
 * `ollama_last_request_timestamp` is the last request medic saw complete: the exporter's own
 * /api/tags probe answering (the seed's source). Ollama has no request log or metrics
 * endpoint, and a client's completed request only shows as a later expires_at in /api/ps —
 * which is never later than a probe that answers in the same pass. The frozen duration is
 * the time since then (since the first pass, when it never answered; never the epoch).
 */
export function stepExporter(prev: ExporterState | null, now: number, answered: boolean): {state: ExporterState; lastRequestAt: number | null; downSince: number | null} {
  const state: ExporterState = {version: 1, firstSeenAt: prev?.firstSeenAt ?? now, lastAnsweredAt: answered ? now : (prev?.lastAnsweredAt ?? null)}
  return {state, lastRequestAt: state.lastAnsweredAt, downSince: answered ? null : (state.lastAnsweredAt ?? state.firstSeenAt)}
}
