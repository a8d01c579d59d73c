import {COMMON_FLAGS} from '../common-flags.js'
import type {CommandSpec} from '../spec.js'

/** `medic protect list|add|remove`: one declaration per verb, sharing the flags. */
function protectSpec(verb: 'list' | 'add' | 'remove'): CommandSpec {
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
    flags: {
      ...(verb === 'list' ? {} : {
        pid: {type: 'integer' as const, min: 2, description: 'A running process.'},
        pattern: {type: 'string' as const, description: 'A regular expression over comm and command line.'},
      }),
      ...(verb === 'add' ? {name: {type: 'string' as const, description: 'A name for the registered process.'}} : {}),
      config: {type: 'string', description: 'The config file that holds the patterns.'},
      ...COMMON_FLAGS,
    },
    async run({parsed}) {
      const f = parsed.flags
      const [{protectVerb}, {procTable}, {stateLayout}, {systemClock}] = await Promise.all([import('../../ops/protect.js'), import('../../sys/proc-table.js'), import('../../sys/state-layout.js'), import('../../sys/clock.js')])
      return protectVerb(verb, {pid: f.pid as number | undefined, pattern: f.pattern as string | undefined, name: f.name as string | undefined, config: f.config as string | undefined, stateDir: stateLayout(f['state-dir'] as string | undefined).dir}, {procs: procTable, clock: systemClock})
    },
  }
}

export const protectList = protectSpec('list')
export const protectAdd = protectSpec('add')
export const protectRemove = protectSpec('remove')
