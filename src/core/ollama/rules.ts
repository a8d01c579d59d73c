/**
 * `medic ollama rules`: the seed's selfhealing_rules.yml made valid, over series medic
 * emits. Every seed rule whose inputs exist is restored under its seed name (so existing
 * Alertmanager routes keep matching), each with `for:`, a severity and a runbook line.
 * Not restored, for want of any producer of their inputs: the goroutine half of
 * OllamaFrozen (`ollama_frozen_goroutines`) and `ollama:performance:ratio`
 * (`ollama_tokens_generated`). Series that both textfiles carry are aggregated with
 * `max without(collector)`.
 */
import {stringify} from 'yaml'

export interface AlertRule {
  alert: string
  expr: string
  for: string
  labels: {severity: 'critical' | 'warning'; [k: string]: string}
  annotations: {summary: string; description: string; runbook: string}
  /** Which seed rule this restores (documentation, not rendered). */
  seed: string | null
}

export interface RecordRule {
  record: string
  expr: string
  seed: string
}

const M = (e: string) => `max without(collector) (${e})`

export const ALERTS: AlertRule[] = [
  {
    alert: 'OllamaDown', seed: null, for: '2m',
    expr: `${M('ollama_up')} == 0`,
    labels: {severity: 'critical'},
    annotations: {summary: 'Ollama API is not answering', description: 'ollama_up has been 0 for 2 minutes.', runbook: 'medic ollama frozen-check --test; then journalctl -u ollama -n 200 (or docker logs ollama)'},
  },
  {
    alert: 'OllamaFrozen', seed: 'OllamaFrozen', for: '1m',
    expr: `${M('ollama_frozen_duration_seconds{collector="frozen-check"}')} > 180`,
    labels: {severity: 'critical', action: 'selfheal', service: 'ollama'},
    annotations: {summary: 'Ollama is frozen', description: 'Inference stalled behind a live API, or the API down or wedged, for {{ $value }}s.', runbook: 'medic ollama frozen-check -v shows the evidence; diagnostics are in the state dir (ollama/diag-*); medic restarts it within its budget'},
  },
  {
    alert: 'ServiceStalled', seed: 'ServiceStalled', for: '2m',
    expr: `${M('ollama_frozen_duration_seconds{collector="frozen-check"}')} > 0 and ${M('ollama_up{collector="frozen-check"}')} == 1`,
    labels: {severity: 'critical', action: 'selfheal', service: 'ollama'},
    annotations: {summary: 'Ollama answers but makes no progress', description: 'The stall signature (model loaded, GPU idle, work pending) has held for 2 minutes while the API answers: seed 004.', runbook: 'nvidia-smi; ollama ps; medic ollama frozen-check -v; it acts after --threshold and --confirmations'},
  },
  {
    alert: 'SelfHealingExhausted', seed: 'SelfHealingExhausted', for: '1m',
    expr: `${M('ollama_selfheal_restart_budget_exhausted')} == 1`,
    labels: {severity: 'warning'},
    annotations: {summary: 'medic stopped restarting Ollama: restart budget spent', description: 'Restarts did not help; a human (or a reboot, if the GPU is wedged) is needed.', runbook: 'read the diagnostics in the state dir; fix the cause; then medic ollama frozen-check --reset'},
  },
  {
    alert: 'ConsecutiveFailures', seed: 'ConsecutiveFailures', for: '3m',
    expr: `${M('ollama_selfheal_consecutive_failures')} > 2`,
    labels: {severity: 'critical'},
    annotations: {summary: 'Ollama keeps failing its checks and medic is not fixing it', description: '{{ $value }} consecutive failed canaries or liveness probes.', runbook: 'medic ollama frozen-check -v says why it does not act (repair off, cooldown, budget, GPU wedged)'},
  },
  {
    alert: 'OllamaSlowResponse', seed: 'OllamaSlowResponse', for: '3m',
    expr: `max without(collector, endpoint) (quantile_over_time(0.95, ollama_probe_duration_seconds[5m])) > 2`,
    labels: {severity: 'warning'},
    annotations: {summary: "Ollama's API answers slowly", description: "p95 of medic's probe latency over 5 minutes is {{ $value }}s.", runbook: 'ollama ps (a model loading?); journalctl -u ollama; host load and swap'},
  },
  {
    alert: 'OllamaMemoryPressure', seed: 'OllamaMemoryPressure', for: '5m',
    expr: 'ollama_gpu_memory_used_bytes / ollama_gpu_memory_total_bytes > 0.95',
    labels: {severity: 'warning'},
    annotations: {summary: 'GPU {{ $labels.gpu }} memory above 95%', description: 'VRAM use is {{ $value | humanizePercentage }} of the total.', runbook: 'ollama ps; unload models (keep_alive 0) or lower OLLAMA_MAX_LOADED_MODELS / num_ctx'},
  },
  {
    alert: 'OllamaGPUOverheat', seed: 'OllamaGPUOverheat', for: '5m',
    expr: 'ollama_gpu_temperature_celsius > 85',
    labels: {severity: 'critical'},
    annotations: {summary: 'GPU {{ $labels.gpu }} above 85°C', description: 'GPU temperature is {{ $value }}°C.', runbook: 'nvidia-smi -q -d TEMPERATURE,PERFORMANCE; check fans and airflow; throttling follows'},
  },
  {
    alert: 'OllamaRestartedRecently', seed: null, for: '1m',
    expr: `${M('increase(ollama_selfheal_restarts_total[1h])')} > 0`,
    labels: {severity: 'warning'},
    annotations: {summary: 'medic restarted Ollama in the last hour', description: 'ollama_selfheal_restarts_total grew in the last hour: Ollama froze or went down, and medic acted.', runbook: 'the diagnostics medic captured before acting are in the state dir (ollama/diag-*)'},
  },
  {
    alert: 'OllamaSelfhealStale', seed: null, for: '1m',
    expr: 'time() - ollama_selfheal_last_check_timestamp_seconds > 300',
    labels: {severity: 'warning'},
    annotations: {summary: 'medic ollama frozen-check has not run for 5 minutes', description: 'Its unit, timer or cron job is not running: scripts in git are not scripts running.', runbook: 'systemctl status ollama-frozen-monitor; medic verify'},
  },
]

