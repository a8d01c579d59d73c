/**
 * node:util's parseArgs, as medic calls it (strict, positionals allowed, `--no-` for
 * booleans, the negations read back from its tokens), with its results and its error
 * texts. Written here rather than called because node's costs ~1 ms of every run's start
 * (its two modules loaded, its code compiled at the first call), against ~0.05 ms for this
 * one inside the command's bundle and code cache (docs/startup.md, issue 16) — every cron
 * line pays it. test/cli/argv-parse.test.ts holds it to node's own over thousands of
 * generated command lines: same values, positionals, negations, same error text.
 */

export interface ArgOption {
  type: 'string' | 'boolean'
  short?: string
  multiple?: boolean
}

type Value = string | boolean

export interface ArgvParsed {
  values: Record<string, Value | Value[]>
  positionals: string[]
  /** The `--no-X` words that set a boolean X to false: X and the word as given. */
  negated: {name: string; rawName: string}[]
}

interface Token {
  name: string
  rawName: string
  value: string | undefined
  inlineValue: boolean
}

const own = (options: Record<string, ArgOption>, name: string): ArgOption | undefined => (Object.hasOwn(options, name) ? options[name] : undefined)

function longFor(short: string, options: Record<string, ArgOption>): string {
  for (const [name, o] of Object.entries(options)) if (o.short === short) return name
  return short
}

export function parseArgv(args: readonly string[], options: Record<string, ArgOption>): ArgvParsed {
  const tokens: (Token | {positional: string})[] = []
  const rest = [...args]
  while (rest.length > 0) {
    const arg = rest.shift()!
    const next = rest[0]
    if (arg === '--') {
      tokens.push(...rest.splice(0).map((positional) => ({positional})))
      break
    }
    const shortish = arg.length > 2 && arg[0] === '-' && arg[1] !== '-'
    if (arg.length === 2 && arg[0] === '-' && arg[1] !== '-') {
      // -f, or -f VALUE for a string option
      const name = longFor(arg[1], options)
      const takes = own(options, name)?.type === 'string' && next !== undefined
      tokens.push({name, rawName: arg, value: takes ? rest.shift() : undefined, inlineValue: false})
    } else if (shortish && own(options, longFor(arg[1], options))?.type !== 'string') {
      // -abc: each a boolean, or -abFILE once a string option comes
      const expanded: string[] = []
      for (let i = 1; i < arg.length; i++) {
        const name = longFor(arg[i], options)
        if (own(options, name)?.type !== 'string' || i === arg.length - 1) expanded.push(`-${arg[i]}`)
        else {
          expanded.push(`-${arg.slice(i)}`)
          break
        }
      }
      rest.unshift(...expanded)
    } else if (shortish) {
      // -fVALUE
      tokens.push({name: longFor(arg[1], options), rawName: `-${arg[1]}`, value: arg.slice(2), inlineValue: true})
    } else if (arg.length > 2 && arg.startsWith('--') && !arg.includes('=', 3)) {
      // --flag, or --flag VALUE for a string option
      const name = arg.slice(2)
      const takes = own(options, name)?.type === 'string' && next !== undefined
      tokens.push({name, rawName: arg, value: takes ? rest.shift() : undefined, inlineValue: false})
    } else if (arg.length > 2 && arg.startsWith('--')) {
      // --flag=VALUE
      const eq = arg.indexOf('=')
      const name = arg.slice(2, eq)
      tokens.push({name, rawName: `--${name}`, value: arg.slice(eq + 1), inlineValue: true})
    } else tokens.push({positional: arg})
  }

  const values: Record<string, Value | Value[]> = Object.create(null)
  const positionals: string[] = []
  const negated: ArgvParsed['negated'] = []
  for (const t of tokens) {
    if ('positional' in t) {
      positionals.push(t.positional)
      continue
    }
    // node's checkOptionUsage: an unknown `no-X` is X's negation when X is a boolean.
    let checked = t.name
    if (!own(options, checked)) {
      const positive = checked.startsWith('no-') ? checked.slice(3) : null
      if (positive === null || own(options, positive)?.type !== 'boolean') throw new Error(`Unknown option '${t.rawName}'. To specify a positional argument starting with a '-', place it at the end of the command after '--', as in '-- "${t.rawName}"`)
      checked = positive
    }
    const o = own(options, checked)!
    const shortAndLong = `${o.short ? `-${o.short}, ` : ''}--${checked}`
    if (o.type === 'string' && typeof t.value !== 'string') throw new Error(`Option '${shortAndLong} <value>' argument missing`)
    if (o.type === 'boolean' && t.value !== undefined) throw new Error(`Option '${shortAndLong}' does not take an argument`)
    // node's checkOptionLikeValue
    if (!t.inlineValue && t.value !== undefined && t.value.length > 1 && t.value[0] === '-') {
      const example = t.rawName.startsWith('--') ? `'${t.rawName}=-XYZ'` : `'--${t.name}=-XYZ' or '${t.rawName}-XYZ'`
      throw new Error(`Option '${t.rawName}' argument is ambiguous.\nDid you forget to specify the option argument for '${t.rawName}'?\nTo specify an option argument starting with a dash use ${example}.`)
    }
    // node's storeOption: any `no-X` without a value stores X = false (even where `no-X` is itself an option).
    let name = t.name
    let value: Value = t.value ?? true
    if (name === '__proto__') continue
    if (name.startsWith('no-') && t.value === undefined) {
      name = name.slice(3)
      value = false
      negated.push({name, rawName: t.rawName})
    }
    if (own(options, name)?.multiple) {
      const list = values[name]
      if (Array.isArray(list)) list.push(value)
      else values[name] = [value]
    } else values[name] = value
  }
  return {values, positionals, negated}
}
