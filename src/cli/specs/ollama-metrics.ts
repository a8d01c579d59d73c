import {COMMON_FLAGS} from '../common-flags.js'
import {command} from '../spec.js'

const spec = command({
  id: 'ollama metrics',
  subject: 'OLLAMA',
  summary: 'Ollama and GPU metrics as a valid Prometheus textfile, one-shot or --watch (the seed\'s --daemon).',
  description: `Replaces ollama_metrics_exporter.sh, with every name it wrote: ollama_up, ollama_last_request_timestamp (the last time medic's own /api/tags probe was answered — the seed's source; Ollama has no request log or metrics endpoint), ollama_frozen_duration_seconds (seconds since the API last answered this exporter, 0 while it answers), ollama_models_loaded (INSTALLED models, the seed's meaning, kept for its dashboards; ollama_models_installed says the same under a true name, ollama_loaded_models and ollama_models_active count the models in memory), ollama_models_total_size_bytes, ollama_vram_used_bytes, per-model size and VRAM, per-GPU (gpu label) utilisation, memory used/total and temperature, probe latency (ollama_probe_duration_seconds), and the monitor's restart counters read from its state (ollama_selfheal_restarts_total, ollama_last_restart_timestamp and its _seconds twin; 0 before the first). Written atomically to its own file — never the monitor's — with one HELP/TYPE per family and no empty or N/A samples; families both files carry have a collector label.

The seed's modes: --daemon [interval] is --watch (default 15s, as the seed: medic ollama metrics --daemon 15), --test prints the metrics (as --stdout). OLLAMA_HOST and TEXTFILE_DIR as in the seed.

OLLAMA_OK        written; the API answered
OLLAMA_ALERT     written, but the API is down (ollama_up 0)
OLLAMA_UNKNOWN   the textfile could not be written, or was refused (not medic's, a symlink or FIFO, another writer's)`,
  examples: ['<%= config.bin %> <%= command.id %> --stdout', '<%= config.bin %> <%= command.id %> --watch 15s --file /var/lib/prometheus/node-exporter/ollama.prom', 'TEXTFILE_DIR=/var/lib/prometheus/node-exporter <%= config.bin %> <%= command.id %> --daemon 15'],
  flags: {
    url: {type: 'string', env: 'OLLAMA_HOST', description: 'Ollama address (default http://127.0.0.1:11434).'},
    file: {type: 'string', description: "Textfile to write (default $TEXTFILE_DIR/ollama.prom when TEXTFILE_DIR is set). Medic's own: line 1 is its header; a symlink, a non-regular file, a file medic did not write, frozen-check's file, or one another running medic writes is left alone (OLLAMA_UNKNOWN)."},
    stdout: {type: 'boolean', description: 'Print the metrics on stdout, alone (a valid exposition); the verdict line goes to stderr. With --json: in the object\'s "exposition".'},
    test: {type: 'boolean', description: 'The seed exporter\'s --test: print the metrics (same as --stdout).'},
    watch: {type: 'duration', description: 'Refresh every this long (e.g. 15s) until SIGTERM.'},
    daemon: {type: 'boolean', description: 'The seed exporter\'s --daemon [interval]: --watch, every [interval] (default 15s).'},
    'nvidia-timeout': {type: 'duration', default: '10s', description: 'Timeout of nvidia-smi.'},
    ...COMMON_FLAGS,
  },
  args: [{name: 'interval', type: 'duration', description: 'with --daemon: seconds between refreshes (default 15)', max: 1}],
  async run({parsed, observe}) {
    const f = parsed.flags
    const [{exporterInterval}, {ollamaEndpoint}, {stateLayout}, {join}] = await Promise.all([
      import('../validate.js'), import('../../core/ollama/host.js'), import('../../sys/state-layout.js'), import('node:path'),
    ])
    const intervalMs = exporterInterval(f, parsed.positionals)
    const {url, host} = ollamaEndpoint(f.url)
    const layout = stateLayout(f['state-dir'])
    const file = f.file ?? (process.env.TEXTFILE_DIR ? join(process.env.TEXTFILE_DIR, 'ollama.prom') : null)
    const input = {url, nvidiaTimeoutMs: f['nvidia-timeout'], file, statePath: layout.ollamaExporter(host), monitorStatePath: layout.ollamaFrozen(host)}
    const [{ollamaMetrics}, {procTable}] = await Promise.all([import('../../ops/ollama-exporter.js'), import('../../sys/proc-table.js')])
    const once = () => ollamaMetrics(input, Date.now(), {procs: procTable, selfPid: process.pid})
    if (intervalMs !== undefined) {
      const [{watchLoop}, {toJson}] = await Promise.all([import('../../ops/watch-loop.js'), import('../../core/verdict.js')])
      const mode = f['exit-codes']
      const render = f.json ? (v: import('../../core/verdict.js').Verdict) => JSON.stringify(toJson(v, mode, 0)) : undefined
      return watchLoop(async () => (await once()).verdict, {announce: (l) => process.stdout.write(`${l}\n`), intervalMs, subject: 'OLLAMA', render, observe})
    }
    const {verdict, text} = await once()
    // stdout is the exposition alone (promtool-valid, as the seed's --test); the verdict line goes to stderr.
    if (f.stdout || f.test) {
      verdict.data = text
      verdict.extra = {...verdict.extra, exposition: text}
    }
    return verdict
  },
})

export default spec
