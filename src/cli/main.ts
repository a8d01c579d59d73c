import {splitArgv} from '../core/argv.js'
import {suggestion} from '../core/suggest.js'
import {toJson, toText, usageVerdict} from '../core/verdict.js'
import {BUILTIN_WORDS, COMMANDS, TOPIC_SUBJECTS} from './registry.js'
import {route} from './route.js'
import type {CommandSpec} from './spec.js'

/**
 * The entry point. Running a command never loads oclif: @oclif/core alone costs ~50 ms
 * of a ~125 ms start (research/deps-prototype.md), and a cron or heartbeat run must stay
 * near bare node. oclif serves what it is good at — help, the version, completion, the
 * manifest, the README — and argv is parsed from the same command declarations either way.
 *
 * Every other word is decided here, before oclif: an unknown command, topic or flag is
 * `<SUBJECT>_UNKNOWN: …` on line 1 and exit 3 with a "did you mean" (docs/contract.md §1),
 * never oclif's "› Error" with nothing on stdout; `-h`/`--help` and `-V`/`--version`/`version`
 * work after any command or topic and exit 0.
 */
export async function main(argv: string[], binUrl: string): Promise<void> {
  const {words} = splitArgv(argv)
  const ids = Object.keys(COMMANDS)

  const {id, help, version} = route(argv, ids)
  // `--unit -h` is a value (a bad one), not a request for help: the command's spec tells.
  const spec = id ? await COMMANDS[id]() : undefined
  const asks = (flags: string[]) => spec !== undefined && asked(spec, words.slice(id!.split(' ').length), flags)
  if (id && !asks(['--help', '-h']) && !asks(['--version', '-V'])) {
    const {runCommand} = await import('./runner.js')
    const code = await runCommand(spec!, argv.slice(id.split(' ').length))
    process.exit(code)
  }

  // The package root, not bin/: bin/package.json (CommonJS) would pass for oclif's root.
  const dir = new URL('..', binUrl).href
  const oclif = async (args: string[]) => {
    // oclif and its plugins decide colour (ansis) and the spinner (ux.action) when loaded, and
    // hear neither NO_COLOR (the spinner) nor CI (colours): said to them the way they hear it.
    const e = process.env
    if (e.NO_COLOR || e.CI || e.TERM === 'dumb') Object.assign(e, {FORCE_COLOR: '0', TERM: 'dumb'})
    const {execute} = await import('@oclif/core')
    await execute({dir, args})
  }
  const first = words[0]
  if ((id ? asks(['--version', '-V']) : version) || first === 'version') return oclif(['--version'])
  if (argv.length === 0) return oclif(['--help'])
  if (help || first === 'help') {
    const target = resolve(words.slice(first === 'help' ? 1 : 0).filter((w) => w !== '--help' && w !== '-h'), ids)
    if ('error' in target) return usage(target.subject, target.error, words)
    return oclif([...target.words, '--help'])
  }
  if (first === 'commands') return listCommands(dir)
  if (first === 'autocomplete') {
    // oclif's completion plugin: `autocomplete [bash|zsh|powershell] [-r]`, and the
    // `autocomplete script SHELL` its instructions run; anything else is ours to refuse.
    const shells = ['bash', 'zsh', 'powershell']
    const rest = words.slice(1).filter((w) => w !== '-r' && w !== '--refresh-cache')
    const ok = rest.length === 0 || (rest.length === 1 && shells.includes(rest[0])) || (rest.length === 2 && rest[0] === 'script' && shells.includes(rest[1]))
    if (!ok) return usage('MEDIC', `autocomplete: unexpected ${JSON.stringify(rest.join(' '))}; usage: medic autocomplete [bash|zsh|powershell] [-r]`, words)
    return oclif(argv)
  }
  const target = resolve(words, ids)
  if ('error' in target) return usage(target.subject, target.error, words)
  // A topic alone (`medic ollama`) shows its commands; `id` was handled above.
  return oclif([...target.words, '--help'])
}

type Target = {words: string[]} | {error: string; subject: string}

/** What the leading words name: a command, a topic, the root (none), or a usage error. */
function resolve(words: string[], ids: string[]): Target {
  const [w0, w1] = words
  if (w0 === undefined) return {words: []}
  const topic = TOPIC_SUBJECTS[w0] !== undefined && !ids.includes(w0)
  if (w0.startsWith('-')) return {subject: 'MEDIC', error: `unknown flag ${w0} (flags go after a command)${suggestion(w0, ['--help', '--version'], false)}`}
  if (w1 !== undefined && ids.includes(`${w0} ${w1}`)) return {words: [w0, w1]}
  if (ids.includes(w0)) return {words: [w0]}
  // oclif's own commands; `help version` and `help commands` show the root page.
  if (w0 === 'help' || w0 === 'autocomplete') return {words: [w0]}
  if (w0 === 'version' || w0 === 'commands') return {words: []}
  if (topic) {
    const subject = TOPIC_SUBJECTS[w0]
    const under = ids.filter((i) => i.startsWith(`${w0} `))
    if (w1 === undefined) return {words: [w0]}
    if (w1.startsWith('-')) return {subject, error: `unknown flag ${w1}: "${w0}" is a topic; flags go after one of its commands (${under.join(', ')})`}
    return {subject, error: `unknown command "${w0} ${w1}"${suggestion(w1, under.map((i) => i.slice(w0.length + 1))).replace('"', `"${w0} `)}`}
  }
  const top = [...new Set([...ids.map((i) => i.split(' ')[0]), ...BUILTIN_WORDS])]
  // `medic frozen-check` is `medic ollama frozen-check` without its topic.
  const hint = suggestion(w0, top) || suggestion(w0, ids.filter((i) => i.includes(' ')).map((i) => i.split(' ')[1])).replace(/"([^"]+)"/, (_, s: string) => `"${ids.find((i) => i.endsWith(` ${s}`))}"`)
  return {subject: 'MEDIC', error: `unknown command "${w0}"${hint}`}
}

/** Whether one of `flags` stands in `words` as itself, not as the value of the flag before it. */
function asked(spec: CommandSpec, words: string[], flags: string[]): boolean {
  const chars = new Set(Object.values(spec.flags).filter((f) => f.char && f.type !== 'boolean').map((f) => `-${f.char}`))
  return words.some((w, i) => {
    if (!flags.includes(w)) return false
    const before = words[i - 1] ?? ''
    const takesValue = (before.startsWith('--') && !before.includes('=') && spec.flags[before.slice(2)] !== undefined && spec.flags[before.slice(2)].type !== 'boolean') || chars.has(before)
    return !takesValue
  })
}

function usage(subject: string, message: string, words: string[]): never {
  process.stderr.write(`medic: ${message}\nusage: medic COMMAND [FLAGS]; see 'medic --help'\n`)
  const v = usageVerdict(subject, message)
  process.stdout.write(words.includes('--json') ? JSON.stringify(toJson(v, 'nagios', 0)) + '\n' : toText(v, 0))
  process.exit(3)
}

/** `medic commands`: every command with its summary, from oclif's manifest. */
async function listCommands(dir: string): Promise<void> {
  const {Config} = await import('@oclif/core')
  const config = await Config.load(dir)
  const cmds = config.commands.filter((c) => !c.hidden).map((c) => [c.id.replace(/:/g, ' '), c.summary ?? c.description?.split('\n')[0] ?? ''] as const)
  cmds.sort((a, b) => a[0].localeCompare(b[0]))
  const w = Math.max(...cmds.map(([n]) => n.length))
  process.stdout.write(cmds.map(([n, s]) => `${n.padEnd(w)}  ${s}`).join('\n') + '\n')
}
