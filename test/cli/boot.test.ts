import {readFileSync, writeFileSync, mkdirSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {alive, expectContract, freePort, Janitor, medic, SERVICE} from '../helpers/procs.js'

const j = new Janitor()
afterEach(() => j.cleanup())

/** Supervisors and their children lead their own sessions: killed by the pids in the state. */
function stateDir(): string {
  const d = j.tmp()
  j.later(() => {
    const st = JSON.parse(readFileSync(join(d, 'supervise', 'gw.json'), 'utf8'))
    return [st.supervisor.pid, st.child?.pid ?? 0]
  })
  return d
}

const state = (d: string) => JSON.parse(readFileSync(join(d, 'supervise', 'gw.json'), 'utf8'))

describe('medic boot', () => {
  it('starts a supervisor that outlives it, then is idempotent', async () => {
    const d = stateDir()
    const port = await freePort()
    const args = ['boot', '--name', 'gw', '--port', String(port), '--health-url', `http://127.0.0.1:${port}/health`, '--state-dir', d, '--', process.execPath, SERVICE, '--port', String(port)]
    const first = await medic(args)
    expectContract(first, 'BOOT_RECOVERED')
    expect(first.code).toBe(1)
    const sup = state(d).supervisor.pid
    expect(alive(sup)).toBe(true) // boot has exited; its supervisor has not
    const again = await medic(args)
    expectContract(again, 'BOOT_OK')
    expect(again.code).toBe(0)
    expect(again.lines[0]).toContain(`supervisor pid ${sup} already running`)
  })

  it('never trusts a stale state file whose pid now runs something else', async () => {
    const d = stateDir()
    mkdirSync(join(d, 'supervise'), {recursive: true})
    const me = readFileSync('/proc/self/stat', 'latin1')
    const startTime = me.slice(me.lastIndexOf(')') + 2).split(' ')[19]
    // The file names this very test process — alive, right start time, but not a supervisor.
    writeFileSync(join(d, 'supervise', 'gw.json'), JSON.stringify({version: 1, name: 'gw', supervisor: {pid: process.pid, startTime, cmdline: ['medic', 'supervise']}, child: null, state: 'running', stable: true, command: [], port: null, starts: 1, restarts: [], budget: {max: 10, windowMs: 3600000, exhausted: false}, alert: null, updatedAt: ''}))
    const r = await medic(['boot', '--name', 'gw', '--state-dir', d, '--', process.execPath, SERVICE])
    expectContract(r, 'BOOT_RECOVERED')
    expect(state(d).supervisor.pid).not.toBe(process.pid)
  })

  it('starts exactly one supervisor when two boots race', async () => {
    const d = stateDir()
    const port = await freePort()
    const args = ['boot', '--name', 'gw', '--port', String(port), '--state-dir', d, '--', process.execPath, SERVICE, '--port', String(port)]
    const [a, b] = await Promise.all([medic(args), medic(args)])
    expect([a.lines[0].split(':')[0], b.lines[0].split(':')[0]].sort()).toEqual(['BOOT_OK', 'BOOT_RECOVERED'])
    const {spawnSync} = await import('node:child_process')
    const ps = spawnSync('ps', ['-eo', 'args'], {encoding: 'utf8'}).stdout.split('\n').filter((l) => l.includes('supervise --name gw') && l.includes(d))
    expect(ps).toHaveLength(1)
  })

  it('says ALERT when the service cannot start', async () => {
    const d = stateDir()
    const r = await medic(['boot', '--name', 'gw', '--state-dir', d, '--', process.execPath, '-e', 'process.exit(78)'])
    expectContract(r, 'BOOT_ALERT')
    expect(r.lines[0]).toContain('configuration error')
  })

  it('says ALERT when the service never becomes healthy, and leaves the supervisor trying', async () => {
    const d = stateDir()
    const port = await freePort()
    const r = await medic(['boot', '--name', 'gw', '--port', String(port), '--health-url', `http://127.0.0.1:${port}/health`, '--wait', '1s', '--state-dir', d, '--', process.execPath, SERVICE, '--port', String(port), '--status', '503'])
    expectContract(r, 'BOOT_ALERT')
    expect(r.lines[0]).toMatch(/service not healthy within 1s \(supervisor running; probe HTTP 503/)
    expect(alive(state(d).supervisor.pid)).toBe(true)
  })

  it('writes its log with ISO-8601 stamps', async () => {
    const d = stateDir()
    const log = join(d, 'memory', 'wsl-boot.log')
    await medic(['boot', '--name', 'gw', '--state-dir', d, '--log-file', log, '--', process.execPath, SERVICE])
    expect(readFileSync(log, 'utf8')).toMatch(/^\[\d{4}-\d\d-\d\dT[\d:]+[+-]\d\d:\d\d\] supervisor started \(pid \d+\)$/m)
  })
})
