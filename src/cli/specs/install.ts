import {UNMEASURED_FLAGS} from '../common-flags.js'
import {command} from '../spec.js'

const TARGETS = ['systemd', 'systemd-user', 'cron', 'wsl', 'docker', 'print'] as const

const spec = command({
  id: 'install',
  subject: 'INSTALL',
  observable: false,
  summary: 'Install a medic command so it runs by itself: a systemd service or timer, a cron line, the WSL boot command, a Docker HEALTHCHECK — then enable and start it.',
  description: `The medic command line after -- decides what is written:

- a long-running command (supervise, watchdog, ollama frozen-check --watch, ollama metrics --watch) becomes a service unit: Restart=on-failure, RestartSec=10s, KillMode=control-group, a sane Environment=PATH, and After=/Wants=ollama.service for Ollama commands;
- a check (health, cleanup, locks clean, sessions archive, verify, ollama frozen-check, ollama metrics, …) becomes a oneshot service and a timer (OnBootSec= then OnUnitActiveSec=--every; exit 1, RECOVERED, counts as success), or with --target cron a line in /etc/cron.d/medic-<name> (your own crontab when not root);
- medic boot becomes the [boot] command= of /etc/wsl.conf (--target wsl): every other byte of the file is kept;
- --target docker prints a HEALTHCHECK with the seed's timings (30s/10s/3/40s; --every sets the interval), --target print prints what would be written. Neither writes anything.

--unit U (systemd) also hardens an existing unit with a drop-in — ExecStartPre=medic cleanup --port …, KillMode=control-group, TimeoutStopSec=30s, a start limit — the seed-000 fix; the unit file itself is never edited. --textfile-dir (TEXTFILE_DIR) makes the Prometheus textfile dir part of an Ollama install; --rules-file writes medic ollama rules there.

Every unit passes systemd-analyze verify before anything is written. medic writes a file only where nothing is, or where the file is still exactly what it wrote before (a manifest in <state-dir>/install/<name>.json records it): a file it did not write, a hand-edited one or a symlink is refused, and nothing is written. Same input twice: nothing rewritten. --dry-run prints the diff. A check runs once right away, so its first verdict is known. medic uninstall --name N removes exactly what was written; medic verify proves it runs.

The installed command gets --log-file <state-dir>/install/<name>.log unless it has one, and install's own --state-dir.

INSTALL_OK        installed (or already installed), enabled and started
INSTALL_ALERT     refused (a file medic did not write, systemd-analyze verify failed), or written but not running (enable failed, no cron daemon)
INSTALL_UNKNOWN   bad input (a command the target cannot run, an interval cron cannot express), or no permission`,
  examples: [
    '<%= config.bin %> <%= command.id %> --every 5m --unit clawdbot-gateway -- health --port 18789 --manager systemd --unit clawdbot-gateway',
    '<%= config.bin %> <%= command.id %> --name gateway -- supervise --name gateway --port 18789 -- /usr/bin/node /opt/gateway/index.js',
    '<%= config.bin %> <%= command.id %> --textfile-dir /var/lib/prometheus/node-exporter --rules-file /etc/prometheus/rules/medic-ollama.yml -- ollama frozen-check --watch',
    '<%= config.bin %> <%= command.id %> --target cron --every 10m -- health --manager supervise',
    '<%= config.bin %> <%= command.id %> --target wsl -- boot --name gateway --port 18789 -- /usr/bin/node /root/gateway/index.js',
    '<%= config.bin %> <%= command.id %> --target docker -- health --manager none --no-repair',
    '<%= config.bin %> <%= command.id %> --dry-run --every 10m -- health',
  ],
  flags: {
    target: {type: 'enum', options: TARGETS, description: 'Where it runs (default: systemd as root, systemd-user otherwise, when systemd is the init; else cron; wsl for medic boot).'},
    name: {type: 'string', description: 'The install’s name: units medic-<name>.service/.timer, /etc/cron.d/medic-<name> (default: the command and its --name, e.g. health-gateway).'},
    every: {type: 'duration', description: 'How often a check runs (default 10m; docker 30s). cron: whole minutes dividing an hour, or hours dividing a day.'},
    unit: {type: 'string', description: 'An existing systemd unit to harden with the seed-000 drop-in (ExecStartPre=medic cleanup, KillMode=control-group, TimeoutStopSec).'},
    port: {type: 'port', char: 'p', description: 'The port of --unit, freed by its ExecStartPre (default: the command’s --port).'},
    'textfile-dir': {type: 'string', env: 'TEXTFILE_DIR', description: 'Prometheus textfile dir of an Ollama command: created, set as TEXTFILE_DIR for it, checked by verify.'},
    'rules-file': {type: 'string', description: 'Also write medic ollama rules (Prometheus alerting rules) to this file.'},
    'wsl-conf': {type: 'string', default: '/etc/wsl.conf', description: 'The wsl.conf to merge the [boot] command into (--target wsl).'},
    start: {type: 'boolean', allowNo: true, default: true, description: 'Enable and start it (--no-start: enable only, and say how to start).'},
    'dry-run': {type: 'boolean', description: 'Print the diff of what would be written; write nothing.'},
    ...UNMEASURED_FLAGS,
  },
  rest: {name: 'command', description: 'The medic command line to install (without "medic").', required: false},
  async run({parsed, stderr}) {
    const f = parsed.flags
    const [{UsageError}, {unitName}, {parseInner}, {defaultName, defaultTarget, classify}, {makeInstallDeps}, {install}, {namedStateDir}] = await Promise.all([
      import('../parse.js'), import('../validate.js'), import('../install-inner.js'), import('../../core/units-plan.js'), import('../../deps.js'), import('../../ops/install.js'), import('../../sys/state-layout.js'),
    ])
    const unit = f.unit === undefined ? null : unitName(f.unit)
    if (parsed.rest.length === 0 && unit === null) throw new UsageError('missing the command to install: medic install [flags] -- COMMAND [FLAGS...] (or --unit to harden a unit)')
    const inner = parsed.rest.length ? await parseInner(parsed.rest) : null
    const stateDir = namedStateDir(f['state-dir'])
    const deps = await makeInstallDeps({stateDir, wslConf: f['wsl-conf'], stderr})
    const cls = inner ? classify(inner) : null
    const target = f.target ?? (cls && !cls.ok ? 'systemd' : defaultTarget(cls && cls.ok ? cls.kind : 'harden', deps.host))
    return install({
      request: {
        version: 1, name: f.name ?? defaultName(inner, unit), target,
        everyMs: f.every ?? null, unit, port: f.port ?? inner?.flags.port ?? null,
        textfileDir: f['textfile-dir'] ?? null, rulesFile: f['rules-file'] ?? null,
        stateDir: stateDir ?? null, command: parsed.rest.length ? (parsed.rest[0] === 'medic' ? parsed.rest.slice(1) : parsed.rest) : null,
      },
      inner, dryRun: f['dry-run'] === true, start: f.start !== false, firstRunTimeoutMs: 150_000,
    }, deps)
  },
})

/** Its bundle keeps every command: the command line it installs is parsed against its own declaration. */
export const needsEveryCommand = true

export default spec
