import {Args, Command, Flags} from '@oclif/core'
import type {CommandSpec, FlagSpec} from './spec.js'

/**
 * Turns a command declaration into an oclif command class: oclif reads its statics for
 * help, the manifest and `oclif readme`; `run()` goes through the same runner as the
 * fast entry, so argv has one parser whichever way the command is reached.
 */
export function commandFromSpec(spec: CommandSpec): typeof Command {
  const flags: Record<string, any> = {}
  for (const [name, f] of Object.entries(spec.flags)) flags[name] = toOclifFlag(f)
  const args: Record<string, any> = {}
  for (const a of spec.args ?? []) args[a.name] = Args.string({description: a.description, required: false})
  return class extends Command {
    static override summary = spec.summary
    static override description = spec.description
    static override examples = spec.examples
    static override flags = flags
    static override args = args
    static override strict = false
    static override usage = spec.rest ? `${spec.id} [FLAGS] -- ${spec.rest.name.toUpperCase()} [ARGS...]` : undefined
    /** Read by cli/help.ts from the manifest (oclif keeps a command's extra statics there). */
    static exitCodes = spec.exitCodes

    async run(): Promise<void> {
      const {runCommand} = await import('./runner.js')
      process.exitCode = await runCommand(spec, this.argv)
    }
  }
}

function toOclifFlag(f: FlagSpec): unknown {
  const common = {
    description: f.description,
    ...(f.char ? {char: f.char as any} : {}),
    ...(f.hidden ? {hidden: true} : {}),
    ...(f.env ? {env: f.env} : {}),
  }
  if (f.type === 'boolean') return Flags.boolean({...common, ...(f.allowNo ? {allowNo: true} : {}), ...(f.default === true ? {default: true} : {})})
  const helpValue = {duration: '<duration>', size: '<size>', regex: '<regex>', port: '<port>', integer: '<n>', name: '<name>', enum: undefined, string: undefined}[f.type]
  return Flags.string(<any>{
    ...common,
    ...(f.multiple ? {multiple: true} : {}),
    ...(f.options ? {options: [...f.options]} : {}),
    ...(typeof f.default === 'string' ? {default: f.default} : {}),
    ...(helpValue ? {helpValue} : {}),
  })
}
