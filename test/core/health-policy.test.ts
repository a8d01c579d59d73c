import {describe, expect, it} from 'vitest'
import {countRestarts, decide, diagnose, fastLookHolders, fastLookStands, FULL_LOOK_EVERY_MS, probeNotNeeded, repairBudget, skippedProbe, startVerify, stepVerify, type HealthObservation, type OwnerFact, type ProbeResult, type RestartMemory} from '../../src/core/health-policy.js'

const up: ProbeResult = {kind: 'ok', ok: true, status: 200, ms: 3, detail: 'HTTP 200 in 3ms'}
const refused: ProbeResult = {kind: 'refused', ok: false, ms: 1, detail: 'connection refused'}
const timeout: ProbeResult = {kind: 'timeout', ok: false, ms: 5000, detail: 'no answer within 5000ms'}
const view = (state: 'active' | 'inactive' | 'failed' | 'activating', raw: string = state) => ({state, raw, mainPid: 10, restarts: []})

function obs(over: Partial<HealthObservation> = {}): HealthObservation {
  return {
    probe: up, manager: {kind: 'systemd', available: true, view: view('active')},
    restarts: {count: 0, sources: []}, loopThreshold: 50, owners: [{pid: 10, comm: 'node', state: 'S', inService: true}],
    portListening: true, invisibleOwner: false, serviceProcs: [{pid: 10, comm: 'node', state: 'S'}], ...over,
  }
}
const codes = (o: HealthObservation) => diagnose(o).map((p) => p.code)

describe('diagnose', () => {
  it('finds nothing wrong with a healthy service', () => expect(codes(obs())).toEqual([]))

  it('counts HTTP 000 (refused, timed out) as down, not healthy', () => {
    expect(codes(obs({probe: refused, reprobe: refused}))).toEqual(['UNRESPONSIVE'])
    expect(codes(obs({probe: timeout, reprobe: timeout}))).toEqual(['UNRESPONSIVE'])
  })

  it('forgives one failed probe when the re-probe passes', () => {
    expect(codes(obs({probe: timeout, reprobe: up}))).toEqual([])
  })

  it('reports every problem, not only the last (seed 000)', () => {
    const o = obs({
      probe: timeout, reprobe: timeout, manager: {kind: 'systemd', available: true, view: view('failed')},
      restarts: {count: 388, sources: ['journal: 388']}, owners: [{pid: 99, comm: 'node', state: 'S', inService: false}], serviceProcs: [],
    })
    expect(codes(o)).toEqual(['RESTART_LOOP', 'ORPHAN_PROCESS', 'GATEWAY_DEAD'])
  })

  it('handles activating and inactive, not only failed', () => {
    expect(codes(obs({probe: refused, reprobe: refused, manager: {kind: 'systemd', available: true, view: view('inactive')}, owners: [], portListening: false, serviceProcs: []}))).toEqual(['GATEWAY_DEAD'])
    expect(codes(obs({probe: refused, reprobe: refused, manager: {kind: 'systemd', available: true, view: view('activating', 'activating (auto-restart)')}, owners: [], portListening: false}))).toEqual(['UNRESPONSIVE'])
  })

  it('calls seed 000 under systemd ORPHAN_PROCESS + GATEWAY_DEAD: a unit between restarts has no processes', () => {
    const looping = {state: 'activating' as const, raw: 'activating (auto-restart)', mainPid: null, restarts: [], cgroup: '', noProcesses: true}
    const orphan = {pid: 99, comm: 'node', state: 'S', inService: false}
    const skipped = skippedProbe(probeNotNeeded([orphan], 18789)!, 1)
    expect(skipped).toMatchObject({kind: 'skipped', ok: false, detail: 'not awaited: port 18789 is held by pid 99 (node) outside the service'})
    const o = obs({probe: skipped, manager: {kind: 'systemd', available: true, view: looping}, owners: [orphan], serviceProcs: []})
    expect(codes(o)).toEqual(['ORPHAN_PROCESS', 'GATEWAY_DEAD'])
    expect(diagnose(o)[0].detail).toBe('port held by pid 99 (node) outside the service (service activating (auto-restart))')
    // Without the manager saying so, a failed probe of an activating unit stays UNRESPONSIVE.
    expect(codes(obs({probe: refused, reprobe: refused, manager: {kind: 'systemd', available: true, view: {...looping, noProcesses: undefined}}, owners: [], portListening: false}))).toEqual(['UNRESPONSIVE'])
  })

  it('awaits the probe unless the port holder is known to be outside the service', () => {
    expect(probeNotNeeded([{pid: 1, comm: 'a', state: 'S', inService: true}], 80)).toBeNull()
    expect(probeNotNeeded([{pid: 1, comm: 'a', state: 'S', inService: null}], 80)).toBeNull()
    expect(probeNotNeeded([], 80)).toBeNull()
    expect(probeNotNeeded([{pid: 1, comm: 'a', state: 'S', inService: true}, {pid: 2, comm: 'b', state: 'S', inService: false}], 80)).toBe('not awaited: port 80 is held by pid 2 (b) outside the service')
  })

  it('flags an orphan serving the port while the service is down', () => {
    expect(codes(obs({manager: {kind: 'pm2', available: true, view: view('inactive')}, owners: [{pid: 5, comm: 'node', state: 'S', inService: null}]}))).toEqual(['ORPHAN_PROCESS'])
  })

  it('calls D state HUNG only when the probe fails, and reports zombies', () => {
    expect(codes(obs({serviceProcs: [{pid: 10, comm: 'node', state: 'D'}]}))).toEqual([])
    expect(codes(obs({probe: timeout, reprobe: timeout, serviceProcs: [{pid: 10, comm: 'node', state: 'D'}]}))).toEqual(['HUNG', 'UNRESPONSIVE'])
    expect(codes(obs({probe: refused, reprobe: refused, serviceProcs: [{pid: 10, comm: 'node', state: 'Z'}], owners: [], portListening: false, manager: {kind: 'command', available: true, view: view('inactive')}}))).toEqual(['ZOMBIE', 'GATEWAY_DEAD'])
  })

  it('does not call a service dead when its manager cannot be asked but its port is held', () => {
    const o = obs({probe: refused, reprobe: refused, manager: {kind: 'systemd-user', available: false, reason: 'Failed to connect to bus'}})
    expect(codes(o)).toEqual(['UNRESPONSIVE'])
  })
})

