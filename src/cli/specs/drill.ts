import {COMMON_FLAGS, CONFIG_FLAG} from '../common-flags.js'
import {DRILL_KINDS} from '../../core/drill.js'
import {command} from '../spec.js'

/** What medic install put in place, from its manifests in the state dir. */
async function installedFacts(layout: import('../../sys/state-layout.js').StateLayout): Promise<import('../../core/drill.js').InstalledFact[]> {
  const {manifestStore} = await import('../../sys/install-host.js')
  const store = manifestStore(layout)
  return store.names().flatMap((n) => {
    const m = store.read(n)
    return m === null ? [] : [{
      name: m.name, service: m.systemd?.service ?? null, timer: m.systemd?.timer ?? null, hardened: m.systemd?.hardened ?? null,
      command: m.request.command, everyMs: m.watch.everyMs,
    }]
  })
}

const spec = command({
  id: 'drill',
  subject: 'DRILL',
  subjectFromName: true,
  summary: 'Inject one real fault into a running service and prove the installed protection brings it back in time; always undone.',
  description: `Finds the service's main process — by --pid, by --unit (systemd's MainPID) or by --port (the process holding its LISTEN socket, never a client) — checks that it answers, injects one fault, then watches until the service answers again or --within runs out. With --unit and --port, the port's listener must be in the unit's cgroup; with --pid and --port, in that process's tree (another service's port is DRILL_UNKNOWN, nothing injected). A port shared by forked workers (a pre-fork server) is faulted as a whole: kill, squat and crash-loop SIGKILL every LISTEN owner (with --pid, the ones at or below it), the main process first:

kill        SIGKILL the main process (seed 004's "exit 137")
stop        SIGSTOP it (the seeds' own test: "pkill -STOP ollama, wait, see it come back")
squat       a squatter takes the port the instant the main process is SIGKILLed, accepts and never answers (the seed-000 orphan)
crash-loop  every start fails for --hold, then the cause is removed: with --unit a runtime drop-in ExecStartPre=/bin/false under /run/systemd/system (the user's unit is never edited; a reboot drops it), otherwise a holder on --port so the service dies with EADDRINUSE
freeze      SIGSTOP the model runner under an Ollama server (the API answers, inference is stuck)

Recovered means: the faulted process is gone or resumed, the squatter no longer holds the port, after kill, squat and crash-loop a new process holds it (one that held it before the fault and survived is named, never OK), and the service answers — --url with HTTP 200-399, else a TCP connect to --port whose listener is running, else the unit active with a new MainPID, else (--pid alone) a new process with the same command line — --confirm times in a row. The time to recover is measured from the fault.

Whatever happens — recovered, not recovered, --timeout, an error, Ctrl+C or SIGTERM to medic — the drill undoes what it did (and while its fault is in place, Ctrl+Z does not suspend it): SIGCONT to what it stopped, its squatter killed, its drop-in removed and systemd reloaded. If medic is SIGKILLed (its process group, or the unit it runs in), its helpers still undo it: the squatter leaves, and a dead-man guard — under systemd in a transient scope of its own, outside medic's process group and cgroup — resumes what was stopped and removes the drop-in (only if it is still exactly the text medic wrote), then runs systemctl daemon-reload. Should the guard die too, the next drill of the unit removes a drop-in whose writer (pid + start time, in the file) is gone and says so; a drop-in that is not exactly medic's, or whose drill still runs, is left alone (DRILL_UNKNOWN).

Drills signal through the same rules as every medic signal: identity (pid + start time) re-read before each signal, never pid 1, medic or its ancestors, a run-dev-safe job or its descendants, or a --protect match: such a target is refused.

DRILL_OK        recovered within --within; the summary has the time and who brought it back
DRILL_ALERT     not recovered (the summary says what it saw: the unit state, who holds the port), refused, the service was not healthy before the drill, or the restore failed
DRILL_UNKNOWN   bad input, the target is ambiguous or gone, --port is not the --unit's or --pid's, the fault could not be injected, --dry-run, or medic was interrupted`,
  examples: [
    '<%= config.bin %> <%= command.id %> kill --port 18789 --url http://127.0.0.1:18789/health --within 60s',
    '<%= config.bin %> <%= command.id %> squat --unit clawdbot-gateway --port 18789 --within 30s -v',
    '<%= config.bin %> <%= command.id %> stop --name ollama --port 11434 --url http://127.0.0.1:11434/api/version --within 300s',
    '<%= config.bin %> <%= command.id %> crash-loop --unit clawdbot-gateway --hold 10s --within 90s --json',
    '<%= config.bin %> <%= command.id %> freeze --name ollama --port 11434 --within 5m --dry-run',
  ],
  flags: {
    kind: {type: 'string', multiple: true, hidden: true, description: 'The fault (also the first argument).'},
    name: {type: 'string', description: 'Service name: the token subject (--name gateway → GATEWAY_OK). Default subject DRILL.'},
    pid: {type: 'integer', min: 1, description: "The service's main process (its identity is recorded at the start)."},
    unit: {type: 'string', description: 'The systemd unit: its MainPID is the target, its state part of the recovery.'},
    port: {type: 'port', char: 'p', description: 'The port the service listens on: its LISTEN owner is the target unless --pid/--unit; probed by TCP without --url.'},
    url: {type: 'string', description: 'Health URL that must answer 200-399 for the service to count as recovered.'},
    within: {type: 'duration', default: '60s', min: 1, description: 'How long the protection has to bring the service back, from the fault.'},
    hold: {type: 'duration', default: '5s', description: 'crash-loop only: how long every start is made to fail before the cause is removed; more than 0, shorter than --within (which counts from the fault and includes it).'},
    interval: {type: 'duration', default: '250ms', min: 10, description: 'Time between observations.'},
    'probe-timeout': {type: 'duration', default: '2s', min: 10, description: 'Timeout of one probe.'},
    confirm: {type: 'integer', default: '2', min: 1, max: 100, description: 'Good observations in a row that prove the recovery.'},
    'command-timeout': {type: 'duration', default: '10s', description: 'Timeout of each systemctl call.'},
    protect: {type: 'regex', multiple: true, description: 'Never signal a process whose comm or command line matches (repeatable).'},
    'dry-run': {type: 'boolean', description: 'Find the target, check it, print the plan; inject nothing.'},
    config: CONFIG_FLAG,
    ...COMMON_FLAGS,
  },
  args: [{name: 'kind', type: 'string', description: `the fault: ${DRILL_KINDS.join(', ')}`, into: 'kind'}],
  async run({parsed, deadlineAt, stderr}) {
    const f = parsed.flags
    const {drillRequest} = await import('../validate.js')
    const {kind, name, pid, unit, port, url} = drillRequest(f, parsed.given)
    const [{drill}, {makeProcessDeps}, {prober}, {makeDrillHelpers}, {makeSystemdUnits}, {processSignalHub}, {toSubject}] = await Promise.all([
      import('../../ops/drill.js'), import('../../deps.js'), import('../../sys/probe.js'), import('../../sys/drill-helpers.js'), import('../../sys/systemd-unit.js'),
      import('../../sys/signal-hub.js'), import('../../core/verdict.js'),
    ])
    const base = await makeProcessDeps({stateDir: f['state-dir'], config: f.config, logFile: f['log-file'], stderr, protect: f.protect})
    return drill({
      kind, subject: name ? toSubject(name) : 'DRILL', pid, unit, port, url,
      withinMs: f.within, holdMs: f.hold, intervalMs: f.interval, probeTimeoutMs: f['probe-timeout'],
      confirm: f.confirm, cmdTimeoutMs: f['command-timeout'],
      dryRun: f['dry-run'] === true, deadlineAt,
    }, {...base, prober, helpers: makeDrillHelpers(base.procs), units: makeSystemdUnits(), interrupts: processSignalHub, installs: () => installedFacts(base.layout)})
  },
})

export default spec
