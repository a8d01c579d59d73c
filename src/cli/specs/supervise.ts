import {COMMON_FLAGS, CONFIG_FLAG} from '../common-flags.js'
import {command} from '../spec.js'

const SANE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

const spec = command({
  id: 'supervise',
  subject: 'SUPERVISOR',
  summary: 'Keep a service alive without systemd: own process group, port cleanup before each start, probes, backoff, a restart budget, no orphans.',
  description: `Runs in the foreground (under systemd, wsl.conf, a terminal or medic boot) and starts CMD in its own session and process group, with an explicit environment and its stdout+stderr in a size-capped log file. Before every start it frees --port with the cleanup core (identity-checked, TERM before KILL).

It notices an exit at once, probes --health-url (or a TCP connect to --port) every --probe-interval and restarts a child that fails --probe-failures probes in a row or sits in D/Z state. Restarts back off (the first after a stable run is immediate, then 1s doubling up to --max-backoff; a run counts as stable after --min-uptime); exit code 78 (configuration error) is not retried. A command that cannot start at all (not found, not executable) ends the supervisor: SUPERVISOR_ALERT, exit 2. Past --max-restarts in --restart-window it prints one SUPERVISOR_ALERT line and keeps trying at the slow cap, and prints SUPERVISOR_OK once the service is stable again.

After every exit of the child, and when it stops, whatever the service left behind is killed (TERM → grace → KILL, each process by identity): its process group and session, processes carrying its MEDIC_JOB mark, and, where medic can make one (root), the cgroup it runs the service in — the systemd KillMode=control-group behaviour. SIGTERM or SIGINT stops the service that way, removes the pid file and exits 0 only when it is verified that nothing of the service is left (root: its cgroup, and the kernel's trace showing no process of the service moved out of it); what could not be stopped, what left the cgroup, or what could not be verified (no cgroup, no trace) is named in a SUPERVISOR_ALERT (exit 2). SIGHUP, or the --restart-flag file appearing (consumed once), restarts the child gracefully. One supervisor per --name: a lock, a pid file (the supervisor's pid alone, for kill $(cat FILE)), and a JSON state file with its identity (pid and start time) read by 'medic supervise status', 'medic health --manager supervise' and 'medic boot'.

Stdout carries one verdict line per status change (SUPERVISOR_ALERT, SUPERVISOR_OK) and a last one at exit; the log goes to stderr and --log-file.`,
  examples: [
    '<%= config.bin %> <%= command.id %> --name gateway --port 18789 --health-url http://127.0.0.1:18789/health -- /usr/bin/node /usr/lib/node_modules/openclaw/dist/entry.js gateway --port 18789',
    '<%= config.bin %> <%= command.id %> --name worker --env NODE_ENV=production --max-restarts 5 -- node worker.js',
    'kill -HUP "$(cat /var/lib/medic/supervise/gateway.pid)"   # graceful restart',
  ],
  flags: {
    name: {type: 'name', default: 'gateway', description: 'Name of the supervised service: token subject, lock, pid and state file names.'},
    port: {type: 'port', char: 'p', description: 'Port the service listens on: freed before every start, TCP-probed when there is no --health-url.'},
    'health-url': {type: 'string', description: 'HTTP URL probed every --probe-interval (200–399 is healthy).'},
    'probe-interval': {type: 'duration', default: '30s', min: 10, description: 'Time between probes.'},
    'probe-timeout': {type: 'duration', default: '5s', description: 'Timeout of one probe.'},
    'probe-failures': {type: 'integer', default: '3', min: 1, description: 'Failed probes in a row that restart the child.'},
    'min-uptime': {type: 'duration', default: '60s', description: 'A run this long is stable: backoff resets, an alert clears.'},
    'max-backoff': {type: 'duration', default: '60s', description: 'Cap of the restart delay (1s doubling), and the pace once the budget is spent.'},
    'max-restarts': {type: 'integer', default: '10', min: 1, description: 'Restarts allowed per --restart-window before the alert.'},
    'restart-window': {type: 'duration', default: '1h', description: 'Window of the restart budget.'},
    grace: {type: 'duration', default: '5s', description: 'SIGTERM → SIGKILL grace when stopping the child or freeing the port.'},
    'restart-flag': {type: 'string', description: 'A file whose appearance restarts the child gracefully; consumed once.'},
    env: {type: 'string', multiple: true, description: `KEY=VALUE for the child (repeatable). The child gets only these, PATH=${SANE_PATH}, HOME, USER, LANG, TZ — unless --inherit-env.`},
    'inherit-env': {type: 'boolean', description: "Give the child medic's whole environment (plus --env)."},
    'child-log': {type: 'string', description: "The child's stdout+stderr (default <state-dir>/supervise/<name>.out.log)."},
    'child-log-max': {type: 'size', default: '10MB', description: 'Size cap of the child log; the oldest half goes first.'},
    'pid-file': {type: 'string', description: "The supervisor's pid file: its pid alone, for kill $(cat FILE) (default <state-dir>/supervise/<name>.pid); its start time is in the state file."},
    'child-pid-file': {type: 'string', description: "Also write the child's pid here (the seed used /tmp/clawdbot-gateway.pid)."},
    protect: {type: 'regex', multiple: true, description: 'Never signal a process matching this when freeing the port (repeatable).'},
    config: CONFIG_FLAG,
    ...COMMON_FLAGS,
  },
  rest: {name: 'cmd', description: 'the service command and its arguments, exactly as given', required: true},
  async run({parsed, deadlineAt, stderr, observe}) {
    const f = parsed.flags
    const {childEnv, httpUrl} = await import('../validate.js')
    const name = f.name
    const env = childEnv(f.env, f['inherit-env'], process.env, SANE_PATH)
    // An empty --health-url is no URL: the TCP probe of --port, as before.
    const url = f['health-url'] ? httpUrl('health-url', f['health-url']) : f['health-url']
    const [{supervise}, {makeProcessDeps}, {prober}, {LogFile}, {jobSpawner}, {jobCgroups}, {processSignalHub}, {keepYoungGenerationSmall}] = await Promise.all([
      import('../../ops/supervise.js'), import('../../deps.js'), import('../../sys/probe.js'), import('../../sys/log-file.js'),
      import('../../sys/spawn-job.js'), import('../../sys/cgroup.js'), import('../../sys/signal-hub.js'), import('../../sys/heap.js'),
    ])
    keepYoungGenerationSmall()
    const base = await makeProcessDeps({stateDir: f['state-dir'], config: f.config, logFile: f['log-file'], stderr, protect: f.protect})
    const {layout} = base
    return supervise({
      name, subject: 'SUPERVISOR', command: parsed.rest, env,
      port: f.port ?? null, healthUrl: url ?? null,
      probeIntervalMs: f['probe-interval'], probeTimeoutMs: f['probe-timeout'], graceMs: f.grace,
      config: {
        minUptimeMs: f['min-uptime'], backoffBaseMs: Math.min(1000, f['max-backoff']), backoffCapMs: f['max-backoff'],
        maxRestarts: f['max-restarts'], restartWindowMs: f['restart-window'], probeFailures: f['probe-failures'],
      },
      restartFlag: f['restart-flag'] ?? null,
      childLog: f['child-log'] ?? layout.superviseChildLog(name), childLogMax: f['child-log-max'],
      statePath: layout.superviseState(name), pidFile: f['pid-file'] ?? layout.supervisePid(name),
      childPidFile: f['child-pid-file'] ?? null,
      deadlineAt,
    }, {...base, log: new LogFile(f['log-file'] ?? layout.superviseLog(name)), prober, announce: (l) => process.stdout.write(`${l}\n`), observe, spawner: jobSpawner, cgroups: jobCgroups, signals: processSignalHub})
  },
})

export default spec
