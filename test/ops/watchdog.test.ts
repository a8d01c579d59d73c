import {existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import type {ManagerView} from '../../src/core/manager-parse.js'
import {watchdogPass, type WatchdogDeps, type WatchdogInput} from '../../src/ops/watchdog.js'
import type {ServiceManager} from '../../src/sys/managers.js'
import {fakeWorld} from '../helpers/fake-world.js'

let world: ReturnType<typeof fakeWorld>
afterEach(() => world?.cleanup())

/** The watchdog over a fake world; the manager records its calls in the world's events. */
function watchdog(w: ReturnType<typeof fakeWorld>, over: Partial<WatchdogInput> = {}) {
  const dir = w.tmp()
  mkdirSync(join(dir, 'sessions')) // a missing sessions dir is WATCHDOG_UNKNOWN (nothing could be looked at)
  const view: ManagerView = {state: 'active', raw: 'active', mainPid: null, restarts: []}
  const manager: ServiceManager = {
    kind: 'systemd', label: 'fake unit gw',
    status: async () => ({available: true, view}),
    servicePids: () => [700], // the unit's cgroup: only a process of the service can be its hang (attack-gate A3)
    stop: async () => (w.events.push('manager stop'), {ok: true, detail: 'stopped'}),
    start: async () => (w.events.push('manager start'), {ok: true, detail: 'started'}),
  }
  const deps: WatchdogDeps = {...w.deps, manager, announce: () => {}}
  const input: WatchdogInput = {
    sessionsDir: join(dir, 'sessions'), lockMaxAgeMs: 3_600_000, maxSessionBytes: 1 << 20, quietMs: 60_000, pruneOlderThanMs: null,
    gatewayMatch: /gateway/, hangThresholdMs: 60_000, restartFlag: join(dir, 'restart.flag'), opsDir: join(dir, 'ops'), port: null, graceMs: 1000,
    dryRun: false, statePath: join(dir, 'hang.json'), sessionsEvery: 5, intervalMs: null, startupDelayMs: 0, deadlineAt: null, ...over,
  }
  return {deps, input, dir}
}

const restarts = () => world.events.filter((e) => e.startsWith('manager'))

describe('watchdog pass (ops with a fake world: processes, clock, manager; real files in a temp dir)', () => {
  it('restarts a gateway only once it has been in D state for --hang-threshold, by the clock it is given', async () => {
    world = fakeWorld()
    world.add({pid: 700, comm: 'node', state: 'D', cmdline: ['node', 'gateway']})
    const {deps, input} = watchdog(world)
    expect((await watchdogPass(input, deps, 1)).status).toBe('OK')
    world.advance(59_000)
    expect((await watchdogPass(input, deps, 2)).status).toBe('OK')
    expect(restarts()).toEqual([])
    world.advance(1000)
    const v = await watchdogPass(input, deps, 3)
    expect(v.status).toBe('RECOVERED')
    expect(v.summary).toMatch(/gateway pid 700 \(node\) hung in D state for 1m/)
    expect(restarts()).toEqual(['manager stop', 'manager start'])
    expect(JSON.parse(readFileSync(input.statePath, 'utf8')).seen['700:7000'].since).toBe(Date.UTC(2026, 0, 1))
  })

  it('a hung process that only matches --gateway-match, outside the service, is left alone', async () => {
    world = fakeWorld()
    world.add({pid: 701, comm: 'node', state: 'D', cmdline: ['node', 'gateway']})
    const {deps, input} = watchdog(world, {hangThresholdMs: 0})
    const v = await watchdogPass(input, deps, 1)
    expect(v.status).toBe('OK')
    expect(v.checks.find((c) => c.name === 'gateway')?.detail).toMatch(/pid 701 \(node, uid .*\) in D .* is not the service's/)
    expect(restarts()).toEqual([])
  })

  it('never carries the hang of one process over to another that reused its pid', async () => {
    world = fakeWorld()
    world.add({pid: 700, comm: 'node', state: 'D', cmdline: ['node', 'gateway']})
    const {deps, input} = watchdog(world)
    await watchdogPass(input, deps, 1)
    world.exit(700)
    world.add({pid: 700, comm: 'node', state: 'D', startTime: '99999', cmdline: ['node', 'gateway']})
    world.advance(120_000)
    expect((await watchdogPass(input, deps, 2)).status).toBe('OK')
    expect(restarts()).toEqual([])
  })

  it('consumes the restart flag before acting, once; --dry-run leaves it', async () => {
    world = fakeWorld()
    const {deps, input} = watchdog(world)
    writeFileSync(input.restartFlag!, '')
    expect((await watchdogPass({...input, dryRun: true}, deps, 1)).status).toBe('ALERT')
    expect(existsSync(input.restartFlag!)).toBe(true)
    expect(restarts()).toEqual([])
    expect((await watchdogPass(input, deps, 2)).status).toBe('RECOVERED')
    expect(existsSync(input.restartFlag!)).toBe(false)
    expect((await watchdogPass(input, deps, 3)).status).toBe('OK')
    expect(restarts()).toEqual(['manager stop', 'manager start'])
  })

  it('runs each ops request once: a restart to done/, what medic cannot do to error/, each with its result beside it', async () => {
    world = fakeWorld()
    const {deps, input} = watchdog(world)
    mkdirSync(input.opsDir!)
    writeFileSync(join(input.opsDir!, 'req-1.json'), JSON.stringify({action: 'restart'}))
    writeFileSync(join(input.opsDir!, 'req-2.json'), JSON.stringify({action: 'set_model', model: 'x'}))
    const v = await watchdogPass(input, deps, 1)
    expect(v.status).toBe('ALERT')
    expect(restarts()).toEqual(['manager stop', 'manager start'])
    expect(readdirSync(join(input.opsDir!, 'done')).sort()).toEqual(['req-1.json', 'req-1.result.json'])
    expect(readdirSync(join(input.opsDir!, 'error')).sort()).toEqual(['req-2.json', 'req-2.result.json'])
    expect(JSON.parse(readFileSync(join(input.opsDir!, 'done', 'req-1.result.json'), 'utf8'))).toMatchObject({status: 'done', at: '2026-01-01T00:00:00.000Z'})
    await watchdogPass(input, deps, 2)
    expect(restarts()).toHaveLength(2)
  })
})
