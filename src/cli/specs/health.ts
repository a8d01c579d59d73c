import {COMMON_FLAGS, CONFIG_FLAG} from '../common-flags.js'
import {MANAGER_FLAGS} from '../manager-flags.js'
import {command, flagSet, type Parsed} from '../spec.js'

const FLAGS = flagSet({
  name: {type: 'name', default: 'gateway', description: 'Service name (1-64 of A-Z a-z 0-9 . _ -): the token subject (upper-cased), the config entry, the lock and state file names.'},
  port: {type: 'port', char: 'p', env: 'OPENCLAW_GATEWAY_PORT', default: '18789', description: 'The TCP port the service listens on.'},
  url: {type: 'string', description: 'Health URL (default http://127.0.0.1:<port>/health).'},
  tcp: {type: 'boolean', description: 'Probe with a TCP connect to --host:--port instead of HTTP.'},
  host: {type: 'string', default: '127.0.0.1', description: 'Host of the TCP probe.'},
  'probe-timeout': {type: 'duration', default: '5s', description: 'Timeout of one probe; refused or timed out is DOWN.'},
  'healthy-status': {type: 'string', default: '200-399', description: 'HTTP statuses that count as healthy (a range lo-hi, or one code).'},
  'reprobe-delay': {type: 'duration', default: '3s', description: 'Wait before probing a second time when the first probe failed.'},
  ...MANAGER_FLAGS,
  'loop-threshold': {type: 'integer', default: '50', min: 1, description: 'More restarts than this in the last hour is RESTART_LOOP.'},
  repair: {type: 'boolean', allowNo: true, default: true, description: 'Repair what is found (--no-repair: check only, problems are ALERT).'},
  'dry-run': {type: 'boolean', description: 'Print the repair plan and change nothing.'},
  'verify-probes': {type: 'integer', default: '3', min: 1, max: 100, description: 'Consecutive passing probes that prove a repair.'},
  'verify-timeout': {type: 'duration', default: '30s', description: 'Deadline for those probes after the start.'},
  'verify-interval': {type: 'duration', default: '1s', description: 'Time between verification probes.'},
  'max-repairs': {type: 'integer', default: '3', min: 1, description: 'Repairs allowed per --repair-window (persisted).'},
  'repair-window': {type: 'duration', default: '1h', description: 'The sliding window of the repair budget.'},
  grace: {type: 'duration', default: '5s', description: 'SIGTERM → SIGKILL grace when freeing the port.'},
  'lock-wait': {type: 'duration', description: 'How long a concurrent run waits for the running one (default: verify-timeout + 2 × grace + 10s).'},
  protect: {type: 'regex', multiple: true, description: 'Never signal a process whose comm or command line matches (repeatable).'},
  'log-pattern': {type: 'regex', description: "LOG_PATTERN when the service logged --log-threshold lines matching this since the last run (its unit's journal, its container's logs, or --log-source). The first run takes the position."},
  'log-source': {type: 'string', description: 'A log file to read for --log-pattern instead of the journal or docker logs (rotation followed by inode; the offset kept in the state dir).'},
  'log-threshold': {type: 'integer', default: '1', min: 1, description: 'Matching lines since the last run that make LOG_PATTERN.'},
  'repair-on-log': {type: 'boolean', description: 'Restart the service on LOG_PATTERN alone (default: ALERT; a log line is evidence, not proof a restart helps).'},
  config: CONFIG_FLAG,
  ...COMMON_FLAGS,
})

