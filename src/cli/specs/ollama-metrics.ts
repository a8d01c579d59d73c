import {COMMON_FLAGS} from '../common-flags.js'
import type {CommandSpec} from '../spec.js'

const spec: CommandSpec = {
  id: 'ollama metrics',
  subject: 'OLLAMA',
  summary: 'Ollama and GPU metrics as a valid Prometheus textfile, one-shot or --watch.',
  description: `Replaces ollama_metrics_exporter.sh: ollama_up, ollama_models_loaded (installed models, the seed's meaning), ollama_models_total_size_bytes, ollama_models_active, ollama_vram_used_bytes, per-model size and VRAM, and per-GPU (gpu label) utilisation, memory used/total and temperature. Written atomically to its own file — never the monitor's — with one HELP/TYPE per family and no empty or N/A samples.

OLLAMA_OK      written; the API answered
OLLAMA_ALERT   written, but the API is down (ollama_up 0)`,
  examples: ['<%= config.bin %> <%= command.id %> --stdout', '<%= config.bin %> <%= command.id %> --watch 15s --file /var/lib/prometheus/node-exporter/ollama.prom'],
  flags: {
    url: {type: 'string', env: 'OLLAMA_HOST', description: 'Ollama address (default http://127.0.0.1:11434).'},
    file: {type: 'string', description: 'Textfile to write (default $TEXTFILE_DIR/ollama.prom when TEXTFILE_DIR is set).'},
    stdout: {type: 'boolean', description: 'Print the metrics on stdout after the verdict line instead of (or as well as) writing the file.'},
    watch: {type: 'duration', description: 'Refresh every this long (e.g. 15s) until SIGTERM.'},
    'nvidia-timeout': {type: 'duration', default: '10s', description: 'Timeout of nvidia-smi.'},
    ...COMMON_FLAGS,
  },
  async run({parsed}) {
    const f = parsed.flags
    const [{ollamaMetrics}, {watchLoop}, {ollamaBaseUrl}, {join}] = await Promise.all([import('../../ops/ollama.js'), import('../../ops/watch-loop.js'), import('../../core/ollama/host.js'), import('node:path')])
    const file = (f.file as string | undefined) ?? (process.env.TEXTFILE_DIR ? join(process.env.TEXTFILE_DIR, 'ollama.prom') : null)
    const input = {url: ollamaBaseUrl(f.url as string | undefined), nvidiaTimeoutMs: f['nvidia-timeout'] as number, file}
    const announce = (l: string) => process.stdout.write(`${l}\n`)
    if (f.watch) return watchLoop(async () => (await ollamaMetrics(input, {announce})).verdict, {announce, intervalMs: f.watch as number, subject: 'OLLAMA'})
    const {verdict, text} = await ollamaMetrics(input, {announce})
    // The metrics follow line 1 as detail lines; their names never look like tokens.
    if (f.stdout) {
      verdict.details = text.trimEnd().split('\n')
      verdict.printDetails = true
    }
    return verdict
  },
}

export default spec
