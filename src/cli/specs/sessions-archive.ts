import {COMMON_FLAGS, CONFIG_FLAG} from '../common-flags.js'
import {command} from '../spec.js'
import {SESSIONS_DIR} from './locks-clean.js'

const spec = command({
  id: 'sessions archive',
  subject: 'WATCHDOG',
  summary: 'Move oversized *.jsonl sessions aside to unique .old names; never overwrite, never delete unless asked.',
  description: `An oversized *.jsonl below --dir (byte size from stat, not du) that no process holds open and that was not written in the last --quiet is moved to <name>.<UTC timestamp>.old (link, then unlink) — never over anything: a taken name moves on to .1.old, .2.old. --prune-older-than is the only path that deletes, and only the archives medic made, aged by the archive time in their name (never by the mtime, which the session's last write set); any other .old file is left alone.

WATCHDOG_OK          nothing to archive (or only sessions in use)
WATCHDOG_RECOVERED   sessions archived (or old archives pruned)
WATCHDOG_ALERT       --dry-run found work to do, or a session could not be moved (named)`,
  examples: ['<%= config.bin %> <%= command.id %> --dir /root/.clawdbot/agents/main/sessions', '<%= config.bin %> <%= command.id %> --dir ./sessions --max-size 50MB --quiet 5m --prune-older-than 7d'],
  flags: {
    dir: {type: 'string', default: SESSIONS_DIR, description: 'Directory searched (recursively) for *.jsonl.'},
    'max-size': {type: 'size', default: '10MiB', description: 'Sessions larger than this are archived.'},
    quiet: {type: 'duration', default: '60s', description: 'A session written more recently than this is left alone.'},
    'prune-older-than': {type: 'duration', description: 'Also delete the archives medic made more than this long ago (off unless given).'},
    'dry-run': {type: 'boolean', description: 'Say what would be moved; move nothing.'},
    config: CONFIG_FLAG,
    ...COMMON_FLAGS,
  },
  async run({parsed, stderr}) {
    const f = parsed.flags
    const [{sessionsArchive}, {makeProcessDeps}] = await Promise.all([import('../../ops/housekeeping.js'), import('../../deps.js')])
    return sessionsArchive({dir: f.dir, maxBytes: f['max-size'], quietMs: f.quiet, pruneOlderThanMs: f['prune-older-than'] ?? null, dryRun: f['dry-run'] === true}, await makeProcessDeps({stateDir: f['state-dir'], config: f.config, logFile: f['log-file'], stderr}))
  },
})

export default spec