const spec = command({
  id: 'health',
  subject: 'GATEWAY',
  subjectFromName: true,
  summary: 'Probe a service and repair it (stop → free the port → start → verify), with a verdict cron and heartbeat agents can trust.',
  description: `Checks a service end to end — HTTP (or TCP) probe with a timeout, the manager's state, restarts in the last hour, who holds its port (orphans outside the service, duplicates), D and Z states — and reports every problem found: RESTART_LOOP, ORPHAN_PROCESS, GATEWAY_DEAD, UNRESPONSIVE (probed twice), HUNG (D state), ZOMBIE.

Unless --no-repair, it repairs through the service's manager: stop, free the port (identity-checked TERM → grace → KILL), start, and verify by --verify-probes consecutive passing probes within --verify-timeout. A service that crashes right after starting is ALERT, never RECOVERED. Repairs are capped by a budget persisted in the state dir (--max-repairs per --repair-window), and one run at a time per service holds a lock: concurrent runs wait and report what the first did.

Managers (--manager auto detects and says which): systemd, systemd-user, supervise (medic supervise), pm2, docker, command (--start-cmd/--stop-cmd/--restart-cmd, split like systemd's ExecStart: quotes honoured, no shell), none (check only).

The service is named by flags, or by a service entry of the config file (medic health gateway). Defaults are the seed's gateway: port 18789, http://127.0.0.1:18789/health, unit clawdbot-gateway. --name sets the token subject (--name whatsapp → WHATSAPP_OK).

GATEWAY_OK          healthy; nothing done
GATEWAY_RECOVERED   a problem was found, repaired, and the probe passed N times in a row
GATEWAY_ALERT       a problem is not fixed: repair off, no manager, over budget, HUNG, or the repair failed
GATEWAY_UNKNOWN     bad input, or a concurrent repair is still running past --lock-wait`,
  examples: [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --name whatsapp --port 3000 --url http://127.0.0.1:3000/ --manager pm2 --pm2-app whatsapp',
    '<%= config.bin %> <%= command.id %> --manager command --start-cmd "/usr/local/bin/gateway start" --pid-file /run/gateway.pid -v',
    '<%= config.bin %> <%= command.id %> --no-repair --exit-codes binary   # a Docker HEALTHCHECK',
    '<%= config.bin %> <%= command.id %> gateway --config /etc/medic/medic.config.yaml --json',
  ],
  flags: FLAGS,

  args: [{name: 'service', type: 'string', description: 'a service entry of the config file (sets --name)', max: 1}],
  /** `medic health SERVICE`: the config file's entry for the service fills the flags the command line did not give. */
  async settings(cli: Parsed<typeof FLAGS>): Promise<Parsed<typeof FLAGS>> {
    const [{applySettings, UsageError}, {configDirs, loadConfig, serviceEntry, ConfigError}, {serviceName}] = await Promise.all([import('../parse.js'), import('../../sys/config.js'), import('../validate.js')])
    const name = serviceName(cli.positionals[0], cli.flags.name)
    try {
      const cfg = await loadConfig(cli.flags.config)
      const entry = serviceEntry(cfg, name)
      if (cli.positionals[0] && !entry && name !== 'gateway') throw new UsageError(`no service "${name}" in ${cfg ? cfg.path : `any config file (looked in ${configDirs().join(', ')})`}`)
      return cfg && entry ? applySettings({flags: FLAGS}, cli, entry, `${cfg.path}: services.${name}`) : cli
    } catch (e) {
      if (e instanceof ConfigError) throw new UsageError(e.message)
      throw e
    }
  },
  async run({parsed, deadlineAt, stderr}) {
    const v = await import('../validate.js')
    const name = v.serviceName(parsed.positionals[0], parsed.flags.name)
    const f = parsed.flags
    const port = f.port
    const {url, healthy} = v.healthProbe(f)
    // The port's holders first: a full look's spawn of ss runs while the rest is set up.
    // A steady service's holders are those of the last full look: the fast look proves they
    // still hold the port (no ss). The state dir is judged (stateLayout) before anything is
    // written or decided; this only reads a hint from it.
    const listenersAhead = Promise.all([import('../../sys/port-table.js'), import('../../ops/health-early.js'), import('../../sys/state-layout.js')]).then(async ([{portTable}, {knownHolders}, {StateLayout, resolveStateDir}]) =>
      (await portTable.knownListeners(port, () => knownHolders(new StateLayout(resolveStateDir(f['state-dir'])).healthState(name), Date.now()))) ?? portTable.listeners(port))
    listenersAhead.catch(() => {}) // unused when the run waits for the lock
    // …and the first probe: the service answers while the rest is set up (it was the last thing a healthy run waited for).
    const probeAhead = Promise.all([import('../../ops/health-early.js'), import('../../sys/probe.js')]).then(([{probeService}, {prober}]) => probeService(prober, {url, host: f.host, port, probeTimeoutMs: f['probe-timeout'], healthy}))
    probeAhead.catch(() => {})
    const [{health}, {makeProcessDeps}, {buildManager}, {prober}, {LogFile}] = await Promise.all([
      import('../../ops/health.js'), import('../../deps.js'), import('../manager-flags.js'), import('../../sys/probe.js'), import('../../sys/log-file.js'),
    ])
    // One turn of the event loop: the probe's connection (sent as the command started) completes
    // and its request goes out now, so the service answers while the rest is set up — not
    // after it, at the first wait (~2 ms of a healthy run: every step below is synchronous).
    await new Promise((resolve) => setImmediate(resolve))
    const base = await makeProcessDeps({stateDir: f['state-dir'], logFile: f['log-file'], stderr, protect: f.protect, config: f.config})
    const logFile = f['log-file'] ?? (base.stateWritable ? base.layout.healthLog(name) : undefined)
    const deps0 = {...base, log: new LogFile(logFile)}
    const commandsLog = f['log-file'] ? f['log-file'].replace(/\.log$/, '') + '.commands.log' : base.stateWritable ? base.layout.healthCommandsLog(name) : undefined
    const chosen = await buildManager(f, {name, graceMs: f.grace, deadlineAt, logFile: commandsLog, deps: deps0})
    // …and another: its answer (~1 ms after the request) is read now, before the lock and the owners.
    await new Promise((resolve) => setImmediate(resolve))
    const log = v.healthLogWatch(f, chosen.manager.kind, name)
    return health({
      name, subject: '', url, host: f.host, port,
      probeTimeoutMs: f['probe-timeout'], healthy, reprobeDelayMs: f['reprobe-delay'],
      loopThreshold: f['loop-threshold'], repair: f.repair, dryRun: f['dry-run'],
      verifyProbes: f['verify-probes'], verifyTimeoutMs: f['verify-timeout'], verifyIntervalMs: f['verify-interval'],
      maxRepairs: f['max-repairs'], repairWindowMs: f['repair-window'], graceMs: f.grace,
      lockWaitMs: v.healthLockWaitMs(f),
      deadlineAt,
      statePath: base.layout.healthState(name), listenersAhead, probeAhead, log,
    }, {...deps0, prober, manager: chosen.manager, detected: chosen.tried, ...(log ? {logs: (await import('../../sys/log-source.js')).logSource} : {})})
  },
})

export default spec
