import {CommandHelp, Help, type Command} from '@oclif/core'
import {exitCodeTable} from './exit-codes.js'

/**
 * Text indented by 4 spaces or more is printed as written (a config snippet, a unit
 * line to paste): oclif wraps every line to the terminal, which breaks a wsl.conf
 * `command = …` line in two. Everything else is wrapped as oclif does.
 */
class MedicCommandHelp extends CommandHelp {
  override wrap(body: string, spacing = this.indentSpacing): string {
    return body.split('\n').map((l) => (/^ {4}\S/.test(l) ? this.render(l) : super.wrap(l, spacing))).join('\n')
  }
}

/** oclif's help, plus the exit codes on the root page and every command's page, each its own section. */
export default class MedicHelp extends Help {
  override CommandHelpClass = MedicCommandHelp

  override async showRootHelp(): Promise<void> {
    await super.showRootHelp()
    this.log(`\n${this.section('EXIT CODES', exitCodeTable())}`)
  }

  override formatCommand(command: Command.Loadable): string {
    // oclif's own commands (help, autocomplete) print a page, not a verdict: no table.
    if (command.pluginName !== this.config.name) return super.formatCommand(command)
    const own = typeof command.exitCodes === 'string' ? command.exitCodes : exitCodeTable()
    return `${super.formatCommand(command).trimEnd()}\n\n${this.section('EXIT CODES', own)}`
  }
}
