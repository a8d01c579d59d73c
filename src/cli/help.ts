import {Help, type Command} from '@oclif/core'
import {EXIT_CODES, STATUSES, STATUS_MEANING} from '../core/verdict.js'

export function exitCodeTable(): string {
  const rows = STATUSES.map((s) => `${s.padEnd(10)} ${String(EXIT_CODES.nagios[s]).padEnd(7)} ${String(EXIT_CODES.binary[s]).padEnd(7)} ${STATUS_MEANING[s]}`)
  return [
    'status     nagios  binary  meaning',
    ...rows,
    'Line 1 of stdout is <SUBJECT>_<STATUS>: summary. Usage errors exit 3 in both modes.',
    'Choose with --exit-codes nagios|binary or MEDIC_EXIT_CODES=binary.',
  ].join('\n')
}

/** oclif's help, plus the exit-code table on the root page and every command's page. */
export default class MedicHelp extends Help {
  override async showRootHelp(): Promise<void> {
    await super.showRootHelp()
    this.log(`\n${this.section('EXIT CODES', exitCodeTable())}`)
  }

  override formatCommand(command: Command.Loadable): string {
    return `${super.formatCommand(command)}\n${this.section('EXIT CODES', exitCodeTable())}`
  }
}
