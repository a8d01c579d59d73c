import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import type {ProbeResult} from '../../src/core/health-policy.js'
import type {ManagerView} from '../../src/core/manager-parse.js'
import {health, type HealthDeps, type HealthInput} from '../../src/ops/health.js'
import type {ServiceManager} from '../../src/sys/managers.js'
import type {PortListeners} from '../../src/sys/port-table.js'
import {fakeWorld} from '../helpers/fake-world.js'

const PORT = 18789
let world: ReturnType<typeof fakeWorld>
afterEach(() => world?.cleanup())

/**
 * A service run by a fake manager: `start` brings up a new process on the port (pid 600+),
 * `stop` ends it. Everything the manager and the probe are asked is recorded in the world's events.
 */
function service(w: ReturnType<typeof fakeWorld>, o: {state: ManagerView['state']; mainPid: number | null; startWorks?: boolean}) {
  let view: ManagerView = {state: o.state, raw: o.state, mainPid: o.mainPid, restarts: []}
  let next = 600
  const manager: ServiceManager = {
    kind: 'systemd', label: 'fake unit gw',
    status: async () => ({available: true, view}),
    servicePids: (v) => (v?.mainPid ? w.deps.procs.descendants([v.mainPid]) : []),
    stop: async () => {
      w.events.push('manager stop')
      if (view.mainPid) w.exit(view.mainPid)
      view = {...view, state: 'inactive', raw: 'inactive', mainPid: null}
      return {ok: true, detail: 'stopped'}
    },
    start: async () => {
      w.events.push('manager start')
      if (o.startWorks === false) return {ok: false, detail: 'exit 1'}
      const pid = next++
      w.add({pid, comm: 'node'})
      w.listen(PORT, pid)
      view = {...view, state: 'active', raw: 'active', mainPid: pid}
      return {ok: true, detail: 'started'}
    },
  }
  // The probe answers when the service's own main process holds the port; a stranger on it
  // accepts and never answers (the probe never ends: a health that awaited it would hang).
  const answer = async (): Promise<ProbeResult> => {
    w.events.push('probe')
    const holders = (await w.deps.ports.listeners(PORT)).pids
    if (holders.some((p) => p !== view.mainPid)) return new Promise(() => {})
    return view.mainPid !== null && holders.includes(view.mainPid) ? {kind: 'ok', ok: true, status: 200, ms: 1, detail: 'HTTP 200'} : {kind: 'refused', ok: false, ms: 1, detail: 'connection refused'}
  }
  const deps: HealthDeps = {...w.deps, manager, detected: null, prober: {http: answer, tcp: answer}}
  return {deps}
}

function input(statePath: string, over: Partial<HealthInput> = {}): HealthInput {
  return {
    name: 'gw', subject: 'GATEWAY', url: `http://127.0.0.1:${PORT}/health`, host: '127.0.0.1', port: PORT, probeTimeoutMs: 5000, healthy: [200, 399],
    reprobeDelayMs: 2000, loopThreshold: 50, repair: true, dryRun: false, verifyProbes: 2, verifyTimeoutMs: 20_000, verifyIntervalMs: 500,
    maxRepairs: 3, repairWindowMs: 3_600_000, graceMs: 5000, lockWaitMs: 30_000, deadlineAt: null, statePath, log: null, ...over,
  }
}