export const RECORDS: RecordRule[] = [
  {record: 'ollama:frozen_duration:seconds', seed: 'ollama:frozen_duration:seconds', expr: M('ollama_frozen_duration_seconds')},
  {record: 'ollama:health:status', seed: 'ollama:health:status', expr: `${M('ollama_up')} * (${M('ollama_frozen_duration_seconds')} < bool 180)`},
  {record: 'selfhealing:service_health:ratio', seed: 'selfhealing:service_health:ratio', expr: 'avg without(collector) (avg_over_time(ollama_up[1h]))'},
  {record: 'selfhealing:stall_duration:seconds', seed: 'selfhealing:stall_duration:seconds', expr: M('ollama_frozen_duration_seconds{collector="frozen-check"}')},
]

export function rulesYaml(): string {
  const doc = {
    groups: [
      {name: 'medic-ollama', interval: '30s', rules: ALERTS.map((r) => ({alert: r.alert, expr: r.expr, for: r.for, labels: r.labels, annotations: r.annotations}))},
      {name: 'medic-ollama-records', interval: '30s', rules: RECORDS.map((r) => ({record: r.record, expr: r.expr}))},
    ],
  }
  const head = [
    '# medic ollama rules: Prometheus rules over the series medic ollama frozen-check and',
    '# medic ollama metrics write. Restored from selfhealing_rules.yml: ' + [...new Set([...ALERTS, ...RECORDS].map((r) => r.seed).filter(Boolean))].join(', ') + '.',
    '# Not restored (nothing emits their inputs): ollama_frozen_goroutines, ollama:performance:ratio.',
  ]
  return head.join('\n') + '\n' + stringify(doc, {lineWidth: 0})
}
