import {splitArgv} from '../core/argv.js'
import {parseArgv, type ArgOption} from './argv-parse.js'
import {parseDuration, parseSize} from '../core/duration.js'
import {nameProblem} from '../core/names.js'
import {suggestion} from '../core/suggest.js'
import type {CommandSpec, Flags, FlagSpec, FlagValue, FlagValues, Parsed} from './spec.js'

import {UsageError} from '../core/verdict.js'

export {UsageError}

/** What a thrown value says: an Error's message, anything else as text. */
export const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e))

type ParseArgsOptions = Record<string, ArgOption>

/**
 * Parse argv (the words after the command id) against a command's declaration. The values
 * are what FlagValueOf says each declaration gives: this function is where that holds.
 */
export function parseCommandArgv<F extends Flags>(spec: CommandSpec<F>, argv: string[], env: NodeJS.ProcessEnv = process.env): Parsed<F> {
  const options: ParseArgsOptions = {}
  for (const [name, f] of Object.entries(spec.flags)) {
    options[name] = {type: f.type === 'boolean' ? 'boolean' : 'string', ...(f.char ? {short: f.char} : {}), ...(f.multiple ? {multiple: true} : {})}
  }
  // The words before `--` are parsed; after it, the command a wrapper runs, verbatim.
  const {words, rest: after} = splitArgv(argv)
  const rest = after ?? []
  let res: ReturnType<typeof parseArgv>
  try {
    // node:util parseArgs' rules and texts (strict, positionals, --no- for booleans), without its start-up cost: cli/argv-parse.ts
    res = parseArgv(negativesJoined(spec, words), options)
  } catch (e) {
    throw new UsageError(friendly(messageOf(e), spec))
  }
  for (const t of res.negated) {
    if (t.rawName.startsWith('--no-') && !spec.flags[t.name]?.allowNo) {
      throw new UsageError(`unknown flag ${t.rawName}${suggestion(t.rawName, flagNames(spec), false)}`)
    }
  }
  const before = res.positionals
  if (rest.length > 0 && !spec.rest) throw new UsageError(`unexpected arguments after --: ${rest.join(' ')}`)
  if (spec.rest?.required && rest.length === 0) throw new UsageError(`missing the command to run: medic ${spec.id} [flags] -- ${spec.rest.name.toUpperCase()} [ARGS...]`)
  if (spec.rest && rest.length > 0 && rest[0] === '') throw new UsageError('the command to run is an empty string')

  const raw = res.values
  const args = spec.args ?? []
  const extra: Record<string, string[]> = {}
  const positionals: string[] = []
  if (before.length > 0) {
    const sink = args[0]
    if (args.length === 1 && sink.into) extra[sink.into] = before
    else if (args.length === 1 && before.length <= (sink.max ?? 1)) positionals.push(...before)
    else if (args.length > 1 && before.length <= args.length) before.forEach((v, i) => (args[i].into ? (extra[args[i].into!] = [v]) : positionals.push(v)))
    else throw new UsageError(`unexpected argument: ${before[args.length === 1 ? (sink.max ?? 1) : args.length] ?? before[0]}`)
  }
  const given = new Set<string>([...Object.keys(raw).filter((k) => raw[k] !== undefined), ...Object.keys(extra)])

  const flags: Record<string, FlagValue> = {}
  for (const [name, f] of Object.entries(spec.flags)) {
    let v: string | boolean | (string | boolean)[] | undefined = raw[name]
    if (extra[name]) v = [...(Array.isArray(v) ? v.map(String) : v === undefined ? [] : [String(v)]), ...extra[name]]
    if (v === undefined && f.env && env[f.env] !== undefined && env[f.env] !== '') v = f.multiple ? [env[f.env]!] : env[f.env]
    if (v === undefined && f.default !== undefined) v = f.multiple ? [String(f.default)] : f.default
    if (f.type === 'boolean') {
      flags[name] = f.multiple ? (Array.isArray(v) ? v.length : 0) : v === true
      continue
    }
    if (v === undefined) {
      flags[name] = f.multiple ? [] : undefined
      continue
    }
    const list = Array.isArray(v) ? v.map(String) : [String(v)]
    const converted = list.map((x) => convert(name, f, x))
    flags[name] = f.multiple ? converted : converted[converted.length - 1]
  }
  return {flags: declared<F>(flags), rest, given, positionals}
}

/**
 * Settings from a config file, for the flags the command line did not give: converted
 * and validated exactly like flags, so a bad value in the file is a usage error too.
 */
export function applySettings<F extends Flags>(spec: {flags: F}, parsed: Parsed<F>, settings: Record<string, unknown>, origin: string): Parsed<F> {
  const flags: Record<string, FlagValue> = {...parsed.flags}
  for (const [name, value] of Object.entries(settings)) {
    const f = spec.flags[name]
    if (!f) throw new UsageError(`${origin}: unknown setting "${name}"`)
    if (parsed.given.has(name) || value === null || value === undefined) continue
    try {
      if (f.type === 'boolean') flags[name] = value === true || value === 'true'
      else if (f.multiple) flags[name] = (Array.isArray(value) ? value : [value]).map((v) => convert(name, f, String(v)))
      else flags[name] = convert(name, f, String(value))
    } catch (e) {
      throw new UsageError(`${origin}: ${messageOf(e)}`)
    }
  }
  return {...parsed, flags: declared<F>(flags)}
}

