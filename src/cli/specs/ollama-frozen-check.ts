import {COMMON_FLAGS, CONFIG_FLAG} from '../common-flags.js'
import {exitCodeTable} from '../exit-codes.js'
import {MANAGER_FLAGS} from '../manager-flags.js'
import {command} from '../spec.js'

const spec = command({
  id: 'ollama frozen-check',
  subject: 'OLLAMA',
  summary: 'Catch the Ollama whose API answers while inference is dead, or that stopped answering; fix it within a budget; export metrics.',
  description: `One pass by default (cron, heartbeat); --watch loops (a systemd service), printing a verdict line when the status changes and nothing else on stdout. State between passes lives in the state dir, so the first pass after install never acts. One pass at a time per Ollama (a lock in the state dir).

Two freezes, one policy. (1) Inference stalled behind a live API (seed 004): liveness (/api/version), inventory (/api/ps: a timeout means busy or loading; nothing loaded is healthy idle and never gets a canary), progress evidence (GPU utilisation of the GPUs holding the runner, VRAM moving, runner CPU per process and per thread, runner read bytes); the stall signature held for --threshold (twice as long without GPU evidence), then a 1-token canary (num_predict 1, no keep_alive, only a model already loaded, aborted at --canary-timeout) while the GPU is read every second. (2) The API itself down or wedged (refused, or accepted and never answered — the seed's "pkill -STOP ollama" drill): held for --threshold, then each further failed liveness probe is a confirmation. Either acts after --confirmations consecutive failures.

Remediation: diagnostics first (ps JSON, nvidia-smi, /proc status of the server and runners, last log lines) into the state dir; then, by what medic sees: a stall → kill only the stuck runner (identity-checked TERM → KILL), or — when that was already tried for this freeze, or there is no killable runner — restart through --manager; a stopped server (state T, the LISTEN owner of the API port, and the Ollama server by identity: its executable is ollama run with serve, or it is in the cgroup of the systemd --unit; never a name match) → SIGTERM + SIGCONT to it and its runners, then a start through --manager; refused with no Ollama process at all → a start through --manager; anything else (a hung server, a remote host, --manager ssh) → the manager restart. Never signalled: a client of the port, a traced (t) or protected process, a stopped listener that is not the Ollama server by identity, e.g. python3 ollama_proxy.py (ALERT instead; a hung one is not killed to free the port either). Verified after --cooldown with the same probes. A sliding-window budget (--max-restarts per --restart-window) is persisted; a wedged GPU (nvidia-smi hanging or failing, VRAM held by no process) stops restarts and alerts for a reboot.

OLLAMA_OK          healthy: idle, generating, loading (seen), or a false alarm (the canary answered)
OLLAMA_RECOVERED   frozen or down, fixed, verified
OLLAMA_ALERT       down, frozen and not fixed, budget spent, GPU wedged
OLLAMA_UNKNOWN     bad input; a stall suspected whose canary is pending (before --threshold) or failed fewer than --confirmations times; /api/ps blocked (could not see)

The seed's monitor contract (ollama_frozen_monitor.sh): the positional form runs the monitor LOOP as the seed did — medic ollama frozen-check 180 15 3 60 = --watch --threshold 180 --interval 15 --max-restarts 3 --cooldown 60 (the third argument was the hourly restart limit), so it drops into the seed's unit unchanged. --test prints one line, responsive or frozen (or, when the API answers but /api/ps does not, OLLAMA_UNKNOWN: inference not checked) and "GPU: N%", and exits 0 whatever it saw, as the seed did. --reset clears the persisted suspicion, budget window and cooldown (restarts_total stays a counter). OLLAMA_SERVICE names the unit, TEXTFILE_DIR the metrics directory, as in the seed.`,
  examples: [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> 180 15 3 60',
    '<%= config.bin %> <%= command.id %> --test',
    '<%= config.bin %> <%= command.id %> --watch --interval 15s --metrics-file /var/lib/prometheus/node-exporter/ollama_selfheal.prom',
    'OLLAMA_HOST=http://192.168.15.2:11434 <%= config.bin %> <%= command.id %> --manager ssh --ssh homelab@192.168.15.2',
    'OLLAMA_HOST=0.0.0.0:11434 <%= config.bin %> <%= command.id %> --manager docker --container ollama --json',
  ],
  exitCodes: `${exitCodeTable()}\n--test exits 0 whatever it saw, in both modes (the seed's self-test); the token still says what it saw.`,
  flags: {
    url: {type: 'string', env: 'OLLAMA_HOST', description: 'Ollama address, parsed as Ollama parses OLLAMA_HOST (default http://127.0.0.1:11434).'},
    threshold: {type: 'duration', default: '180s', description: 'How long a stall or a down API must hold before medic confirms it.'},
    interval: {type: 'duration', default: '15s', min: 10, description: 'Time between passes with --watch (and the positional form).'},
    confirmations: {type: 'integer', default: '3', min: 1, description: 'Consecutive failed canaries (or liveness probes) before acting.'},
    cooldown: {type: 'duration', default: '60s', description: 'Wait after a remediation before verifying; no second remediation inside it.'},
    'max-restarts': {type: 'integer', default: '3', min: 1, description: 'Remediations allowed per --restart-window (persisted).'},
    'restart-window': {type: 'duration', default: '1h', description: 'The sliding window of the budget.'},
    'canary-timeout': {type: 'duration', default: '30s', description: 'Deadline of the 1-token canary; the liveness probe gets the same, between 1s and 5s.'},
    'gpu-busy': {type: 'integer', default: '5', min: 0, max: 100, description: 'GPU utilisation (percent) above which inference is progressing.'},
    'gpu-samples': {type: 'integer', default: '3', min: 1, max: 10, description: 'nvidia-smi readings per canary: one in the pass, the rest 1s apart while the canary waits (the max counts).'},
    'nvidia-timeout': {type: 'duration', default: '10s', description: 'Timeout of one nvidia-smi call (it can hang on a wedged GPU).'},
    'ps-timeout': {type: 'duration', default: '10s', description: 'Timeout of /api/ps; since v0.32.4 it waits on a loading runner, so a timeout means busy, not frozen.'},
    'runner-kill': {type: 'boolean', allowNo: true, default: true, description: 'First try killing only the stuck runner (--no-runner-kill: restart at once).'},
    repair: {type: 'boolean', allowNo: true, default: true, description: 'Remediate (--no-repair: detect and alert only).'},
    'dry-run': {type: 'boolean', description: 'Say what would be done; change nothing.'},
    watch: {type: 'boolean', description: 'Loop every --interval; print a verdict line when the status changes.'},
    test: {type: 'boolean', description: 'One look, one line: responsive or frozen, and GPU: N%; exit 0 (the seed\'s --test). Changes nothing.'},
    reset: {type: 'boolean', description: 'Clear the persisted suspicion, restart budget and cooldown (the seed\'s --reset).'},
    grace: {type: 'duration', default: '10s', description: 'SIGTERM → SIGKILL grace for a runner or a stopped server.'},
    protect: {type: 'regex', multiple: true, description: 'Never signal a process matching this.'},
    ...MANAGER_FLAGS,
    manager: {...MANAGER_FLAGS.manager, options: [...MANAGER_FLAGS.manager.options, 'ssh'], default: 'systemd', description: 'What restarts Ollama (systemd: systemctl restart <unit>; ssh: the same on the --ssh host).'},
    unit: {...MANAGER_FLAGS.unit, default: 'ollama', env: 'OLLAMA_SERVICE', description: 'systemd unit of Ollama (here, or on the --ssh host).'},
    ssh: {type: 'string', description: '--manager ssh: [user@]host or ssh://[user@]host[:port] where Ollama runs (BatchMode, ConnectTimeout from --command-timeout).'},
    'ssh-config': {type: 'string', description: '--manager ssh: an ssh_config file (ssh -F): keys, known hosts, jump hosts.'},
    'ssh-identity': {type: 'string', description: '--manager ssh: private key file (ssh -i).'},
    'ssh-sudo': {type: 'boolean', allowNo: true, default: true, description: '--manager ssh: run "sudo -n systemctl restart <unit>" (--no-ssh-sudo: without sudo, e.g. as root).'},
    config: CONFIG_FLAG,
    ...COMMON_FLAGS,
    // The seed monitor's own textfile (ollama_* series), not the common flag: this command's
    // medic_check_* series go to $MEDIC_TEXTFILE_DIR (cli/observe.ts).
    'metrics-file': {type: 'string', description: "Prometheus textfile of the monitor's ollama_* series, refreshed every pass (default $TEXTFILE_DIR/ollama_selfheal.prom when TEXTFILE_DIR is set). Medic's own: line 1 is its header; a symlink, a non-regular file, a file medic did not write, the exporter's file, or one another running medic writes is left alone (an OK pass becomes OLLAMA_UNKNOWN). This command's medic_check_* series go to $MEDIC_TEXTFILE_DIR."},
  },
  args: [
    {name: 'threshold', type: 'duration', description: 'ollama_frozen_monitor.sh $1: --threshold, and run the monitor loop'},
    {name: 'interval', type: 'duration', description: '$2: --interval'},
    {name: 'max-restarts', type: 'integer', description: '$3: --max-restarts (per hour)'},
    {name: 'cooldown', type: 'duration', description: '$4: --cooldown'},
  ],
  async run({parsed, deadlineAt, stderr, observe}) {
    const [{seedMonitorArgs, oneMode, remoteUnitName}, {ollamaEndpoint}, {join}] = await Promise.all([
      import('../validate.js'), import('../../core/ollama/host.js'), import('node:path'),
    ])
    // The seed's positional form: $1..$4, each also a flag; given, it is the monitor loop.
    const f = {...parsed.flags, ...seedMonitorArgs(parsed.positionals, parsed.given)}
    const seedLoop = parsed.positionals.length > 0
    oneMode([f.test && '--test', f.reset && '--reset', f.watch && '--watch', seedLoop && 'the positional (monitor loop) form'])

    const ollama = ollamaEndpoint(f.url)
    const [{makeProcessDeps}, {buildManager}] = await Promise.all([import('../../deps.js'), import('../manager-flags.js')])
    const base = await makeProcessDeps({stateDir: f['state-dir'], config: f.config, logFile: f['log-file'], stderr, protect: f.protect})
    const {UsageError} = await import('../parse.js')
    if (f.ssh !== undefined && parsed.given.has('manager') && f.manager !== 'ssh') throw new UsageError(`--ssh goes with --manager ssh, not --manager ${f.manager}`)
    let manager
    if (f.manager === 'ssh' || f.ssh !== undefined) {
      const [{parseSshTarget, safeRemoteWord}, {sshManager}] = await Promise.all([import('../../core/ssh-target.js'), import('../../sys/ssh-manager.js')])
      if (f.ssh === undefined) throw new UsageError('--manager ssh needs --ssh [user@]host')
      const t = parseSshTarget(f.ssh)
      if (!t.ok) throw new UsageError(t.why)
      const unit = remoteUnitName(f.unit, safeRemoteWord)
      manager = sshManager({destination: t.destination, unit, sudo: f['ssh-sudo'] !== false, configFile: f['ssh-config'], identityFile: f['ssh-identity'], cmdTimeoutMs: f['command-timeout']})
    } else manager = (await buildManager(f, {name: 'ollama', graceMs: f.grace, deadlineAt, port: ollama.port, deps: base})).manager
    const metricsFile = f['metrics-file'] ?? (process.env.TEXTFILE_DIR ? join(process.env.TEXTFILE_DIR, 'ollama_selfheal.prom') : null)
    const canaryTimeoutMs = f['canary-timeout']
    const input = {
      url: ollama.url, port: ollama.port, visible: ollama.loopback && manager.kind !== 'ssh',
      config: {thresholdMs: f.threshold, confirmations: f.confirmations, cooldownMs: f.cooldown, gpuBusyPct: f['gpu-busy'], maxRestarts: f['max-restarts'], restartWindowMs: f['restart-window']},
      canaryTimeoutMs, probeTimeoutMs: Math.min(5000, Math.max(1000, canaryTimeoutMs)), repair: f.repair !== false, dryRun: f['dry-run'] === true, runnerKill: f['runner-kill'] !== false,
      gpuSamples: f['gpu-samples'], psTimeoutMs: f['ps-timeout'], nvidiaTimeoutMs: f['nvidia-timeout'],
      statePath: base.layout.ollamaFrozen(ollama.host), diagPath: (stamp: string) => base.layout.ollamaDiag(stamp), metricsFile, graceMs: f.grace,
      unit: f.unit, serverUnit: manager.kind === 'systemd' || manager.kind === 'systemd-user' ? f.unit : null, container: f.container ?? 'ollama', deadlineAt,
    }
    const deps = {...base, manager, announce: (l: string) => process.stdout.write(`${l}\n`), observe}
    const ops = await import('../../ops/ollama-monitor.js')
    if (f.test) return ops.frozenTest(input, deps)
    if (f.reset) return ops.frozenReset(input, deps)
    if (f.watch || seedLoop) {
      const {toJson} = await import('../../core/verdict.js')
      const mode = f['exit-codes']
      const render = f.json ? (v: import('../../core/verdict.js').Verdict) => JSON.stringify(toJson(v, mode, 0)) : undefined
      return ops.frozenWatch(input, deps, f.interval, render)
    }
    return ops.frozenPass(input, deps)
  },
})

export default spec
