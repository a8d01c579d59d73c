import type {FlagSpec} from './spec.js'

/** Flags every verdict command takes (docs/contract.md §2). */
export const COMMON_FLAGS: Record<string, FlagSpec> = {
  json: {type: 'boolean', description: 'Print exactly one JSON object on stdout instead of the token line.'},
  verbose: {type: 'boolean', char: 'v', multiple: true, description: 'Add detail lines (checks, actions, timings) after line 1.'},
  'exit-codes': {
    type: 'enum',
    options: ['nagios', 'binary'],
    env: 'MEDIC_EXIT_CODES',
    default: 'nagios',
    description: 'nagios: OK 0, RECOVERED 1, ALERT 2, UNKNOWN 3. binary: OK/RECOVERED 0, ALERT/UNKNOWN 1 (systemd ExecStartPre, Docker HEALTHCHECK).',
  },
  timeout: {type: 'duration', description: 'Deadline for the whole command (e.g. 30s). A service that hangs past it is ALERT; medic itself hanging is UNKNOWN.'},
  'state-dir': {type: 'string', description: 'Where locks and state live (default $MEDIC_STATE_DIR, else /var/lib/medic as root, else $XDG_STATE_HOME/medic).'},
  'log-file': {type: 'string', description: 'Append one ISO-8601-stamped line per run and per action to this file (size-capped).'},
}