/**
 * The one cast left in the parser, and why it stays: the record parseCommandArgv and
 * applySettings build key by key holds, for each flag, what its declaration gives (convert's
 * type, the boolean and multiple rules), which is what FlagValueOf states; TypeScript cannot
 * follow a record built from Object.entries to a mapped type, so the claim is made here, once,
 * and checked by test/cli/spec-types.test.ts against every declared type.
 */
function declared<F extends Flags>(flags: Record<string, FlagValue>): FlagValues<F> {
  return flags as FlagValues<F>
}

function convert(name: string, f: FlagSpec, text: string): number | string | RegExp {
  const bad = (what: string) => new UsageError(`--${name} ${JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text)}: ${what}`)
  switch (f.type) {
    case 'string':
      return text
    case 'name': {
      const why = nameProblem(text)
      if (why) throw bad(why)
      return text
    }
    case 'enum':
      if (!f.options?.includes(text)) throw bad(`expected one of ${f.options?.join(', ')}`)
      return text
    case 'integer': {
      if (!/^-?\d+$/.test(text.trim())) throw bad('expected a whole number')
      const n = Number(text)
      if (!Number.isSafeInteger(n)) throw bad(`too large (at most ${Number.MAX_SAFE_INTEGER})`)
      if ((f.min !== undefined && n < f.min) || (f.max !== undefined && n > f.max)) throw bad(f.max === undefined ? `expected ${f.min} or more` : f.min === undefined ? `expected ${f.max} or less` : `expected ${f.min} to ${f.max}`)
      return n
    }
    case 'port': {
      if (!/^\d+$/.test(text.trim())) throw bad('expected a TCP port number, 1 to 65535')
      const n = Number(text)
      if (n < 1 || n > 65535) throw bad('expected a TCP port number, 1 to 65535')
      return n
    }
    case 'duration': {
      const ms = parseDuration(text)
      if (ms === null) throw bad('expected a duration such as 250ms, 10s, 5m, 1h or a number of seconds')
      if (!Number.isSafeInteger(ms)) throw bad('too large')
      if (f.min !== undefined && ms < f.min) throw bad(`must be at least ${f.min}ms`)
      return ms
    }
    case 'size': {
      const b = parseSize(text)
      if (b === null) throw bad('expected a size such as 10MB, 512KiB or a number of bytes')
      if (!Number.isSafeInteger(b)) throw bad(`too large (at most ${Number.MAX_SAFE_INTEGER} bytes)`)
      return b
    }
    case 'regex':
      try {
        return new RegExp(text)
      } catch (e) {
        throw bad(`not a valid regular expression (${messageOf(e)})`)
      }
    default:
      return text
  }
}

function flagNames(spec: CommandSpec): string[] {
  return Object.entries(spec.flags).flatMap(([n, f]) => [`--${n}`, ...(f.allowNo ? [`--no-${n}`] : [])])
}

/**
 * `--grace -5`: node's parseArgs takes a value that starts with "-" for a flag ("argument
 * is ambiguous"); a negative number after a flag that takes a value is that value, so it
 * is checked like any other (`--grace "-5": expected a duration …`).
 */
function negativesJoined(spec: CommandSpec, argv: string[]): string[] {
  const out: string[] = []
  const chars = new Map(Object.entries(spec.flags).filter(([, f]) => f.char).map(([n, f]) => [`-${f.char}`, n]))
  for (let i = 0; i < argv.length; i++) {
    const w = argv[i]
    if (w === '--') return [...out, ...argv.slice(i)]
    const name = w.startsWith('--') ? w.slice(2) : chars.get(w)
    if (name !== undefined && spec.flags[name] && spec.flags[name].type !== 'boolean' && /^-\d/.test(argv[i + 1] ?? '')) {
      out.push(`--${name}=${argv[++i]}`)
      continue
    }
    out.push(w)
  }
  return out
}

function friendly(msg: string, spec: CommandSpec): string {
  return msg
    .replace(/^Unknown option '([^']+)'.*$/s, (_, f: string) => `unknown flag ${f}${suggestion(f, flagNames(spec), false)}`)
    .replace(/^Option '([^']+?)(?: <value>)?' argument is ambiguous.*$/s, 'flag $1 needs a value (one that starts with "-" is written $1=-…)')
    .replace(/^Option '([^']+?)(?: <value>)?' argument missing.*$/s, 'flag $1 needs a value')
    .replace(/^Option '([^']+?)' does not take an argument.*$/s, 'flag $1 takes no value')
    .split('\n')[0]
}