describe('health (ops with a fake world: manager, probe, processes, ports, clock; the real signal gate)', () => {
  it('a healthy service: probed, nothing stopped, started or signalled', async () => {
    world = fakeWorld()
    world.add({pid: 500, comm: 'node'})
    world.listen(PORT, 500)
    const {deps} = service(world, {state: 'active', mainPid: 500})
    const state = join(world.tmp(), 'gw.json')
    const v = await health(input(state), deps)
    expect(v).toMatchObject({status: 'OK'})
    expect(world.events).toEqual(['lock health-gw', 'probe', 'unlock health-gw'])
    expect(JSON.parse(readFileSync(state, 'utf8')).owners).toEqual([{pid: 500, startTime: '5000'}])
  })

  it("seed 000: an orphan on the port of a dead service is terminated through the gate, the service started and verified — without waiting on the orphan's probe", async () => {
    world = fakeWorld()
    world.add({pid: 500, comm: 'node', onTerm: 'ignore'}) // the orphan ignores SIGTERM
    world.listen(PORT, 500)
    const {deps} = service(world, {state: 'inactive', mainPid: null})
    const v = await health(input(join(world.tmp(), 'gw.json')), deps)
    expect(v.status).toBe('RECOVERED')
    expect(v.summary).toMatch(/^ORPHAN_PROCESS\+GATEWAY_DEAD: port 18789 held by orphan pid 500 \(node\); freed/)
    // No stop (already down); TERM+CONT, KILL at the grace; start; two passing probes.
    // The first probe is started with the look, never awaited; no stop (already down);
    // TERM+CONT, KILL at the grace; start; two passing probes.
    expect(world.events).toEqual(['lock health-gw', 'probe', 'SIGTERM 500', 'SIGCONT 500', 'SIGKILL 500', 'manager start', 'probe', 'probe', 'unlock health-gw'])
    expect(v.actions.find((a) => a.action === 'SIGKILL')?.ms).toBe(5000)
  })

  it('never signals a holder the gate protects (--protect): ALERT, the service not restarted', async () => {
    world = fakeWorld({protect: [/keepme/]})
    world.add({pid: 500, comm: 'node', cmdline: ['node', 'keepme.js']})
    world.listen(PORT, 500)
    const {deps} = service(world, {state: 'inactive', mainPid: null})
    const v = await health(input(join(world.tmp(), 'gw.json')), deps)
    expect(v.status).toBe('ALERT')
    expect(v.summary).toMatch(/matches --protect keepme/)
    expect(world.events.filter((e) => /^SIG|manager/.test(e))).toEqual([])
    expect(world.proc(500)).toBeDefined()
  })

  it('a spent repair budget, --dry-run and --no-repair act on nothing', async () => {
    for (const over of [{dryRun: true}, {repair: false}, {maxRepairs: 1}]) {
      world = fakeWorld()
      world.add({pid: 500, comm: 'node'})
      world.listen(PORT, 500)
      const {deps} = service(world, {state: 'inactive', mainPid: null})
      const state = join(world.tmp(), 'gw.json')
      writeFileSync(state, JSON.stringify({version: 1, owners: [], ownerChanges: [], repairs: [world.deps.clock.wall().getTime() - 1000], lastRepair: null}))
      const v = await health(input(state, over), deps)
      expect(v.status, JSON.stringify(over)).toBe('ALERT')
      expect(world.events.filter((e) => /^SIG|manager/.test(e)), JSON.stringify(over)).toEqual([])
      world.cleanup()
    }
  })

  it('counts a start that does not answer as a failed repair, once, against the budget', async () => {
    world = fakeWorld()
    const {deps} = service(world, {state: 'inactive', mainPid: null, startWorks: false})
    const state = join(world.tmp(), 'gw.json')
    const v = await health(input(state), deps)
    expect(v.status).toBe('ALERT')
    expect(v.summary).toMatch(/repair failed: start failed: exit 1/)
    expect(world.events.filter((e) => e === 'manager start')).toHaveLength(1)
    expect(existsSync(state) && JSON.parse(readFileSync(state, 'utf8')).repairs).toHaveLength(1)
  })
})

