import {parseArgs} from 'node:util'
import {describe, expect, it} from 'vitest'
import {parseArgv, type ArgOption} from '../../src/cli/argv-parse.js'

// src/cli/argv-parse.ts stands in for node:util parseArgs (strict, positionals, negatives):
// node's own is the oracle here, over fixed edge cases and generated command lines.
const OPTIONS: Record<string, ArgOption> = {
  port: {type: 'string', short: 'p'},
  tcp: {type: 'boolean'},
  verbose: {type: 'boolean', short: 'v', multiple: true},
  protect: {type: 'string', multiple: true},
  repair: {type: 'boolean'},
  json: {type: 'boolean', short: 'j'},
  name: {type: 'string', short: 'n'},
  'no-cache': {type: 'boolean'},
  'dry-run': {type: 'boolean'},
}

type Outcome = {values: Record<string, unknown>; positionals: string[]; negated: {name: string; rawName: string}[]} | {error: string}

function oracle(args: string[], options = OPTIONS): Outcome {
  try {
    const r = parseArgs({args, options, allowPositionals: true, allowNegative: true, strict: true, tokens: true})
    const negated = (r.tokens ?? []).filter((t) => t.kind === 'option' && t.rawName.startsWith('--no-') && t.name !== t.rawName.slice(2)).map((t) => ({name: (t as {name: string}).name, rawName: (t as {rawName: string}).rawName}))
    return {values: {...r.values}, positionals: r.positionals, negated}
  } catch (e) {
    return {error: (e as Error).message}
  }
}

function mine(args: string[], options = OPTIONS): Outcome {
  try {
    const r = parseArgv(args, options)
    return {values: {...r.values}, positionals: r.positionals, negated: r.negated}
  } catch (e) {
    return {error: (e as Error).message}
  }
}

const WORDS = ['--port', '-p', '80', '-5', '-', '--tcp', '--tcp=1', '--tcp=', '--no-tcp', '--no-port', '--zz', '-z', '-vv', '-vp80', '-vp', '-pv', '-p80', '-p=', '--port=', '--port=-1', '--verbose', '-v', '-jv', '-vj', '-vn', '-nv', '--protect', 'x', '--protect=a', '--name=', '--=x', '---x', '--no-repair=1', '--no-repair', '--repair', '--__proto__', '--constructor', '--toString', '-v=1', '--no-', '--no', '-vz', '--no-cache', '--no-no-cache', '--cache', '--dry-run', '--no-dry-run', 'foo', '', ' ', '-j', '--json=x', 'é', '--é', '-é']

describe('parseArgv is node:util parseArgs for medic', () => {
  it('on every edge case, one word and two', () => {
    for (const a of WORDS) {
      expect(mine([a]), JSON.stringify([a])).toEqual(oracle([a]))
      for (const b of WORDS) expect(mine([a, b]), JSON.stringify([a, b])).toEqual(oracle([a, b]))
    }
  })

  it('on 20,000 generated command lines (seeded)', () => {
    let seed = 0x5eed
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n)
    for (let i = 0; i < 20_000; i++) {
      const args = Array.from({length: rand(7)}, () => WORDS[rand(WORDS.length)])
      expect(mine(args), JSON.stringify(args)).toEqual(oracle(args))
    }
  })

  it('with no options at all, and with a short that names no option', () => {
    for (const a of WORDS) expect(mine([a, 'x'], {}), a).toEqual(oracle([a, 'x'], {}))
    const odd = {x: {type: 'string' as const, short: 'z'}}
    for (const a of WORDS) expect(mine([a, '-z', 'q'], odd), a).toEqual(oracle([a, '-z', 'q'], odd))
  })
})
