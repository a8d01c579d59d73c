import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {expectContract, freePort, Janitor, LAUNCH, medic, SERVICE, startService, type MedicResult} from '../helpers/procs.js'

/**
 * Issue 9, defect 10: a service that accepts connections and never answers. With
 * `--timeout`, every command ends with ALERT — the service is what hung — never with
 * `_UNKNOWN: medic did not finish` two seconds later. (That it ends within --timeout +
 * 250 ms is measured in bench/deadlines.mjs, not asserted here.)
 */
const j = new Janitor()
afterEach(() => j.cleanup())

const TIMEOUT = '1s'

function alertOnTime(r: MedicResult, subject: string): void {
  expectContract(r, `${subject}_ALERT`)
  expect(r.code).toBe(2)
  expect(r.stdout).not.toMatch(/did not finish/)
}

async function hungService(): Promise<number> {
  return (await startService(j, ['--hang'])).port
}

describe('--timeout against a service that accepts and never answers', () => {
  it('health without repair: ALERT, the probe cut at the deadline', async () => {
    const port = await hungService()
    const r = await medic(['health', '--port', String(port), '--url', `http://127.0.0.1:${port}/`, '--no-repair', '--manager', 'none', '--state-dir', j.tmp(), '--timeout', TIMEOUT])
    alertOnTime(r, 'GATEWAY')
    expect(r.lines[0]).toMatch(/UNRESPONSIVE.*no answer within --timeout 1s/)
  })

  it('health with repair: ALERT, and no repair started past the deadline', async () => {
    const port = await hungService()
    const count = join(j.tmp(), 'starts')
    const r = await medic(['health', '--port', String(port), '--url', `http://127.0.0.1:${port}/`, '--manager', 'command', '--start-cmd', `${process.execPath} ${LAUNCH} --count-file ${count} -- --port ${port}`, '--state-dir', j.tmp(), '--timeout', TIMEOUT])
    alertOnTime(r, 'GATEWAY')
    expect(existsSync(count)).toBe(false)
  })

  it('health whose repair starts a service that hangs: ALERT, the verification cut at the deadline', async () => {
    const port = await freePort()
    const pidFile = join(j.tmp(), 'svc.pid')
    j.pidFile(pidFile)
    const r = await medic(['health', '--port', String(port), '--url', `http://127.0.0.1:${port}/`, '--reprobe-delay', '50ms', '--manager', 'command',
      '--start-cmd', `${process.execPath} ${LAUNCH} -- --hang --port ${port} --pid-file ${pidFile}`, '--state-dir', j.tmp(), '--timeout', '2s'])
    alertOnTime(r, 'GATEWAY')
    expect(r.lines[0]).toMatch(/repair failed/)
  })

  it('health with a probe timeout longer than --timeout: ALERT', async () => {
    const port = await hungService()
    const r = await medic(['health', '--port', String(port), '--url', `http://127.0.0.1:${port}/`, '--probe-timeout', '30s', '--reprobe-delay', '10s', '--no-repair', '--manager', 'none', '--state-dir', j.tmp(), '--timeout', TIMEOUT, '--json'])
    expect(JSON.parse(r.stdout)).toMatchObject({token: 'GATEWAY_ALERT', exitCode: 2})
  })

  it('ollama frozen-check: ALERT', async () => {
    const port = await hungService()
    const r = await medic(['ollama', 'frozen-check', '--url', `http://127.0.0.1:${port}`, '--manager', 'none', '--state-dir', j.tmp(), '--timeout', TIMEOUT])
    alertOnTime(r, 'OLLAMA')
  })

  it('ollama metrics: ALERT', async () => {
    const port = await hungService()
    const r = await medic(['ollama', 'metrics', '--url', `http://127.0.0.1:${port}`, '--state-dir', j.tmp(), '--timeout', TIMEOUT])
    alertOnTime(r, 'OLLAMA')
  })

  it('boot waiting on a health URL that hangs: ALERT', async () => {
    const port = await hungService()
    const state = j.tmp()
    j.later(() => {
      const s = JSON.parse(readFileSync(join(state, 'supervise', 'bt.json'), 'utf8'))
      return [s.supervisor?.pid ?? 0, s.child?.pid ?? 0]
    })
    const r = await medic(['boot', '--name', 'bt', '--health-url', `http://127.0.0.1:${port}/`, '--state-dir', state, '--timeout', TIMEOUT, '--', process.execPath, SERVICE])
    alertOnTime(r, 'BOOT')
  })

  it('watchdog whose restart command hangs on the service: ALERT', async () => {
    const port = await hungService()
    const root = j.tmp()
    const flag = join(root, 'restart.flag')
    writeFileSync(flag, '')
    const hangs = `${process.execPath} ${SERVICE} --connect ${port}`
    const r = await medic(['watchdog', '--once', '--sessions-dir', join(root, 'none'), '--ops-dir', '', '--restart-flag', flag, '--state-dir', join(root, 'state'), '--port', String(await freePort()),
      '--manager', 'command', '--start-cmd', hangs, '--timeout', TIMEOUT])
    alertOnTime(r, 'WATCHDOG')
    expect(r.lines[0]).toMatch(/restart flag: start failed/)
  })
})