// The fast look (sys/port-table.ts knownListeners) names the last full look's holders that
// still hold the port; it stands only in a run that finds nothing wrong with them.
describe('health on the fast look', () => {
  /** What the fast look would say: these pids hold the port (and no one else it could see). */
  const fastLook = (pids: number[]): Promise<PortListeners> =>
    Promise.resolve({port: PORT, listening: true, sockets: [{address: '[::]', port: PORT, inode: 1, uid: 0, owners: pids.map((pid) => ({pid, comm: 'node', fd: 20}))}], pids, invisible: false, via: 'known'})
  /** Every full look (every process's fds) recorded in the world's events. */
  const countFullLooks = (deps: HealthDeps) => {
    const full = deps.ports.listeners.bind(deps.ports)
    deps.ports = {...deps.ports, listeners: (port) => (world.events.push('full look'), full(port))}
  }

  it('a healthy run takes the fast look alone; the full look of an earlier run stays the record', async () => {
    world = fakeWorld()
    world.add({pid: 500, comm: 'node'})
    world.listen(PORT, 500)
    const {deps} = service(world, {state: 'active', mainPid: 500})
    countFullLooks(deps)
    const state = join(world.tmp(), 'gw.json')
    expect((await health(input(state), deps)).status).toBe('OK')
    const first = JSON.parse(readFileSync(state, 'utf8'))
    expect(first).toMatchObject({owners: [{pid: 500, startTime: '5000'}], ownersLookedAt: Date.UTC(2026, 0, 1)})
    world.advance(60_000)
    world.events.length = 0
    expect((await health(input(state, {listenersAhead: fastLook([500])}), deps)).status).toBe('OK')
    expect(world.events).toEqual(['lock health-gw', 'probe', 'unlock health-gw'])
    expect(JSON.parse(readFileSync(state, 'utf8'))).toEqual(first)
  })

  it('an orphan the fast look missed, which accepts and never answers: looked at fully after a short wait, ORPHAN_PROCESS without waiting out the probe', async () => {
    world = fakeWorld()
    world.add({pid: 500, comm: 'node'})
    world.add({pid: 777, comm: 'node', ppid: 1, sid: 777}) // reparented away: no descendant of the service
    world.listen(PORT, 500)
    world.listen(PORT, 777)
    const {deps} = service(world, {state: 'active', mainPid: 500})
    countFullLooks(deps)
    const v = await health(input(join(world.tmp(), 'gw.json'), {repair: false, probeTimeoutMs: 3_600_000, listenersAhead: fastLook([500])}), deps)
    expect(v.status).toBe('ALERT')
    expect(v.summary).toMatch(/ORPHAN_PROCESS/)
    expect(v.summary).toMatch(/777/)
    expect(world.events).toContain('full look')
    expect(v.checks.find((c) => c.name === 'probe')?.detail).toMatch(/not awaited/)
    expect(world.now()).toBeLessThan(1000) // the fast look's wait for the probe, not the probe's hour
  })

  it('a failing probe, an owner outside the service or a service without processes: looked at fully before diagnosing', async () => {
    // The probe refuses: the full look runs before the re-probe decides.
    world = fakeWorld()
    world.add({pid: 500, comm: 'node'})
    world.listen(PORT, 500)
    let s = service(world, {state: 'active', mainPid: 500})
    countFullLooks(s.deps)
    s.deps.prober = {http: async () => (world.events.push('probe'), {kind: 'refused', ok: false, ms: 1, detail: 'connection refused'}), tcp: async () => ({kind: 'refused', ok: false, ms: 1, detail: 'connection refused'})}
    await health(input(join(world.tmp(), 'gw.json'), {repair: false, listenersAhead: fastLook([500])}), s.deps)
    expect(world.events.slice(0, 4)).toEqual(['lock health-gw', 'probe', 'full look', 'probe'])
    // The fast look's holder is outside the service (the manager names another main pid).
    world = fakeWorld()
    world.add({pid: 500, comm: 'node'})
    world.add({pid: 501, comm: 'node'})
    world.listen(PORT, 501)
    s = service(world, {state: 'active', mainPid: 500})
    countFullLooks(s.deps)
    s.deps.prober = {http: async () => ({kind: 'ok', ok: true, status: 200, ms: 1, detail: 'HTTP 200'}), tcp: async () => ({kind: 'ok', ok: true, ms: 1, detail: 'TCP connect'})} // it answers all the same
    const v = await health(input(join(world.tmp(), 'gw.json'), {repair: false, listenersAhead: fastLook([501])}), s.deps)
    expect(world.events).toContain('full look')
    expect(v.summary).toMatch(/ORPHAN_PROCESS/)
    // A unit in auto-restart (no processes) whose port is held.
    world = fakeWorld()
    world.add({pid: 501, comm: 'node'})
    world.listen(PORT, 501)
    s = service(world, {state: 'activating', mainPid: null})
    countFullLooks(s.deps)
    await health(input(join(world.tmp(), 'gw.json'), {repair: false, listenersAhead: fastLook([501])}), s.deps)
    expect(world.events).toContain('full look')
  })
})