describe('decide', () => {
  const budget = repairBudget([], 0, 3, 3_600_000)
  const manager = {kind: 'systemd', available: true}
  const p = [{code: 'GATEWAY_DEAD' as const, detail: 'x'}]
  it('repairs only when it may and can', () => {
    expect(decide([], {repair: true, dryRun: false, manager, budget})).toEqual({kind: 'ok'})
    expect(decide(p, {repair: true, dryRun: false, manager, budget})).toEqual({kind: 'repair'})
    expect(decide(p, {repair: false, dryRun: false, manager, budget})).toMatchObject({kind: 'alert', reason: 'repair is off (--no-repair)'})
    expect(decide(p, {repair: true, dryRun: true, manager, budget})).toEqual({kind: 'plan'})
    expect(decide(p, {repair: true, dryRun: false, manager: {kind: 'systemd-user', available: false, reason: 'Failed to connect to bus'}, budget})).toMatchObject({kind: 'alert', reason: 'cannot repair: Failed to connect to bus'})
    expect(decide([{code: 'HUNG', detail: 'pid 1 D'}, ...p], {repair: true, dryRun: false, manager, budget})).toMatchObject({kind: 'alert'})
  })

  it('turns an endless loop into one clear ALERT when the budget is spent', () => {
    const spent = repairBudget([1000, 2000, 3000], 4000, 3, 3_600_000)
    expect(spent).toMatchObject({used: 3, exhausted: true, freesAt: 3_601_000})
    expect(decide(p, {repair: true, dryRun: false, manager, budget: spent})).toMatchObject({kind: 'alert', reason: expect.stringMatching(/repair budget spent: 3 repairs in the last 1h/)})
  })

  it('slides the window', () => {
    expect(repairBudget([1000, 2000, 3000], 3_601_500, 3, 3_600_000)).toMatchObject({used: 2, exhausted: false})
  })
})

describe('verification after a start (step function of now)', () => {
  it('needs N consecutive passes; a failure resets the streak', () => {
    let v = startVerify(0, 3, 30_000)
    for (const [probe, now] of [[up, 100], [up, 200], [refused, 300], [up, 400], [up, 500]] as const) {
      const s = stepVerify(v, probe, now, 'active')
      expect(s.done).toBe(false)
      v = s.state
    }
    const last = stepVerify(v, up, 600, 'active')
    expect(last).toMatchObject({done: true, ok: true})
  })

  it('is never RECOVERED for a unit that crashes right after starting', () => {
    const v = stepVerify(startVerify(0, 3, 30_000), up, 100, 'active').state
    expect(stepVerify(v, refused, 200, 'failed')).toMatchObject({done: true, ok: false, reason: expect.stringMatching(/crashed right after starting/)})
  })

  it('fails at the deadline', () => {
    const s = stepVerify(startVerify(0, 3, 1000), refused, 1000, 'activating')
    expect(s).toMatchObject({done: true, ok: false})
  })
})

