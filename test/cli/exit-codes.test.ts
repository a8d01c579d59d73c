import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {COMMON_FLAGS} from '../../src/cli/common-flags.js'
import {COMMANDS} from '../../src/cli/registry.js'
import {runCommand} from '../../src/cli/runner.js'
import {command} from '../../src/cli/spec.js'
import {EXIT_CODES, Refusal, STATUSES, type Status} from '../../src/core/verdict.js'
import {expectContract, medic} from '../helpers/procs.js'

/**
 * The exit-code mode (--exit-codes, MEDIC_EXIT_CODES) is honoured on every path of the
 * runner, and a usage error exits 3 in either mode — so the runner need not know the mode
 * before it has parsed argv (the prescan that read it early is gone).
 */
const returning = (status: Status | 'throw' | 'refuse') => command({
  id: 'fake', subject: 'FAKE', summary: '', description: '', examples: [],
  flags: {...COMMON_FLAGS, name: {type: 'name', description: ''}},
  rest: {name: 'cmd', description: '', required: false},
  run: async () => {
    if (status === 'throw') throw new Error('kaput')
    if (status === 'refuse') throw new Refusal('not signalled', 'ALERT')
    return {subject: 'FAKE', status, summary: 's', checks: [], actions: []}
  },
})

async function run(status: Status | 'throw' | 'refuse', argv: string[], env: NodeJS.ProcessEnv = {}) {
  const out: string[] = []
  const code = await runCommand(returning(status), argv, env, {stdout: (t) => out.push(t), stderr: () => {}})
  return {code, out: out.join('')}
}

// How the mode is asked for, and which mode that is.
const asked: Array<[string, string[], NodeJS.ProcessEnv, 'nagios' | 'binary']> = [
  ['the default', [], {}, 'nagios'],
  ['--exit-codes binary', ['--exit-codes', 'binary'], {}, 'binary'],
  ['--exit-codes=binary', ['--exit-codes=binary'], {}, 'binary'],
  ['MEDIC_EXIT_CODES=binary', [], {MEDIC_EXIT_CODES: 'binary'}, 'binary'],
  ['--exit-codes nagios over MEDIC_EXIT_CODES=binary', ['--exit-codes', 'nagios'], {MEDIC_EXIT_CODES: 'binary'}, 'nagios'],
  ['the last of two --exit-codes', ['--exit-codes', 'nagios', '--exit-codes', 'binary'], {}, 'binary'],
  ['--exit-codes binary after -- (the wrapped command\'s, not medic\'s)', ['--', 'x', '--exit-codes', 'binary'], {}, 'nagios'],
]

describe.each(asked)('exit-code mode: %s', (_what, argv, env, mode) => {
  it.each(STATUSES)('%s exits as the mode says, in text and in --json', async (status) => {
    const text = await run(status, argv, env)
    expect(text.code).toBe(EXIT_CODES[mode][status])
    expect(text.out).toMatch(new RegExp(`^FAKE_${status}: `))
    const json = await run(status, ['--json', ...argv], env)
    expect(json.code).toBe(EXIT_CODES[mode][status])
    expect(JSON.parse(json.out)).toMatchObject({status, exitCode: EXIT_CODES[mode][status]})
  })

  it('an internal error is UNKNOWN in the mode', async () => {
    const r = await run('throw', argv, env)
    expect(r.code).toBe(EXIT_CODES[mode].UNKNOWN)
    expect(r.out).toMatch(/^FAKE_UNKNOWN: internal error: kaput/)
  })

  it('a refusal is its status in the mode', async () => {
    const r = await run('refuse', argv, env)
    expect(r.code).toBe(EXIT_CODES[mode].ALERT)
    expect(r.out).toMatch(/^FAKE_ALERT: not signalled/)
  })

  it.each([
    ['an unknown flag', ['--bogus']],
    ['a bad value', ['--timeout', 'soon']],
    // Given twice, the last --exit-codes counts (so the bad one goes after the mode's own words below).
    ['a bad --exit-codes', ['--exit-codes', 'maybe']],
    ['a bad name', ['--name', '../x']],
    ['a flag value that is a bare --', ['--name', '--']],
    ['a flag value that starts with -', ['--name', '-x']],
    ['an observer setting (found after the parse)', ['--notify', '"open']],
  ])('bad input (%s) is UNKNOWN, exit 3, in text and in --json', async (_bad, words) => {
    // The bad word before and after the mode's own words: the mode is never half-read.
    const end = argv.includes('--') ? argv.indexOf('--') : argv.length
    const orders = [[...argv.slice(0, end), ...words, ...argv.slice(end)], ...(words[0] === '--exit-codes' ? [] : [[...words, ...argv]])]
    for (const a of orders) {
      const text = await run('OK', a, env)
      expect(text.code, a.join(' ')).toBe(3)
      expect(text.out).toMatch(/^FAKE_UNKNOWN: /)
      const json = await run('OK', ['--json', ...a], env)
      expect(json.code).toBe(3)
      expect(JSON.parse(json.out)).toMatchObject({status: 'UNKNOWN', exitCode: 3})
    }
  })
})

