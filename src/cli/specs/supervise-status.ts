import {COMMON_FLAGS, CONFIG_FLAG} from '../common-flags.js'
import {command} from '../spec.js'

const spec = command({
  id: 'supervise status',
  subject: 'SUPERVISOR',
  summary: 'Report on a running medic supervisor: its child, restarts and budget.',
  description: `Reads the supervisor's state file and verifies the supervisor itself (pid and start time, so a stale file is never trusted).

SUPERVISOR_OK        the supervisor runs and its child is up
SUPERVISOR_ALERT     the supervisor runs but the child is down, backing off, fatal, or the restart budget is spent
SUPERVISOR_UNKNOWN   no supervisor runs for this name`,
  examples: ['<%= config.bin %> <%= command.id %> --name gateway', '<%= config.bin %> <%= command.id %> --name gateway --json'],
  flags: {
    name: {type: 'string', default: 'gateway', description: 'Name of the supervised service.'},
    config: CONFIG_FLAG,
    ...COMMON_FLAGS,
  },
  async run({parsed, stderr}) {
    const f = parsed.flags
    const [{superviseStatus}, {makeProcessDeps}] = await Promise.all([import('../../ops/supervise-status.js'), import('../../deps.js')])
    const deps = await makeProcessDeps({stateDir: f['state-dir'], config: f.config, stderr})
    return superviseStatus(f.name, 'SUPERVISOR', deps)
  },
})

export default spec
