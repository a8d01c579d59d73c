import {COMMON_FLAGS} from '../common-flags.js'
import {flagSet, type CommandSpec} from '../spec.js'

const TARGET = flagSet({
  pid: {type: 'integer', min: 2, description: 'A running process.'},
  pattern: {type: 'string', description: 'A regular expression over comm and command line.'},
})
const NAME = flagSet({name: {type: 'string', description: 'A name for the registered process.'}})
const SHARED = flagSet({
  config: {type: 'string', description: 'The config file that holds the patterns.'},
  ...COMMON_FLAGS,
})
/** list takes no target, remove no name: absent flags are undefined. */
type ProtectFlags = Partial<typeof TARGET & typeof NAME> & typeof SHARED

/** `medic protect list|add|remove`: one declaration per verb, sharing the flags. */
function protectSpec(verb: 'list' | 'add' | 'remove'): CommandSpec<ProtectFlags> {
  return {
    id: `protect ${verb}`,
    subject: 'PROTECT',
    observable: false,
    summary: {
      list: 'List what medic never signals: registered jobs (dead ones pruned) and --protect patterns from the config file.',
      add: 'Protect a running process (--pid, by identity, with its descendants) or a pattern (--pattern, into the config file).',
      remove: 'Unregister a process (--pid) or drop a pattern (--pattern) from the config file.',
    }[verb],
    description: `The protected registry is one for the host: /run/medic/protected/ (root-owned, sticky; /dev/shm/medic-protected.* while root has not made it yet; <state-dir>/protected/ is still read), one file per process: pid, start time, name, command line, and the marks its descendants carry. run-dev-safe writes it for as long as a job runs. An entry counts only when written by root or by the user running the process it names; list shows the ones ignored and why. Patterns live under protect: in the config file (--config, medic.config.{json,yaml}, ~/.config/medic/). medic cleanup, health, supervise, boot, watchdog, drill and ollama never signal a registered process, its descendants (also after setsid or a double fork: by the MEDIC_PROTECTED mark in their environment, the job's session, the job's cgroup), or anything a pattern matches.

PROTECT_OK       listed, or changed
PROTECT_UNKNOWN  bad input (no such process, nothing given)`,
    examples: {
      list: ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --json'],
      add: ['<%= config.bin %> <%= command.id %> --pid 4242 --name train-500', '<%= config.bin %> <%= command.id %> --pattern "pytest|03_run_500"'],
      remove: ['<%= config.bin %> <%= command.id %> --pid 4242', '<%= config.bin %> <%= command.id %> --pattern "pytest|03_run_500"'],
    }[verb],
    flags: {...(verb === 'list' ? {} : TARGET), ...(verb === 'add' ? NAME : {}), ...SHARED},
    async run({parsed}) {
      const f = parsed.flags
      const [{protectVerb}, {procTable}, {stateLayout}, {systemClock}] = await Promise.all([import('../../ops/protect.js'), import('../../sys/proc-table.js'), import('../../sys/state-layout.js'), import('../../sys/clock.js')])
      return protectVerb(verb, {pid: f.pid, pattern: f.pattern, name: f.name, config: f.config, stateDir: stateLayout(f['state-dir']).dir}, {procs: procTable, clock: systemClock})
    },
  }
}

export const protectList = protectSpec('list')
export const protectAdd = protectSpec('add')
export const protectRemove = protectSpec('remove')