describe('what a word after -- is', () => {
  it('--json after -- belongs to the wrapped command: the verdict is text', async () => {
    const r = await run('OK', ['--', '--json'])
    expect(r.out).toMatch(/^FAKE_OK: /)
  })

  it('--json after -- of a command that takes no command: a usage error, printed as text', async () => {
    const out: string[] = []
    const spec = command({id: 'plain', subject: 'PLAIN', summary: '', description: '', examples: [], flags: COMMON_FLAGS, run: async () => ({subject: 'PLAIN', status: 'OK', summary: '', checks: [], actions: []})})
    const code = await runCommand(spec, ['--', '--json'], {}, {stdout: (t) => out.push(t), stderr: () => {}})
    expect(code).toBe(3)
    expect(out.join('')).toBe('PLAIN_UNKNOWN: unexpected arguments after --: --json\n')
  })

  it('--name=-- is a value, not the end of the flags: --json after it counts', async () => {
    const r = await run('OK', ['--name=--', '--json'])
    expect(r.code).toBe(0)
    expect(JSON.parse(r.out)).toMatchObject({status: 'OK'})
  })

  it('a value that starts with - is given as --flag=-x; without = it is a usage error, whatever follows', async () => {
    expect((await run('OK', ['--name=-x'])).code).toBe(0)
    for (const a of [['--name', '-x'], ['--name', '--json'], ['--name', '--', 'x']]) {
      const r = await run('OK', a)
      expect(r.code, a.join(' ')).toBe(3)
      // `--name --json`: the word is --json to the prescan, so the usage error is printed as JSON.
      expect(r.out).toMatch(a[1] === '--json' ? /^\{"token":"FAKE_UNKNOWN"/ : /^FAKE_UNKNOWN: /)
    }
  })
})

// Every command, through bin/run.js and its bundle: the environment's binary mode does
// not change the exit code of bad input (test/cli/contract.test.ts does the flag's).
const ids = Object.keys(COMMANDS)
const SUBJECT: Record<string, string> = Object.fromEntries(await Promise.all(ids.map(async (id) => [id, (await COMMANDS[id]()).subject])))
describe.each(ids)('medic %s under MEDIC_EXIT_CODES=binary', (id) => {
  it('bad input is UNKNOWN, exit 3, and says so in --json', async () => {
    const r = await medic([...id.split(' '), '--json', '--bogus'], {env: {MEDIC_EXIT_CODES: 'binary'}})
    expect(r.code).toBe(3)
    expect(JSON.parse(r.stdout)).toMatchObject({token: `${SUBJECT[id]}_UNKNOWN`, exitCode: 3})
    const t = await medic([...id.split(' '), '--exit-codes', 'binary', '--timeout', 'soon'], {env: {MEDIC_EXIT_CODES: 'binary'}})
    expectContract(t, `${SUBJECT[id]}_UNKNOWN`)
    expect(t.code).toBe(3)
  })
})

describe('URL flags are checked before anything starts', () => {
  it.each([
    ['boot', ['boot', '--health-url', 'ftp://x', '--', 'true'], 'BOOT'],
    ['supervise', ['supervise', '--health-url', 'http://', '--', 'true'], 'SUPERVISOR'],
    ['health', ['health', '--url', 'file:///etc/passwd', '--no-repair'], 'GATEWAY'],
  ])('%s', async (_id, argv, subject) => {
    const state = mkdtempSync(join(tmpdir(), 'medic-urlflags-'))
    try {
      const r = await medic([argv[0], '--state-dir', state, ...argv.slice(1)], {env: {MEDIC_EXIT_CODES: 'binary'}})
      expectContract(r, `${subject}_UNKNOWN`)
      expect(r.code).toBe(3)
      expect(r.lines[0]).toMatch(/--(health-)?url ".*": (only http and https|Invalid URL)/)
    } finally {
      rmSync(state, {recursive: true, force: true})
    }
  })
})

describe("a config entry's settings count as the flags would (medic health SERVICE)", () => {
  const withConfig = async (entry: Record<string, unknown>, argv: string[], env: NodeJS.ProcessEnv = {}) => {
    const dir = mkdtempSync(join(tmpdir(), 'medic-config-mode-'))
    try {
      // Where medic searches (never the working directory): $XDG_CONFIG_HOME/medic.
      mkdirSync(join(dir, 'medic'))
      writeFileSync(join(dir, 'medic', 'medic.config.json'), JSON.stringify({services: {svc: {port: 1, repair: false, manager: 'none', 'reprobe-delay': '10ms', ...entry}}}))
      return await medic(['health', 'svc', '--state-dir', join(dir, 'state'), ...argv], {env: {XDG_CONFIG_HOME: dir, ...env}})
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  }

  it('exit-codes: binary in the entry makes its ALERT exit 1; the command line still wins', async () => {
    const nagios = await withConfig({}, [])
    expectContract(nagios, 'SVC_ALERT')
    expect(nagios.code).toBe(2)
    const binary = await withConfig({'exit-codes': 'binary'}, [])
    expectContract(binary, 'SVC_ALERT')
    expect(binary.code).toBe(1)
    expect((await withConfig({'exit-codes': 'binary'}, ['--exit-codes', 'nagios'])).code).toBe(2)
    expect((await withConfig({'exit-codes': 'nagios'}, [], {MEDIC_EXIT_CODES: 'binary'})).code).toBe(2)
  })

  it('json: true in the entry prints the one JSON object, with the exit code of the mode', async () => {
    const r = await withConfig({json: true, 'exit-codes': 'binary'}, [])
    expect(r.code).toBe(1)
    expect(JSON.parse(r.stdout)).toMatchObject({token: 'SVC_ALERT', exitCode: 1})
  })

  it('a bad value in the entry is SVC_UNKNOWN, exit 3, in either mode', async () => {
    for (const entry of [{port: 'abc'}, {'exit-codes': 'maybe'}, {'exit-codes': 'binary', port: 'abc'}]) {
      const r = await withConfig(entry, [], {MEDIC_EXIT_CODES: 'binary'})
      expectContract(r, 'SVC_UNKNOWN')
      expect(r.code).toBe(3)
    }
  })
})
