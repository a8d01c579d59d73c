import {EXIT_CODES, STATUSES, STATUS_MEANING} from '../core/verdict.js'

/** The EXIT CODES section of every command's help (a spec's `exitCodes` replaces it). */
export function exitCodeTable(): string {
  const rows = STATUSES.map((s) => `${s.padEnd(10)} ${String(EXIT_CODES.nagios[s]).padEnd(7)} ${String(EXIT_CODES.binary[s]).padEnd(7)} ${STATUS_MEANING[s]}`)
  return [
    'status     nagios  binary  meaning',
    ...rows,
    'Line 1 of stdout is <SUBJECT>_<STATUS>: summary. Usage errors exit 3 in both modes.',
    'Choose with --exit-codes nagios|binary or MEDIC_EXIT_CODES=binary.',
  ].join('\n')
}
