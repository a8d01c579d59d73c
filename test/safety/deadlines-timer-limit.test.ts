import {spawn} from 'node:child_process'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {BIN, expectContract, freePort, Janitor, medic} from '../helpers/procs.js'

/**
 * Issue 9, defect 11: Node's timers hold at most 2^31-1 ms (~24.8 days); a longer delay
 * fired after 1 ms. A 30-day duration must mean a long time, never 1 ms.
 */
const j = new Janitor()
afterEach(() => j.cleanup())

describe('durations beyond the timer limit', () => {
  it('cleanup --timeout 30d is a deadline far away, not an immediate UNKNOWN', async () => {
    const r = await medic(['cleanup', '--port', String(await freePort()), '--timeout', '30d', '--state-dir', j.tmp()])
    expectContract(r, 'PORT_OK')
  })

  it('watchdog --interval 30d waits between passes instead of spinning', async () => {
    const root = j.tmp()
    const c = spawn(process.execPath, [BIN, 'watchdog', '--interval', '30d', '--sessions-dir', join(root, 'none'), '--ops-dir', '', '--restart-flag', '', '--state-dir', join(root, 'state'), '--manager', 'none'], {stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: {...process.env, NO_COLOR: '1'}})
    j.child(c)
    let out = ''
    let err = ''
    c.stdout!.on('data', (d) => (out += d))
    c.stderr!.on('data', (d) => (err += d))
    const exited = new Promise<number | null>((r) => c.once('exit', (code) => r(code)))
    // Its first verdict line is the readiness signal: the first pass is done, the wait begun.
    await new Promise<void>((r) => {
      const check = () => (out.includes('\n') ? r() : c.stdout!.once('data', check))
      check()
    })
    c.kill('SIGTERM')
    expect(await exited).toBe(0)
    expect(err).toMatch(/^WATCHDOG_OK: stopped after 1 passes$/m) // the closing verdict goes to stderr
  })
})
