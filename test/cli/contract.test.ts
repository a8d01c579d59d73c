import {readFileSync} from 'node:fs'
import {describe, expect, it} from 'vitest'
import {COMMANDS} from '../../src/cli/registry.js'
import {expectContract, medic, ROOT} from '../helpers/procs.js'

/**
 * The verdict contract holds on every usage error of every command: token on line 1,
 * exit 3 (in both exit-code modes), a hint on stderr, never a stack trace.
 */
const manifest = JSON.parse(readFileSync(`${ROOT}/oclif.manifest.json`, 'utf8')) as {commands: Record<string, {flags: Record<string, unknown>}>}
const ids = Object.keys(manifest.commands).map((id) => id.replace(/:/g, ' ')) // oclif's ids use ':'
const SUBJECT: Record<string, string> = Object.fromEntries(await Promise.all(Object.entries(COMMANDS).map(async ([id, load]) => [id, (await load()).subject])))

describe.each(ids)('usage errors of medic %s', (id) => {
  const subject = SUBJECT[id]
  const words = id.split(' ')
  it.each([
    ['an unknown flag', ['--bogus']],
    ['a flag missing its value', ['--timeout']],
    ['a malformed duration', ['--timeout', 'soon']],
    ['an unknown exit-code mode', ['--exit-codes', 'maybe']],
    ['a value given to a boolean', ['--json=yes']],
    ['a negated flag that is not negatable', ['--no-json']],
  ])('%s', async (_what, args) => {
    for (const mode of [[], ['--exit-codes', 'binary']]) {
      const r = await medic([...words, ...mode, ...args])
      expectContract(r, `${subject}_UNKNOWN`)
      expect(r.code).toBe(3)
      expect(r.stderr).toMatch(/usage: see 'medic/)
    }
  })

  it('prints one JSON object for a usage error under --json', async () => {
    const r = await medic([...words, '--json', '--bogus'])
    expect(r.code).toBe(3)
    const j = JSON.parse(r.stdout)
    expect(j).toMatchObject({token: `${subject}_UNKNOWN`, status: 'UNKNOWN', exitCode: 3})
    expect(r.stdout.trim().split('\n')).toHaveLength(1)
  })

  it('shows the exit-code table and examples in its help', async () => {
    const r = await medic([...words, '--help'])
    expect(r.code).toBe(0)
    // run-dev-safe and isolate exit with their job's status: their page says so instead of the table
    expect(r.stdout).toMatch(words[0] === 'run-dev-safe' || words[0] === 'isolate' ? /EXIT CODES\n {2}The job's own status[\s\S]*128\+N/ : /EXIT CODES[\s\S]*RECOVERED\s+1\s+0/)
    expect(r.stdout).toMatch(/EXAMPLES/)
  })
})

describe('the medic entry point', () => {
  it('answers an unknown command with MEDIC_UNKNOWN and exit 3', async () => {
    const r = await medic(['frobnicate', '--port', '1'])
    expectContract(r, 'MEDIC_UNKNOWN')
    expect(r.code).toBe(3)
    expect(r.lines[0]).toContain('unknown command "frobnicate"')
  })

  it('answers an unknown root flag the same way', async () => {
    const r = await medic(['--frob'])
    expectContract(r, 'MEDIC_UNKNOWN')
    expect(r.code).toBe(3)
  })

  it('shows the exit-code table on the root help', async () => {
    const r = await medic(['--help'])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/EXIT CODES[\s\S]*ALERT\s+2\s+1/)
    expect(r.stdout).toMatch(/cleanup/)
  })

  it('prints its version', async () => {
    const r = await medic(['--version'])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^medic\/\d+\.\d+\.\d+/)
  })
})

describe('the runner, in process', () => {
  it('turns an exception thrown by a command into UNKNOWN, exit 3, no stack', async () => {
    const {runCommand} = await import('../../src/cli/runner.js')
    const out: string[] = []
    const err: string[] = []
    const code = await runCommand(
      {id: 'boom', subject: 'BOOM', summary: '', description: '', examples: [], flags: (await import('../../src/cli/common-flags.js')).COMMON_FLAGS, run: async () => { throw new Error('kaput') }},
      [], {}, {stdout: (t) => out.push(t), stderr: (t) => err.push(t)},
    )
    expect(code).toBe(3)
    expect(out.join('')).toBe('BOOM_UNKNOWN: internal error: kaput\n')
    expect(err.join('')).not.toMatch(/^\s+at /m)
  })

  it('ends a hung command with UNKNOWN after --timeout and its grace', async () => {
    const {runCommand} = await import('../../src/cli/runner.js')
    const out: string[] = []
    const code = await runCommand(
      {id: 'hang', subject: 'HANG', summary: '', description: '', examples: [], flags: (await import('../../src/cli/common-flags.js')).COMMON_FLAGS, run: () => new Promise(() => {})},
      ['--timeout', '10ms', '--exit-codes', 'binary'], {}, {stdout: (t) => out.push(t), stderr: () => {}},
    )
    expect(code).toBe(1)
    expect(out.join('')).toMatch(/^HANG_UNKNOWN: medic did not finish within --timeout 10ms/)
  })

  it('ends with ALERT, on time, a command still waiting on a service at --timeout', async () => {
    const {runCommand} = await import('../../src/cli/runner.js')
    const {serviceWait} = await import('../../src/sys/deadline.js')
    const out: string[] = []
    const code = await runCommand(
      {id: 'wait', subject: 'WAIT', summary: '', description: '', examples: [], flags: (await import('../../src/cli/common-flags.js')).COMMON_FLAGS, run: () => serviceWait('GET http://127.0.0.1:1/', () => new Promise(() => {}))},
      ['--timeout', '10ms'], {}, {stdout: (t) => out.push(t), stderr: () => {}},
    )
    expect(code).toBe(2)
    expect(out.join('')).toMatch(/^WAIT_ALERT: GET http:\/\/127\.0\.0\.1:1\/: no answer within --timeout 10ms/)
  })

  it('honours MEDIC_EXIT_CODES=binary from the environment', async () => {
    const {runCommand} = await import('../../src/cli/runner.js')
    const code = await runCommand(
      {id: 'a', subject: 'A', summary: '', description: '', examples: [], flags: (await import('../../src/cli/common-flags.js')).COMMON_FLAGS, run: async () => ({subject: 'A', status: 'ALERT', summary: 'x', checks: [], actions: []})},
      [], {MEDIC_EXIT_CODES: 'binary'}, {stdout: () => {}, stderr: () => {}},
    )
    expect(code).toBe(1)
  })
})
