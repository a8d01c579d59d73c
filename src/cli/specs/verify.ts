import {COMMON_FLAGS} from '../common-flags.js'
import {command} from '../spec.js'

const spec = command({
  id: 'verify',
  subject: 'INSTALL',
  summary: 'Prove what medic install put in place is running: units loaded, enabled and active, checks recently run and not alerting, textfiles fresh, nothing drifted.',
  description: `For every install recorded in <state-dir>/install/ (or --name), and each --unit:

- its units are loaded, enabled and active (a check: its timer active, and its last verdict recorded within 2 × --every; a long-running command: its service running);
- the last verdict its run recorded (<state-dir>/last/…) is not ALERT or UNKNOWN;
- its Prometheus textfiles were written within 2 × their interval and are valid;
- its log is writable;
- every file is byte for byte what medic wrote (not hand-edited) and what medic install would write now (no drift);
- cron: a cron daemon runs; wsl: the [boot] command is in place; --unit hardening: the drop-in is in effect.

It is a check itself: run it from cron, or as a Nagios/Icinga check (nagios exit codes), or install it (medic install -- verify).

INSTALL_OK        every item verified
INSTALL_ALERT     names each failing item
INSTALL_UNKNOWN   nothing to verify, systemd could not be asked, or bad input`,
  examples: ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --name health-gateway -v', '<%= config.bin %> <%= command.id %> --unit clawdbot-gateway --json'],
  flags: {
    name: {type: 'string', description: 'Verify this install only (default: every install in the state dir).'},
    unit: {type: 'string', multiple: true, description: 'A systemd unit that must be loaded, enabled and active (repeatable), installed by medic or not.'},
    user: {type: 'boolean', description: '--unit names units of your systemd --user.'},
    ...COMMON_FLAGS,
  },
  async run({parsed, stderr}) {
    const f = parsed.flags
    const [{UsageError}, {unitName}, {validName}, {makeInstallDeps}, {verify}, {parseInner}] = await Promise.all([import('../parse.js'), import('../validate.js'), import('../../core/units-plan.js'), import('../../deps.js'), import('../../ops/verify.js'), import('../install-inner.js')])
    const name = f.name ?? null
    if (name !== null && !validName(name)) throw new UsageError(`--name ${JSON.stringify(name)}: letters, digits, _ and - only`)
    const units = f.unit.map(unitName)
    const deps = await makeInstallDeps({stateDir: f['state-dir'], stderr})
    return verify({name, units, userUnits: f.user === true}, {...deps, parseInner})
  },
})

/** Its bundle keeps every command: the command line it installs is parsed against its own declaration. */
export const needsEveryCommand = true

export default spec
