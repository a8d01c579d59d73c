import type {Family} from '../prom.js'
import type {InstalledModel, LoadedModel} from './api.js'
import type {GpuSample} from './nvidia.js'
import type {FrozenState} from './policy.js'

/**
 * The same family may appear in the monitor's file and the exporter's file; node_exporter
 * requires identical HELP and TYPE, and distinct series: hence one HELP text per name here,
 * and a `collector` label.
 */
const HELP: Record<string, string> = {
  ollama_up: '1 when the Ollama API answered the last check, 0 when it did not.',
}

export function monitorFamilies(o: {up: boolean; frozenForS: number; state: FrozenState; budgetExhausted: boolean; now: number}): Family[] {
  const c = {collector: 'frozen-check'}
  return [
    {name: 'ollama_up', help: HELP.ollama_up, type: 'gauge', samples: [{labels: c, value: o.up ? 1 : 0}]},
    {name: 'ollama_frozen_duration_seconds', help: 'How long the stall signature has held (0 when not suspected).', type: 'gauge', samples: [{value: Math.round(o.frozenForS)}]},
    {name: 'ollama_selfheal_restarts_total', help: 'Remediations (runner kills and restarts) medic performed; persisted, never reset.', type: 'counter', samples: [{value: o.state.restartsTotal}]},
    {name: 'ollama_last_restart_timestamp', help: 'Unix time of the last remediation (absent before the first).', type: 'gauge', samples: [{value: o.state.lastRestartAt === null ? null : Math.round(o.state.lastRestartAt / 1000)}]},
    {name: 'ollama_selfheal_consecutive_failures', help: 'Consecutive failed canaries.', type: 'gauge', samples: [{value: o.state.failures}]},
    {name: 'ollama_selfheal_restart_budget_exhausted', help: '1 when the restart budget of the window is spent.', type: 'gauge', samples: [{value: o.budgetExhausted ? 1 : 0}]},
    {name: 'ollama_selfheal_false_alarms_total', help: 'Suspected freezes that a successful canary cleared.', type: 'counter', samples: [{value: o.state.falseAlarms}]},
    {name: 'ollama_selfheal_last_check_timestamp_seconds', help: 'Unix time of the last check.', type: 'gauge', samples: [{value: Math.round(o.now / 1000)}]},
  ]
}

export function exporterFamilies(o: {up: boolean; installed: InstalledModel[] | null; loaded: LoadedModel[] | null; gpus: GpuSample[] | null}): Family[] {
  const c = {collector: 'metrics'}
  const MiB = 1048576
  const gpu = (f: (g: GpuSample) => number | null) => (o.gpus ?? []).map((g) => ({labels: {gpu: String(g.index)}, value: f(g)}))
  return [
    {name: 'ollama_up', help: HELP.ollama_up, type: 'gauge', samples: [{labels: c, value: o.up ? 1 : 0}]},
    {name: 'ollama_models_loaded', help: 'Models installed (/api/tags), the seed exporter\'s meaning of the name.', type: 'gauge', samples: [{value: o.installed?.length}]},
    {name: 'ollama_models_total_size_bytes', help: 'Total size of the installed models.', type: 'gauge', samples: [{value: o.installed?.reduce((n, m) => n + m.size, 0)}]},
    {name: 'ollama_models_active', help: 'Models loaded in memory (/api/ps).', type: 'gauge', samples: [{value: o.loaded?.length}]},
    {name: 'ollama_vram_used_bytes', help: 'VRAM Ollama reports for its loaded models.', type: 'gauge', samples: [{value: o.loaded?.reduce((n, m) => n + m.sizeVram, 0)}]},
    {name: 'ollama_model_loaded_size_bytes', help: 'Size of each loaded model.', type: 'gauge', samples: (o.loaded ?? []).map((m) => ({labels: {model: m.name}, value: m.size}))},
    {name: 'ollama_model_loaded_vram_bytes', help: 'VRAM of each loaded model.', type: 'gauge', samples: (o.loaded ?? []).map((m) => ({labels: {model: m.name}, value: m.sizeVram}))},
    {name: 'ollama_gpu_utilization_percent', help: 'GPU utilisation (nvidia-smi utilization.gpu).', type: 'gauge', samples: gpu((g) => g.util)},
    {name: 'ollama_gpu_memory_used_bytes', help: 'GPU memory used.', type: 'gauge', samples: gpu((g) => (g.memUsedMiB === null ? null : g.memUsedMiB * MiB))},
    {name: 'ollama_gpu_memory_total_bytes', help: 'GPU memory total.', type: 'gauge', samples: gpu((g) => (g.memTotalMiB === null ? null : g.memTotalMiB * MiB))},
    {name: 'ollama_gpu_temperature_celsius', help: 'GPU temperature.', type: 'gauge', samples: gpu((g) => g.tempC)},
  ]
}

export const RULES_YAML = `# medic ollama rules: Prometheus alerting rules over the metrics medic writes.
# Every expression names only series that 'medic ollama frozen-check' and 'medic ollama metrics' emit.
groups:
  - name: medic-ollama
    rules:
      - alert: OllamaDown
        expr: max(ollama_up) == 0
        for: 2m
        labels:
          severity: critical
        annotations:
          summary: "Ollama API is not answering"
          description: "ollama_up has been 0 for 2 minutes."
      - alert: OllamaFrozen
        expr: ollama_frozen_duration_seconds > 180
        for: 1m
        labels:
          severity: critical
        annotations:
          summary: "Ollama inference looks frozen"
          description: "The stall signature (model loaded, no GPU or CPU progress, work pending) has held for {{ $value }}s."
      - alert: OllamaSelfhealBudgetExhausted
        expr: ollama_selfheal_restart_budget_exhausted == 1
        labels:
          severity: critical
        annotations:
          summary: "medic stopped restarting Ollama: restart budget spent"
          description: "Restarts did not help; a human (or a reboot, if the GPU is wedged) is needed."
      - alert: OllamaRestartedRecently
        expr: increase(ollama_selfheal_restarts_total[1h]) > 0
        labels:
          severity: warning
        annotations:
          summary: "medic restarted Ollama in the last hour"
          description: "{{ $value }} remediation(s) in the last hour."
      - alert: OllamaSelfhealStale
        expr: time() - ollama_selfheal_last_check_timestamp_seconds > 300
        labels:
          severity: warning
        annotations:
          summary: "medic ollama frozen-check has not run for 5 minutes"
          description: "Its timer or cron job is not running: scripts in git are not scripts running."
`
