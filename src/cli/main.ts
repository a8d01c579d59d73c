import {splitArgv} from '../core/argv.js'
import {toJson, toText, usageVerdict} from '../core/verdict.js'
import {COMMANDS, topics} from './registry.js'
import {route} from './route.js'

/**
 * The entry point. Running a command never loads oclif: @oclif/core alone costs ~50 ms
 * of a ~125 ms start (research/deps-prototype.md), and a cron or heartbeat run must stay
 * near bare node. oclif serves what it is good at — help, the manifest, the README —
 * and argv is parsed from the same command declarations either way.
 */
export async function main(argv: string[], binUrl: string): Promise<void> {
  const {words} = splitArgv(argv)
  const first = argv[0]

  const {id, help: wantsHelp} = route(argv, Object.keys(COMMANDS))
  if (id && !wantsHelp) {
    const spec = await COMMANDS[id]()
    const {runCommand} = await import('./runner.js')
    const code = await runCommand(spec, argv.slice(id.split(' ').length))
    process.exit(code)
  }

  const helpLike = argv.length === 0 || wantsHelp || ['help', '--version', '-V', 'version', 'commands', 'readme'].includes(first)
  if (id || helpLike || topics().includes(first)) {
    const {execute} = await import('@oclif/core')
    const args = topics().includes(first) && argv.length === 1 ? [first, '--help'] : argv
    // The package root, not bin/: bin/package.json (CommonJS) would pass for oclif's root.
    await execute({dir: new URL('..', binUrl).href, args})
    return
  }

  const message = first.startsWith('-') ? `unknown flag ${first} (flags go after a command)` : `unknown command "${first}"`
  process.stderr.write(`medic: ${message}\nusage: medic COMMAND [FLAGS]; see 'medic --help'\n`)
  const v = usageVerdict('MEDIC', message)
  process.stdout.write(words.includes('--json') ? JSON.stringify(toJson(v, 'nagios', 0)) + '\n' : toText(v, 0))
  process.exit(3)
}
