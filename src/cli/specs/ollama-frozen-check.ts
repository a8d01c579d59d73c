import {COMMON_FLAGS} from '../common-flags.js'
import {MANAGER_FLAGS} from '../manager-flags.js'
import type {CommandSpec} from '../spec.js'

const spec: CommandSpec = {
  id: 'ollama frozen-check',
  subject: 'OLLAMA',
  summary: 'Catch the Ollama whose API answers while inference is dead; fix it within a budget; export metrics.',
  description: `One pass by default (cron, heartbeat); --watch loops (a systemd service), printing a verdict line when the status changes. State between passes lives in the state dir, so the first pass after install never acts.

Detection (research/ollama.md §5): liveness (/api/version), inventory (/api/ps: a timeout means busy or loading, not frozen; nothing loaded is healthy idle and never gets a canary), progress evidence (GPU utilisation of the GPUs holding the runner, VRAM moving, runner CPU per process and per thread, runner read bytes), the stall signature held for --threshold (twice as long without GPU evidence), then a 1-token canary (num_predict 1, no keep_alive, only against a model already loaded, aborted at --canary-timeout), and --confirmations consecutive failed canaries before acting. A long generation with the GPU busy, and a model load, are never frozen.

Remediation: diagnostics first (ps JSON, nvidia-smi, runner /proc status, last log lines) into the state dir; then kill only the stuck runner (identity-checked TERM → KILL), or — when that was already tried for this freeze, or there is no killable runner — restart through --manager (default: systemctl restart ollama); verify after --cooldown with the same probes. A sliding-window budget (--max-restarts per --restart-window) is persisted; a wedged GPU (nvidia-smi hanging or failing, VRAM held by no process) stops restarts and alerts for a reboot.

OLLAMA_OK          healthy: idle, busy, loading, or a false alarm
OLLAMA_RECOVERED   frozen, fixed, verified
OLLAMA_ALERT       down, frozen and not fixed, budget spent, GPU wedged
OLLAMA_UNKNOWN     bad input, or a freeze suspected and still being confirmed

The positional form of ollama_frozen_monitor.sh still works: medic ollama frozen-check 180 15 3 60 = --threshold 180 --interval 15 --max-restarts 3 --cooldown 60 (the script's third argument was the hourly restart limit).`,
  examples: [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> 180 15 3 60 --watch --metrics-file /var/lib/prometheus/node-exporter/ollama_selfheal.prom',
    'OLLAMA_HOST=0.0.0.0:11434 <%= config.bin %> <%= command.id %> --manager docker --container ollama --json',
  ],
  flags: {
    url: {type: 'string', env: 'OLLAMA_HOST', description: 'Ollama address, parsed as Ollama parses OLLAMA_HOST (default http://127.0.0.1:11434).'},
    threshold: {type: 'duration', default: '180s', description: 'How long the stall signature must hold before a canary.'},
    interval: {type: 'duration', default: '15s', min: 10, description: 'Time between passes with --watch.'},
    confirmations: {type: 'integer', default: '3', min: 1, description: 'Consecutive failed canaries before acting.'},
    cooldown: {type: 'duration', default: '60s', description: 'Wait after a remediation before verifying; no second remediation inside it.'},
    'max-restarts': {type: 'integer', default: '3', min: 1, description: 'Remediations allowed per --restart-window (persisted).'},
    'restart-window': {type: 'duration', default: '1h', description: 'The sliding window of the budget.'},
    'canary-timeout': {type: 'duration', default: '30s', description: 'Deadline of the 1-token canary.'},
    'gpu-busy': {type: 'integer', default: '5', min: 0, max: 100, description: 'GPU utilisation (percent) above which inference is progressing.'},
    'gpu-samples': {type: 'integer', default: '3', min: 1, max: 10, description: 'nvidia-smi samples per pass, 1s apart (the max counts).'},
    'nvidia-timeout': {type: 'duration', default: '10s', description: 'Timeout of one nvidia-smi call (it can hang on a wedged GPU).'},
    'ps-timeout': {type: 'duration', default: '10s', description: 'Timeout of /api/ps; since v0.32.4 it waits on a loading runner, so a timeout means busy, not frozen.'},
    'runner-kill': {type: 'boolean', allowNo: true, default: true, description: 'First try killing only the stuck runner (--no-runner-kill: restart at once).'},
    repair: {type: 'boolean', allowNo: true, default: true, description: 'Remediate (--no-repair: detect and alert only).'},
    'dry-run': {type: 'boolean', description: 'Say what would be done; change nothing.'},
    watch: {type: 'boolean', description: 'Loop every --interval; print a verdict line when the status changes.'},
    'metrics-file': {type: 'string', description: 'Prometheus textfile to refresh every pass (default $TEXTFILE_DIR/ollama_selfheal.prom when TEXTFILE_DIR is set).'},
    grace: {type: 'duration', default: '10s', description: 'SIGTERM → SIGKILL grace for a runner.'},
    protect: {type: 'regex', multiple: true, description: 'Never signal a process matching this.'},
    ...MANAGER_FLAGS,
    manager: {...MANAGER_FLAGS.manager, default: 'systemd', description: 'What restarts Ollama (systemd: systemctl restart <unit>).'},
    unit: {...MANAGER_FLAGS.unit, default: 'ollama', description: 'systemd unit of Ollama.'},
    ...COMMON_FLAGS,
  },
  args: [
    {name: 'threshold', type: 'duration', description: 'as ollama_frozen_monitor.sh $1', into: 'threshold'},
    {name: 'interval', type: 'duration', description: '$2', into: 'interval'},
    {name: 'max-restarts', type: 'integer', description: '$3 (restarts per hour)', into: 'max-restarts'},
    {name: 'cooldown', type: 'duration', description: '$4', into: 'cooldown'},
  ],
  async run({parsed, deadlineAt, stderr}) {
    const f = parsed.flags
    const [{frozenCheck, frozenWatch}, {makeProcessDeps}, {buildManager}, {ollamaBaseUrl}, {join}] = await Promise.all([
      import('../../ops/ollama.js'), import('../../deps.js'), import('../manager-flags.js'), import('../../core/ollama/host.js'), import('node:path'),
    ])
    const url = ollamaBaseUrl(f.url as string | undefined)
    const base = makeProcessDeps({stateDir: f['state-dir'] as string | undefined, logFile: f['log-file'] as string | undefined, stderr})
    const {manager} = await buildManager(f, {name: 'ollama', graceMs: f.grace as number, deadlineAt, deps: base})
    const metricsFile = (f['metrics-file'] as string | undefined) ?? (process.env.TEXTFILE_DIR ? join(process.env.TEXTFILE_DIR, 'ollama_selfheal.prom') : null)
    const input = {
      url,
      config: {thresholdMs: f.threshold as number, confirmations: f.confirmations as number, cooldownMs: f.cooldown as number, gpuBusyPct: f['gpu-busy'] as number, maxRestarts: f['max-restarts'] as number, restartWindowMs: f['restart-window'] as number},
      canaryTimeoutMs: f['canary-timeout'] as number, repair: f.repair !== false, dryRun: f['dry-run'] === true, runnerKill: f['runner-kill'] !== false,
      gpuSamples: f['gpu-samples'] as number, psTimeoutMs: f['ps-timeout'] as number, nvidiaTimeoutMs: f['nvidia-timeout'] as number,
      statePath: base.layout.ollamaFrozen(new URL(url).host), diagDir: base.layout.ollamaDir,
      metricsFile, graceMs: f.grace as number, protect: f.protect as RegExp[], unit: f.unit as string, deadlineAt,
    }
    const deps = {...base, manager, announce: (l: string) => process.stdout.write(`${l}\n`)}
    return f.watch ? frozenWatch(input, deps, f.interval as number) : frozenCheck(input, deps)
  },
}

export default spec
