import {COMMON_FLAGS} from '../common-flags.js'
import type {CommandSpec} from '../spec.js'

export const SESSIONS_DIR = '/root/.clawdbot/agents/main/sessions'

const spec: CommandSpec = {
  id: 'locks clean',
  subject: 'WATCHDOG',
  summary: 'Remove orphan *.lock files: older than --max-age AND their pid is dead.',
  description: `Looks for *.lock below --dir (never following symlinks). A lock holds {"pid": N} or a bare number. It is removed only when it is older than --max-age and its pid is dead (a zombie counts as dead); a live pid's lock is never removed however old, and an unparsable one is kept and reported. Pids are looked up in medic's own pid namespace: locks written from the host through a bind mount need a host-side run.

WATCHDOG_OK          no orphan lock
WATCHDOG_RECOVERED   orphan locks removed
WATCHDOG_ALERT       an unparsable lock older than --max-age is kept (or --dry-run found orphans)`,
  examples: ['<%= config.bin %> <%= command.id %> --dir /root/.clawdbot/agents/main/sessions', '<%= config.bin %> <%= command.id %> --dir ./sessions --max-age 10m --dry-run -v'],
  flags: {
    dir: {type: 'string', default: SESSIONS_DIR, description: 'Directory searched (recursively) for *.lock.'},
    'max-age': {type: 'duration', default: '5m', description: 'A lock younger than this is kept.'},
    'dry-run': {type: 'boolean', description: 'Say what would be removed; remove nothing.'},
    ...COMMON_FLAGS,
  },
  async run({parsed, stderr}) {
    const f = parsed.flags
    const [{locksClean}, {makeProcessDeps}] = await Promise.all([import('../../ops/housekeeping.js'), import('../../deps.js')])
    return locksClean({dir: f.dir as string, maxAgeMs: f['max-age'] as number, dryRun: f['dry-run'] === true}, await makeProcessDeps({stateDir: f['state-dir'] as string | undefined, logFile: f['log-file'] as string | undefined, stderr}))
  },
}

export default spec
