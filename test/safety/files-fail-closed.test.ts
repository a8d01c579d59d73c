import {spawn} from 'node:child_process'
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, beforeAll, describe, expect, it} from 'vitest'
import {medicMounted, mountSkip, type Mount} from '../helpers/mounts.js'
import {alive, expectContract, freePort, Janitor, LAUNCH, startService} from '../helpers/procs.js'

/**
 * Issue 9, defects 8 and 12 (full disk): when the state that keeps a promise — a lock, a
 * repair budget, a hang record, a pid file — cannot be written, medic does not act: it
 * says ALERT naming the path, before acting. And a full disk leaves no `.tmp` or empty
 * `.lock` behind. Real read-only bind mounts and a real tmpfs filled to ENOSPC, in a
 * private mount namespace.
 */
const j = new Janitor()
afterEach(() => j.cleanup())
beforeAll(() => {
  if (mountSkip) console.log(`files-fail-closed: skipped: ${mountSkip}`)
})

const leftovers = (files: Record<string, unknown>) => Object.keys(files).filter((f) => /\.tmp$|\.lock$|\.break$/.test(f))

describe.skipIf(mountSkip)('a read-only or full state dir: no action without the state that keeps it safe', () => {
  it.each(['ro', 'full'] as const)('cleanup (%s): ALERT naming the lock, and the holder is not signalled', async (kind) => {
    const holder = await startService(j)
    const state = j.tmp()
    const r = await medicMounted([{kind, dir: state}], ['cleanup', '--port', String(holder.port), '--state-dir', state])
    expectContract(r, 'PORT_ALERT')
    expect(r.lines[0]).toMatch(new RegExp(`nothing signalled: cannot write the lock ${state}/locks`))
    expect(alive(holder.pid)).toBe(true)
    expect(leftovers(r.files)).toEqual([])
  })

  it.each(['ro', 'full'] as const)('health (%s): a dead service is not repaired, three runs in a row (the budget cannot be kept)', async (kind) => {
    const port = await freePort()
    const count = join(j.tmp(), 'starts')
    const pidFile = join(j.tmp(), 'svc.pid')
    j.pidFile(pidFile)
    const state = j.tmp()
    const mounts: Mount[] = [{kind, dir: state}]
    for (let run = 0; run < 3; run++) {
      const r = await medicMounted(mounts, ['health', '--name', 'gw', '--port', String(port), '--max-repairs', '1', '--reprobe-delay', '10ms', '--manager', 'command',
        '--start-cmd', `${process.execPath} ${LAUNCH} --count-file ${count} -- --port ${port} --pid-file ${pidFile}`, '--state-dir', state])
      expectContract(r, 'GW_ALERT')
      expect(r.lines[0]).toMatch(/GATEWAY_DEAD: not repaired: cannot write the lock/)
      expect(leftovers(r.files)).toEqual([])
    }
    expect(existsSync(count)).toBe(false)
  })

  it('health with a writable lock but a budget that cannot be recorded: not repaired', async () => {
    // The state file's folder is read-only; the locks folder is not.
    const port = await freePort()
    const count = join(j.tmp(), 'starts')
    const state = j.tmp()
    const r = await medicMounted([{kind: 'ro', dir: join(state, 'health')}], ['health', '--name', 'gw', '--port', String(port), '--reprobe-delay', '10ms', '--manager', 'command',
      '--start-cmd', `${process.execPath} ${LAUNCH} --count-file ${count} -- --port ${port}`, '--state-dir', state])
    expectContract(r, 'GW_ALERT')
    expect(r.lines[0]).toMatch(new RegExp(`not repaired: cannot record the repair budget: ${state}/health/gw.json`))
    expect(existsSync(count)).toBe(false)
  })

  it.each(['ro', 'full'] as const)('watchdog (%s): a gateway hung in Z state it cannot keep track of is ALERT, not OK', async (kind) => {
    // A zombie whose parent exec'd into sleep: it exits only once its parent is sleep.
    const c = spawn('sh', ['-c', `sh -c 'while read c < /proc/$PPID/comm && [ "$c" != sleep ]; do :; done' zombie-gateway & echo $!; exec sleep 1000`], {stdio: ['ignore', 'pipe', 'inherit'], detached: true})
    j.child(c)
    const zpid = Number(await new Promise<string>((r) => c.stdout!.once('data', (d) => r(String(d)))))
    for (let i = 0; i < 2000 && !readFileSync(`/proc/${zpid}/stat`, 'latin1').includes(') Z '); i++) await new Promise((r) => setTimeout(r, 5))
    const state = j.tmp()
    const r = await medicMounted([{kind, dir: state}], ['watchdog', '--once', '--sessions-dir', join(state, 'none'), '--ops-dir', '', '--restart-flag', '', '--manager', 'none',
      '--gateway-match', '^sh $', '--hang-threshold', '1h', '--state-dir', state])
    expectContract(r, 'WATCHDOG_ALERT')
    expect(r.lines[0]).toMatch(new RegExp(`cannot record the hang state: ${state}/watchdog/gateway-hang.json`))
    expect(leftovers(r.files)).toEqual([])
  })

  it.each(['ro', 'full'] as const)('supervise (%s): not started without its lock and pid file', async (kind) => {
    const marker = join(j.tmp(), 'started')
    const state = j.tmp()
    const r = await medicMounted([{kind, dir: state}], ['supervise', '--name', 'gw', '--state-dir', state, '--timeout', '5s', '--', 'touch', marker])
    expectContract(r, 'SUPERVISOR_ALERT')
    expect(r.lines[0]).toMatch(/gw not started: cannot write/)
    expect(existsSync(marker)).toBe(false)
    expect(leftovers(r.files)).toEqual([])
  })

  it('boot (ro): nothing started', async () => {
    const marker = join(j.tmp(), 'started')
    const state = j.tmp()
    const r = await medicMounted([{kind: 'ro', dir: state}], ['boot', '--name', 'bt', '--wait', '2s', '--state-dir', state, '--', 'touch', marker])
    expectContract(r, 'BOOT_ALERT')
    expect(r.lines[0]).toMatch(/nothing started: cannot write the lock/)
    expect(existsSync(marker)).toBe(false)
  })
})
