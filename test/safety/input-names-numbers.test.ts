import {existsSync, readdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {expectContract, freePort, Janitor, medic, type MedicResult} from '../helpers/procs.js'

/**
 * Issue 9, defect 12: names become file names under the state dir, numbers become
 * budgets and sizes. Bad ones are usage errors — `<SUBJECT>_UNKNOWN: ...`, exit 3, no
 * stack trace, nothing written — never a path outside the state dir, an Infinity, or
 * "internal error: ENAMETOOLONG".
 */
const j = new Janitor()
afterEach(() => j.cleanup())

function usageError(r: MedicResult, subject: string): void {
  expectContract(r, `${subject}_UNKNOWN`)
  expect(r.code).toBe(3)
  expect(r.stdout).not.toMatch(/internal error/)
}

describe('names', () => {
  it('watchdog --name cannot leave the state dir', async () => {
    const root = j.tmp()
    const outside = j.tmp()
    const name = `../../../../../../../..${outside}/escape`
    const r = await medic(['watchdog', '--once', '--name', name, '--sessions-dir', join(root, 'none'), '--ops-dir', '', '--restart-flag', '', '--state-dir', join(root, 'state'), '--manager', 'none'])
    usageError(r, 'WATCHDOG')
    expect(readdirSync(outside)).toEqual([])
  })

  it('run-dev-safe refuses an empty --name (and runs nothing)', async () => {
    const marker = join(j.tmp(), 'ran')
    const r = await medic(['run-dev-safe', '--name', '', '--no-trace', '--state-dir', j.tmp(), '--', 'touch', marker])
    usageError(r, 'DEVRUN')
    expect(existsSync(marker)).toBe(false)
  })

  it('a 100,000-character --name is a usage error with a short token line', async () => {
    const r = await medic(['health', '--name', 'n'.repeat(100_000), '--port', String(await freePort()), '--manager', 'none', '--state-dir', j.tmp()])
    usageError(r, 'GATEWAY')
    expect(r.lines[0].length).toBeLessThan(200)
  })

  it.each([['supervise', '..', 'SUPERVISOR'], ['boot', '..', 'BOOT'], ['boot', 'x'.repeat(65), 'BOOT']])('%s refuses the name %j', async (cmd, name, subject) => {
    const state = j.tmp()
    j.later(() => {
      const s = JSON.parse(readFileSync(join(state, 'supervise', `${name}.json`), 'utf8'))
      return [s.supervisor?.pid ?? 0, s.child?.pid ?? 0]
    })
    const r = await medic([cmd, '--name', name, '--state-dir', state, '--timeout', '1s', ...(cmd === 'boot' ? ['--wait', '1s'] : []), '--', 'sleep', '10'])
    usageError(r, subject)
    expect(readdirSync(state)).toEqual([])
  })

  it('health refuses a service name of dots', async () => {
    usageError(await medic(['health', '..', '--manager', 'none', '--state-dir', j.tmp()]), 'GATEWAY')
  })

  it('supervise refuses an empty program', async () => {
    usageError(await medic(['supervise', '--name', 'gw', '--state-dir', j.tmp(), '--timeout', '1s', '--', '']), 'SUPERVISOR')
  })
})

describe('numbers', () => {
  const huge = '9'.repeat(5000)

  it('a 5000-digit --max-repairs is a usage error, not Infinity', async () => {
    usageError(await medic(['health', '--max-repairs', huge, '--port', String(await freePort()), '--manager', 'none', '--state-dir', j.tmp()]), 'GATEWAY')
  })

  it('a 5000-digit --max-size is a usage error, not Infinity', async () => {
    usageError(await medic(['sessions', 'archive', '--dir', j.tmp(), '--max-size', huge]), 'WATCHDOG')
  })

  it('a 300-digit duration (finite, far beyond any timer) is a usage error', async () => {
    usageError(await medic(['cleanup', '--port', String(await freePort()), '--grace', '9'.repeat(300), '--state-dir', j.tmp()]), 'PORT')
  })

  it('--timeout 0s (a deadline already passed) is a usage error, and nothing is done', async () => {
    // Attack report F: `--timeout 0s` was accepted: a run whose deadline is now either acts past it or reports a hang it never saw.
    for (const t of ['0s', '0', '0ms']) {
      const r = await medic(['cleanup', '--port', String(await freePort()), '--timeout', t, '--state-dir', j.tmp()])
      usageError(r, 'PORT')
      expect(r.stderr).toMatch(/--timeout.*at least 1ms/)
    }
  })
})
