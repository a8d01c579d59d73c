import {COMMON_FLAGS, CONFIG_FLAG} from '../common-flags.js'
import {flagSet, type CommandSpec} from '../spec.js'

const TARGET = flagSet({
  pid: {type: 'integer', min: 2, description: 'A running process.'},
  pattern: {type: 'string', description: 'A regular expression over comm and command line.'},
})
const NAME = flagSet({name: {type: 'string', description: 'A name for the registered process.'}})
const SHARED = flagSet({
  config: CONFIG_FLAG,
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
      list: 'List what medic never signals: registered jobs (dead ones pruned), registered patterns, and protect: patterns of the config file.',
      add: 'Protect a running process (--pid, by identity, with its descendants) or a pattern (--pattern: in the host registry; with --config, into that file).',
      remove: 'Unregister a process (--pid) or a pattern (--pattern; with --config, from that file).',
    }[verb],
    description: `The protected registry is one for the host: /run/medic/protected/ (root-owned, sticky; /dev/shm/medic-protected.* while root has not made it yet; <state-dir>/protected/ is still read), one file per process: pid, start time, name, command line, and the marks its descendants carry. run-dev-safe writes it for as long as a job runs. An entry counts only when written by root or by the user running the process it names; list shows the ones ignored and why. A pattern (a regular expression over comm and command line) is registered there too, as pattern-<uid>-<hash>.json: honoured by every medic on the host, whatever its working directory, until the next boot (like every registration); root's protects every process it matches, a user's only that user's processes and only in that user's own medic runs (root's medic never runs a user's regex: to be safe from it, register the process with --pid or run it under run-dev-safe). For good, a pattern goes under protect: in the config file: protect add --pattern P --config FILE, or by hand (the file medic reads: --config, else the first medic.config.{json,yaml} or config.{json,yaml} in $XDG_CONFIG_HOME/medic, ~/.config/medic, /etc/medic). medic cleanup, health, supervise, boot, watchdog, drill and ollama never signal a registered process, its descendants (also after setsid or a double fork: by the MEDIC_PROTECTED mark in their environment, the job's session, the job's cgroup), or anything a pattern matches.

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
      return protectVerb(verb, {pid: f.pid, pattern: f.pattern, name: f.name, config: f.config, stateDir: stateLayout(f['state-dir']).dir}, {procs: procTable, clock: systemClock, uid: process.getuid?.() ?? 0})
    },
  }
}

export const protectList = protectSpec('list')
export const protectAdd = protectSpec('add')
export const protectRemove = protectSpec('remove')
