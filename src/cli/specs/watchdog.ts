import {COMMON_FLAGS, CONFIG_FLAG} from '../common-flags.js'
import {MANAGER_FLAGS} from '../manager-flags.js'
import {command} from '../spec.js'
import {SESSIONS_DIR} from './locks-clean.js'

const spec = command({
  id: 'watchdog',
  subject: 'WATCHDOG',
  summary: "The Docker sandbox's watchdog: orphan locks, oversized sessions, a hung gateway, the restart flag and ops requests — one pass or a loop.",
  description: `Replaces watchdog.sh. Each pass runs, in order:
- 'medic locks clean' on --sessions-dir (a lock goes only when old AND its pid is dead);
- 'medic sessions archive' on --sessions-dir (every --sessions-every passes in a loop; always with --once);
- the gateway check: a process matching --gateway-match in D or Z state for longer than --hang-threshold is restarted through the manager (stop → free --port → start) — only when it is the managed service's (the manager's processes or the tree of --port's holder, the service's uid): a name alone never restarts anything; pid 1 is never signalled;
- --restart-flag: its appearance restarts the gateway gracefully; the flag is consumed once;
- --ops-dir: req-*.json requests (restart, set_model, set_timezone) are claimed atomically into processing/, so each runs at most once, and land in done/ or error/ with a .result.json record — each under a free name, never over a file already there. What medic cannot do (set_model, set_timezone) goes to error/ as unsupported — never "done".

WATCHDOG_OK          nothing to do
WATCHDOG_RECOVERED   something was cleaned or restarted
WATCHDOG_ALERT       something is wrong and not fixed (a restart failed, an unsupported request, an unparsable old lock, a hung PID 1)

--once prints one verdict; the loop prints a verdict line whenever the status changes, and stops on SIGTERM. Log lines keep the seed's [WATCHDOG] prefix, with timestamps, on stderr and in --log-file.`,
  examples: [
    '<%= config.bin %> <%= command.id %> --once',
    '<%= config.bin %> <%= command.id %> --interval 5s --startup-delay 30s --manager command --restart-cmd "clawdbot gateway --bind lan"',
  ],
  flags: {
    once: {type: 'boolean', description: 'One pass, one verdict.'},
    interval: {type: 'duration', default: '5s', min: 100, description: 'Time between passes in a loop.'},
    'startup-delay': {type: 'duration', default: '0s', description: 'Wait before the first pass (watchdog.sh waited 30s for the gateway).'},
    'sessions-dir': {type: 'string', default: SESSIONS_DIR, description: 'Where the locks and sessions live.'},
    'lock-max-age': {type: 'duration', default: '5m', description: 'Orphan locks younger than this are kept.'},
    'lock-pids-local': {type: 'boolean', description: "Every process that writes the locks runs in medic's own pid namespace (medic inside the sandbox's container): a pid medic does not see running is dead (see medic locks clean)."},
    'max-session-size': {type: 'size', default: '10MiB', description: 'Sessions larger than this are archived.'},
    quiet: {type: 'duration', default: '60s', description: 'Sessions written more recently than this are left alone.'},
    'prune-older-than': {type: 'duration', description: 'Delete the archives medic made more than this long ago (off unless given).'},
    'sessions-every': {type: 'integer', default: '5', min: 1, description: 'In a loop, archive sessions every N passes.'},
    'gateway-match': {type: 'regex', default: 'clawdbot-gateway|openclaw-gateway|clawdbot gateway|entry\\.js gateway', description: "Command line of the gateway's processes."},
    'hang-threshold': {type: 'duration', default: '600s', description: 'D or Z state must last this long before a restart.'},
    'restart-flag': {type: 'string', default: '/root/.clawdbot/restart.flag', description: 'A file whose appearance restarts the gateway (consumed once).'},
    'ops-dir': {type: 'string', default: '/root/clawd/ops-requests', description: 'Directory of req-*.json requests.'},
    name: {type: 'name', default: 'gateway', description: 'The gateway service name (manager lookups, container, supervise).'},
    port: {type: 'port', char: 'p', env: 'OPENCLAW_GATEWAY_PORT', default: '18789', description: 'Port freed between stop and start.'},
    grace: {type: 'duration', default: '5s', description: 'SIGTERM → SIGKILL grace.'},
    protect: {type: 'regex', multiple: true, description: 'Never signal a process matching this (repeatable).'},
    'dry-run': {type: 'boolean', description: 'Report what would be done; change nothing.'},
    ...MANAGER_FLAGS,
    config: CONFIG_FLAG,
    ...COMMON_FLAGS,
  },
  async run({parsed, deadlineAt, stderr, observe}) {
    const f = parsed.flags
    const [{watchdogPass, watchdogLoop}, {makeProcessDeps}, {buildManager}] = await Promise.all([import('../../ops/watchdog.js'), import('../../deps.js'), import('../manager-flags.js')])
    const base = await makeProcessDeps({stateDir: f['state-dir'], logFile: f['log-file'], stderr, protect: f.protect, config: f.config})
    const name = f.name
    const {manager} = await buildManager(f, {name, graceMs: f.grace, deadlineAt, deps: base})
    const input = {
      sessionsDir: f['sessions-dir'], lockMaxAgeMs: f['lock-max-age'], lockPidsLocal: f['lock-pids-local'] === true, maxSessionBytes: f['max-session-size'],
      quietMs: f.quiet, pruneOlderThanMs: f['prune-older-than'] ?? null,
      gatewayMatch: f['gateway-match'], hangThresholdMs: f['hang-threshold'],
      restartFlag: f['restart-flag'] || null, opsDir: f['ops-dir'] || null,
      port: f.port, graceMs: f.grace, dryRun: f['dry-run'] === true,
      statePath: base.layout.watchdogHang(name),
      sessionsEvery: f.once ? 1 : f['sessions-every'], intervalMs: f.interval, startupDelayMs: f['startup-delay'], deadlineAt,
    }
    const deps = {...base, manager, announce: (l: string) => process.stdout.write(`${l}\n`), observe}
    return f.once ? watchdogPass(input, deps, 0) : watchdogLoop(input, deps)
  },
})

export default spec
