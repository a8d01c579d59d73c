import {COMMON_FLAGS, CONFIG_FLAG} from '../common-flags.js'
import {command} from '../spec.js'

export const SESSIONS_DIR = '/root/.clawdbot/agents/main/sessions'

const spec = command({
  id: 'locks clean',
  subject: 'WATCHDOG',
  summary: 'Remove orphan *.lock files: older than --max-age AND their pid is dead.',
  description: `Looks for *.lock below --dir (never following symlinks). A lock holds {"pid": N} or a bare number. It is removed only when it is older than --max-age and its writer is provably dead (a zombie counts as dead); a live pid's lock is never removed however old, and an unparsable one is kept and reported. A pid is a number in its writer's pid namespace, so one medic does not see running is dead only when the lock was written before this boot, or medic runs in the host's initial pid namespace and no process of any namespace has that pid (a pid alive in a container counts as alive), or --lock-pids-local says every writer runs in medic's own namespace. Inside a container without that flag, such a lock is kept and reported (ALERT).

WATCHDOG_OK          no orphan lock
WATCHDOG_RECOVERED   orphan locks removed
WATCHDOG_ALERT       an unparsable lock, or one whose writer cannot be proved dead, older than --max-age is kept (or --dry-run found orphans)`,
  examples: ['<%= config.bin %> <%= command.id %> --dir /root/.clawdbot/agents/main/sessions', '<%= config.bin %> <%= command.id %> --dir ./sessions --max-age 10m --dry-run -v'],
  flags: {
    dir: {type: 'string', default: SESSIONS_DIR, description: 'Directory searched (recursively) for *.lock.'},
    'max-age': {type: 'duration', default: '5m', description: 'A lock younger than this is kept.'},
    'dry-run': {type: 'boolean', description: 'Say what would be removed; remove nothing.'},
    'lock-pids-local': {type: 'boolean', description: "Every process that writes these locks runs in medic's own pid namespace (a container's own sessions dir): a pid medic does not see running is dead."},
    config: CONFIG_FLAG,
    ...COMMON_FLAGS,
  },
  async run({parsed, stderr}) {
    const f = parsed.flags
    const [{locksClean}, {makeProcessDeps}] = await Promise.all([import('../../ops/housekeeping.js'), import('../../deps.js')])
    return locksClean({dir: f.dir, maxAgeMs: f['max-age'], dryRun: f['dry-run'] === true, pidsLocal: f['lock-pids-local'] === true}, await makeProcessDeps({stateDir: f['state-dir'], config: f.config, logFile: f['log-file'], stderr}))
  },
})

export default spec
