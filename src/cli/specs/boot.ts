import {COMMON_FLAGS, CONFIG_FLAG} from '../common-flags.js'
import {command} from '../spec.js'

const spec = command({
  id: 'boot',
  subject: 'BOOT',
  summary: 'Start a medic supervisor at boot, once: idempotent, stale pid files never trusted, healthy before it says so.',
  description: `For /etc/wsl.conf [boot] command=, Task Scheduler or .bashrc (replaces wsl_boot.sh). If a supervisor for --name runs — pid, start time and command line verified — it says BOOT_OK and does nothing. Otherwise it frees --port (identity-checked TERM before KILL), starts 'medic supervise' detached in its own session (it outlives boot), and waits up to --wait for the service to answer.

BOOT_OK          a verified supervisor already runs
BOOT_RECOVERED   a supervisor was started and the service answers
BOOT_ALERT       the supervisor died, the service never became healthy, or the port could not be freed
BOOT_UNKNOWN     bad input, or another boot still holds the lock

Concurrent boots (wsl.conf and .bashrc at once) start one supervisor.

/etc/wsl.conf (the command line is one line):
    [boot]
    command = /usr/local/bin/medic boot --name gateway --port 18789 --log-file /root/clawd/memory/wsl-boot.log -- /usr/bin/node /usr/lib/node_modules/openclaw/dist/entry.js gateway --port 18789`,
  examples: [
    '<%= config.bin %> <%= command.id %> --name gateway --port 18789 --health-url http://127.0.0.1:18789/health -- /usr/bin/node /usr/lib/node_modules/openclaw/dist/entry.js gateway --port 18789',
    'wsl.exe -d Ubuntu-24.04 -u root /usr/local/bin/medic boot --port 18789 -- node gateway.js   # Windows Task Scheduler',
  ],
  flags: {
    name: {type: 'name', default: 'gateway', description: 'Name of the supervised service.'},
    port: {type: 'port', char: 'p', description: 'Port to free before starting, and to probe (TCP) when there is no --health-url.'},
    'health-url': {type: 'string', description: 'HTTP URL that must answer 200–399 before boot says RECOVERED.'},
    wait: {type: 'duration', default: '30s', description: 'How long to wait for the service to answer.'},
    'supervise-arg': {type: 'string', multiple: true, description: "A flag handed to 'medic supervise' as is (repeatable), e.g. --supervise-arg=--max-restarts=5."},
    protect: {type: 'regex', multiple: true, description: 'Never signal a process matching this when freeing the port.'},
    config: CONFIG_FLAG,
    ...COMMON_FLAGS,
  },
  rest: {name: 'cmd', description: 'the service command and its arguments', required: true},
  async run({parsed, deadlineAt, stderr}) {
    const f = parsed.flags
    const name = f.name
    const [{httpUrl}, {boot}, {makeProcessDeps}, {prober}, {jobSpawner}] = await Promise.all([import('../validate.js'), import('../../ops/boot.js'), import('../../deps.js'), import('../../sys/probe.js'), import('../../sys/spawn-job.js')])
    // The URL the supervisor it starts will probe, checked as supervise checks it: bad input is BOOT_UNKNOWN, before anything starts.
    const healthUrl = f['health-url'] ? httpUrl('health-url', f['health-url']) : null
    const deps = await makeProcessDeps({stateDir: f['state-dir'], config: f.config, logFile: f['log-file'], stderr, protect: f.protect})
    return boot({
      name, command: parsed.rest, port: f.port ?? null, healthUrl,
      waitMs: f.wait, layout: deps.layout, superviseArgs: f['supervise-arg'], deadlineAt,
    }, {...deps, prober, spawner: jobSpawner})
  },
})

export default spec