describe('countRestarts', () => {
  const H = 3_600_000
  const empty = {owners: [], ownerChanges: []}
  const a = {pid: 10, startTime: '100'}
  const b = {pid: 11, startTime: '200'}

  it('counts a change of the port owners between two runs, for an hour', () => {
    let r = countRestarts(empty, [a], [], 0)
    expect(r).toMatchObject({count: 0, memory: {owners: [a], ownerChanges: []}})
    r = countRestarts(r.memory, [b], [], 1000)
    expect(r).toMatchObject({count: 1, memory: {owners: [b], ownerChanges: [1000]}})
    // Nobody on the port: no change counted, the last owners kept.
    r = countRestarts(r.memory, [], [], 2000)
    expect(r).toMatchObject({count: 1, memory: {owners: [b], ownerChanges: [1000]}})
    expect(countRestarts(r.memory, [b], [], 1000 + H).count).toBe(0)
  })

  it('turns a lifetime counter into restarts in the last hour against its own samples; a counter that went down was reset', () => {
    const src = [{count: 40, source: 'systemd NRestarts (lifetime)'}]
    let r = countRestarts(empty, [a], src, 0)
    expect(r.count).toBe(0)
    expect(r.sources[0]).toEqual({count: 0, source: 'systemd NRestarts, last hour (counter 40)'})
    r = countRestarts(r.memory, [a], [{count: 45, source: src[0].source}], H / 2)
    expect(r.count).toBe(5)
    r = countRestarts(r.memory, [a], [{count: 52, source: src[0].source}], H + 1)
    expect(r.count).toBe(12) // against the sample an hour ago (40)
    expect(countRestarts(r.memory, [a], [{count: 3, source: src[0].source}], H + 2).count).toBe(3)
  })

  it("takes the manager's hourly figure as it is, with medic's record as a floor", () => {
    const r = countRestarts({owners: [a], ownerChanges: [10, 20]}, [b], [{count: 1, source: 'journal: restart jobs in the last hour'}], 30)
    expect(r.count).toBe(3)
    expect(countRestarts(empty, [a], [{count: 7, source: 'journal: restart jobs in the last hour'}], 30).count).toBe(7)
  })
})

describe('the fast look at the port holders', () => {
  const memory = (o: Partial<RestartMemory> = {}): RestartMemory => ({owners: [{pid: 500, startTime: '5000'}], ownerChanges: [], ownersLookedAt: 1_000_000, ...o})

  it('starts from the last full look while it is recent, never from a record without one', () => {
    expect(fastLookHolders(memory(), 1_000_000)).toEqual([{pid: 500, startTime: '5000'}])
    expect(fastLookHolders(memory(), 1_000_000 + FULL_LOOK_EVERY_MS - 1)).toEqual([{pid: 500, startTime: '5000'}])
    expect(fastLookHolders(memory(), 1_000_000 + FULL_LOOK_EVERY_MS)).toEqual([]) // due for a full look
    expect(fastLookHolders(memory(), 999_999)).toEqual([]) // a record from the future (clock set back, or forged)
    expect(fastLookHolders(memory({ownersLookedAt: undefined}), 1_000_000)).toEqual([]) // written before the fast look existed
  })

  it('takes the whole record or nothing: pid 1 (socket activation), a bad pid or start time, too many owners — a full look', () => {
    const good = {pid: 700, startTime: '7'}
    for (const bad of [{pid: 1, startTime: '1'}, {pid: 0, startTime: '1'}, {pid: 1.5, startTime: '1'}, {pid: 600, startTime: ''}, {pid: 600, startTime: 'x'}, null, 'pid'] as unknown as {pid: number; startTime: string}[]) {
      expect(fastLookHolders(memory({owners: [good, bad]}), 1_000_000), JSON.stringify(bad)).toEqual([])
    }
    expect(fastLookHolders(memory({owners: Array.from({length: 64}, () => good)}), 1_000_000)).toEqual([good]) // duplicates folded
    expect(fastLookHolders(memory({owners: Array.from({length: 65}, () => good)}), 1_000_000)).toEqual([])
    expect(fastLookHolders(memory({owners: []}), 1_000_000)).toEqual([])
  })

  it('stands only for owners in (or not known to be outside) the service, none refused, the manager up', () => {
    const owner = (o: Partial<OwnerFact & {refused: string}> = {}) => ({pid: 500, comm: 'node', state: 'S' as const, inService: true, ...o})
    expect(fastLookStands({owners: [owner()], view: {state: 'active'}})).toBe(true)
    expect(fastLookStands({owners: [owner({inService: null})], view: null})).toBe(true)
    expect(fastLookStands({owners: [], view: {state: 'active'}})).toBe(false)
    expect(fastLookStands({owners: [owner(), owner({pid: 501, inService: false})], view: {state: 'active'}})).toBe(false)
    expect(fastLookStands({owners: [owner({refused: 'protected'})], view: {state: 'active'}})).toBe(false)
    for (const state of ['inactive', 'failed', 'not-found'] as const) expect(fastLookStands({owners: [owner()], view: {state}})).toBe(false)
    expect(fastLookStands({owners: [owner()], view: {state: 'activating', noProcesses: true}})).toBe(false)
  })
})
