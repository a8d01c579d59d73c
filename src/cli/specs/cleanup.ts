import {COMMON_FLAGS, CONFIG_FLAG} from '../common-flags.js'
import {command} from '../spec.js'

const spec = command({
  id: 'cleanup',
  subject: 'PORT',
  summary: 'Free a TCP port: terminate every process listening on it (TERM, grace, KILL) and prove it bindable.',
  description: `Finds every process holding a LISTEN socket on each --port (IPv4 and IPv6, a forked child that inherited the socket too; never a client connected to it), sends SIGTERM and SIGCONT, waits up to --grace, sends SIGKILL, and then proves the port bindable. Identity (pid + start time) is re-read before every signal, so a reused pid is never hit. pid 1, medic's ancestors, processes registered by run-dev-safe and anything matching --protect are never signalled: they are named in an ALERT instead.

PORT_OK          the port was free; nothing done
PORT_RECOVERED   holders terminated and the port is bindable
PORT_ALERT       still held: refused, protected, unkillable (D state), permission, or an owner invisible to a non-root user
PORT_UNKNOWN     bad input

Replaces gateway_cleanup.sh and gateway_prestart.sh; the port defaults to $OPENCLAW_GATEWAY_PORT, else 18789.`,
  examples: [
    '<%= config.bin %> <%= command.id %> --port 18789',
    '<%= config.bin %> <%= command.id %> --port 18789 --dry-run -v',
    '<%= config.bin %> <%= command.id %> --port 8080 --port 8081 --grace 2s --match node --json',
    '# systemd unit: ExecStartPre=/usr/local/bin/medic cleanup --port 18789 --exit-codes binary',
  ],
  flags: {
    port: {type: 'port', char: 'p', multiple: true, env: 'OPENCLAW_GATEWAY_PORT', default: '18789', description: 'TCP port to free (repeatable). Also accepted as positional arguments.'},
    grace: {type: 'duration', default: '5s', description: 'How long a holder has to exit after SIGTERM before SIGKILL.'},
    'kill-wait': {type: 'duration', default: '3s', description: 'How long to wait for exit after SIGKILL before calling the holder unkillable.'},
    match: {type: 'regex', description: 'Only terminate holders whose comm or command line matches; others are named in an ALERT.'},
    protect: {type: 'regex', multiple: true, description: 'Never signal a holder whose comm or command line matches (repeatable).'},
    'dry-run': {type: 'boolean', description: 'Print the plan (holders, signals) and change nothing.'},
    config: CONFIG_FLAG,
    ...COMMON_FLAGS,
  },
  args: [{name: 'port', type: 'port', description: 'port(s) to free, as gateway_cleanup.sh took them', into: 'port'}],
  async run({parsed, deadlineAt, stderr}) {
    const f = parsed.flags
    const [{cleanup}, {makeProcessDeps}] = await Promise.all([import('../../ops/cleanup.js'), import('../../deps.js')])
    const deps = await makeProcessDeps({stateDir: f['state-dir'], config: f.config, logFile: f['log-file'], stderr, protect: f.protect, match: f.match ?? null})
    return cleanup({
      ports: [...new Set(f.port)],
      graceMs: f.grace,
      killWaitMs: f['kill-wait'],
      dryRun: f['dry-run'] === true,
      deadlineAt,
    }, deps)
  },
})

export default spec
