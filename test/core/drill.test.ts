import {describe, expect, it} from 'vitest'
import {
  crashDropIn, describeObservation, dropInOwner, installedGuards, missing, planDrill, portNotOfPid, portNotOfUnit, restoreFor, startRecovery, stepRecovery,
  type DrillFacts, type DrillObservation, type DrillStep, type ProcId, type RecoveryCriteria,
} from '../../src/core/drill.js'

const svc: ProcId = {pid: 100, startTime: '5000', comm: 'node', cmdline: ['node', 'gw.js']}
const runner: ProcId = {pid: 101, startTime: '5001', comm: 'ollama', cmdline: ['ollama', 'runner', '--model', 'm', '--port', '1']}
const facts = (over: Partial<DrillFacts> = {}): DrillFacts => ({kind: 'kill', service: svc, port: 18789, url: null, unit: null, holdMs: 5000, ...over})
const SELF = {pid: 1, startTime: '1'}
const ops = (steps: DrillStep[]) => steps.map((s) => (s.op === 'signal' ? `${s.signal} ${s.target.pid}` : s.op))

describe('planDrill', () => {
  it('kill: one SIGKILL to the main process', () => {
    const r = planDrill(facts(), SELF)
    expect(r.ok && ops(r.plan.inject)).toEqual(['SIGKILL 100'])
  })

  it('stop: one SIGSTOP', () => {
    const r = planDrill(facts({kind: 'stop'}), SELF)
    expect(r.ok && ops(r.plan.inject)).toEqual(['SIGSTOP 100'])
  })

  it('squat: the squatter waits for the port before the kill, and must hold it after', () => {
    const r = planDrill(facts({kind: 'squat'}), SELF)
    expect(r.ok && ops(r.plan.inject)).toEqual(['squatter', 'SIGKILL 100', 'await-squatter'])
  })

  it('squat without a port is refused as bad input', () => {
    const r = planDrill(facts({kind: 'squat', port: null, unit: 'gw'}), SELF)
    expect(r).toMatchObject({ok: false, reason: expect.stringContaining('--port')})
  })

  it('crash-loop on a unit: a runtime drop-in, reload, kill, hold, then the cause removed', () => {
    const r = planDrill(facts({kind: 'crash-loop', unit: 'gw.service'}), {pid: 4242, startTime: '777'})
    expect(r.ok && ops(r.plan.inject)).toEqual(['drop-in', 'daemon-reload', 'SIGKILL 100', 'hold', 'remove-drop-in', 'daemon-reload'])
    const dropIn = r.ok ? r.plan.inject[0] : null
    expect(dropIn).toMatchObject({op: 'drop-in', unit: 'gw.service', text: expect.stringMatching(/^# Written by medic drill crash-loop \(pid 4242, start 777\);[\s\S]*\[Service\]\nExecStartPre=\/bin\/false\n$/)})
    expect(r.ok && r.plan.crashVia).toBe('drop-in')
  })

  it('crash-loop without a unit holds the port, then lets it go', () => {
    const r = planDrill(facts({kind: 'crash-loop'}), SELF)
    expect(r.ok && ops(r.plan.inject)).toEqual(['squatter', 'SIGKILL 100', 'await-squatter', 'hold', 'kill-squatter'])
    expect(planDrill(facts({kind: 'crash-loop', port: null}), SELF)).toMatchObject({ok: false})
  })

  it('freeze stops the runner, never the server, and needs one', () => {
    const r = planDrill(facts({kind: 'freeze', runner}), SELF)
    expect(r.ok && ops(r.plan.inject)).toEqual(['SIGSTOP 101'])
    expect(planDrill(facts({kind: 'freeze'}), SELF)).toMatchObject({ok: false, reason: expect.stringContaining('no model runner')})
  })
})

describe('planDrill: a port shared by the service\'s forked workers (pre-fork)', () => {
  const worker: ProcId = {pid: 102, startTime: '5002', comm: 'node', cmdline: ['node', 'gw.js']}
  it('kill, squat and crash-loop SIGKILL every owner, the main process first; stop only the main process', () => {
    const kills = (kind: DrillFacts['kind']) => {
      const r = planDrill(facts({kind, coOwners: [worker]}), SELF)
      return r.ok ? r.plan.inject.filter((s) => s.op === 'signal').map((s) => s.op === 'signal' && `${s.signal} ${s.target.pid}`) : r.reason
    }
    expect(kills('kill')).toEqual(['SIGKILL 100', 'SIGKILL 102'])
    expect(kills('squat')).toEqual(['SIGKILL 100', 'SIGKILL 102'])
    expect(kills('crash-loop')).toEqual(['SIGKILL 100', 'SIGKILL 102'])
    expect(kills('stop')).toEqual(['SIGSTOP 100'])
  })
})

describe('restoreFor: what is left to undo, whatever point the drill reached', () => {
  const stop: DrillStep = {op: 'signal', signal: 'SIGSTOP', target: svc}
  const kill: DrillStep = {op: 'signal', signal: 'SIGKILL', target: svc}

  it('nothing for a kill', () => expect(restoreFor([kill])).toEqual([]))

  it('SIGCONT for a SIGSTOP, even one whose delivery was not confirmed', () => {
    expect(ops(restoreFor([stop]))).toEqual(['SIGCONT 100'])
  })

  it('the squatter killed whether or not it ever took the port', () => {
    expect(ops(restoreFor([{op: 'squatter', port: 1}]))).toEqual(['kill-squatter'])
    expect(ops(restoreFor([{op: 'squatter', port: 1}, kill, {op: 'await-squatter', port: 1}]))).toEqual(['kill-squatter'])
  })

  it('nothing when the drill already released its holder', () => {
    expect(restoreFor([{op: 'squatter', port: 1}, kill, {op: 'await-squatter', port: 1}, {op: 'hold', ms: 1}, {op: 'kill-squatter', port: 1}])).toEqual([])
  })

  it('the drop-in removed and systemd reloaded when interrupted during the hold', () => {
    const done: DrillStep[] = [{op: 'drop-in', unit: 'gw', text: ''}, {op: 'daemon-reload'}, kill, {op: 'hold', ms: 5}]
    expect(ops(restoreFor(done))).toEqual(['remove-drop-in', 'daemon-reload'])
    expect(restoreFor([...done, {op: 'remove-drop-in', unit: 'gw'}, {op: 'daemon-reload'}])).toEqual([])
  })

  it('a drop-in whose write failed half-way is still removed', () => {
    expect(ops(restoreFor([{op: 'drop-in', unit: 'gw', text: ''}]))).toEqual(['remove-drop-in', 'daemon-reload'])
  })
})

const ok = {ok: true, detail: 'TCP connect in 1ms'}
const down = {ok: false, detail: 'connection refused'}
const obs = (over: Partial<DrillObservation> = {}): DrillObservation => ({
  faulted: 'gone', probe: ok, owners: [{pid: 200, startTime: '2000', comm: 'node', state: 'S', squatter: false}], invisibleOwner: false, unit: null, lookalikes: null, ...over,
})
const crit = (kind: RecoveryCriteria['kind'], over: Partial<RecoveryCriteria> = {}): RecoveryCriteria => ({kind, originalPid: 100, hasUnit: false, ...over})

describe('missing: is the service back?', () => {
  it('a baseline must answer with a running listener', () => {
    expect(missing(obs({faulted: 'running', owners: [{pid: 100, startTime: '1000', comm: 'node', state: 'S', squatter: false}]}), crit('kill'), 'before')).toBeNull()
    expect(missing(obs({faulted: 'running', probe: down}), crit('kill'), 'before')).toMatch(/no answer/)
    expect(missing(obs({faulted: 'stopped'}), crit('stop'), 'before')).toMatch(/stopped already/)
  })

  it('a stopped process still accepts TCP connections: its listener being stopped is not an answer', () => {
    const o = obs({faulted: 'stopped', probe: ok, owners: [{pid: 100, startTime: '1000', comm: 'node', state: 'T', squatter: false}]})
    expect(missing(o, crit('stop'), 'after')).toMatch(/still stopped/)
    expect(missing({...o, faulted: 'gone'}, crit('kill'), 'after')).toMatch(/listener pid 100 \(node\) is stopped/)
  })

  it('the squatter accepting connections is not the service', () => {
    expect(missing(obs({owners: [{pid: 300, startTime: '3000', comm: 'node', state: 'S', squatter: true}]}), crit('squat'), 'after')).toMatch(/squatter still holds/)
  })

  it('systemd: active with a new MainPID; MainPID=0 while it auto-restarts is not back', () => {
    const unit = (state: 'active' | 'activating', mainPid: number | null, raw = state as string) => obs({owners: null, probe: null, unit: {state, raw, mainPid}})
    expect(missing(unit('activating', null, 'activating (auto-restart)'), crit('kill', {hasUnit: true}), 'after')).toMatch(/auto-restart/)
    expect(missing(unit('active', 100), crit('kill', {hasUnit: true}), 'after')).toMatch(/MainPID is still 100/)
    expect(missing(unit('active', 101), crit('kill', {hasUnit: true}), 'after')).toBeNull()
    expect(missing({...unit('active', 100), faulted: 'running'}, crit('stop', {hasUnit: true}), 'after')).toBeNull()
  })

  it('a process that survived SIGKILL (D state) is not a recovery', () => {
    expect(missing(obs({faulted: 'running'}), crit('kill'), 'after')).toMatch(/survived SIGKILL/)
  })

  it('--pid alone: a new process with the same command line, or the stopped one resumed', () => {
    const bare = (over: Partial<DrillObservation>) => obs({probe: null, owners: null, ...over})
    expect(missing(bare({lookalikes: []}), crit('kill'), 'after')).toMatch(/no process with its command line/)
    expect(missing(bare({lookalikes: [555]}), crit('kill'), 'after')).toBeNull()
    expect(missing(bare({faulted: 'running', lookalikes: []}), crit('stop'), 'after')).toBeNull()
  })

  it('freeze: the runner must be killed or resumed, the API answering is not enough', () => {
    expect(missing(obs({faulted: 'stopped'}), crit('freeze'), 'after')).toMatch(/the runner is still stopped/)
    expect(missing(obs({faulted: 'gone'}), crit('freeze'), 'after')).toBeNull()
  })
})

describe('stepRecovery: a step function of now', () => {
  it('times the recovery from the fault to the first of --confirm good observations', () => {
    let s = startRecovery(1000, 60_000, 2, null)
    let st = stepRecovery(s, obs({probe: down}), crit('kill'), 1500)
    expect(st.done).toBe(false)
    s = st.state
    st = stepRecovery(s, obs(), crit('kill'), 3300)
    expect(st.done).toBe(false)
    st = stepRecovery(st.state, obs(), crit('kill'), 3550)
    expect(st).toMatchObject({done: true, ok: true, recoveredInMs: 2300})
  })

  it('a flap resets the streak', () => {
    let st = stepRecovery(startRecovery(0, 60_000, 2, null), obs(), crit('kill'), 100)
    st = stepRecovery(st.state, obs({probe: down}), crit('kill'), 200)
    st = stepRecovery(st.state, obs(), crit('kill'), 300)
    expect(st.done).toBe(false)
    st = stepRecovery(st.state, obs(), crit('kill'), 400)
    expect(st).toMatchObject({done: true, ok: true, recoveredInMs: 300})
  })

  it('ends at --within saying what was still missing', () => {
    const s = startRecovery(0, 10_000, 2, null)
    expect(stepRecovery(s, obs({probe: down}), crit('kill'), 9_999).done).toBe(false)
    expect(stepRecovery(s, obs({probe: down}), crit('kill'), 10_000)).toMatchObject({done: true, ok: false, reason: 'no answer: connection refused'})
  })

  it('ends at --timeout when it comes first, and says so', () => {
    const s = startRecovery(0, 60_000, 1, 5_000)
    expect(s.deadlineWhy).toBe('before --timeout')
    expect(stepRecovery(s, obs({faulted: 'stopped'}), crit('stop'), 5_000)).toMatchObject({done: true, ok: false, reason: 'pid 100 is still stopped'})
    expect(startRecovery(0, 60_000, 1, 90_000).deadlineWhy).toBe('within 1m')
  })

  it('a good observation at the deadline still counts', () => {
    expect(stepRecovery(startRecovery(0, 1000, 1, null), obs(), crit('kill'), 1000)).toMatchObject({done: true, ok: true})
  })
})

describe('missing: a listener that was there before the fault is not a new process', () => {
  const base = [{pid: 100, startTime: '1000'}, {pid: 200, startTime: '2000'}]
  const o = (pid: number, startTime: string) => obs({owners: [{pid, startTime, comm: 'node', state: 'S', squatter: false}]})
  it('kill, squat, crash-loop: only baseline owners on the port (same pid and start time) is not recovered, and says who survived', () => {
    for (const kind of ['kill', 'squat', 'crash-loop'] as const) {
      expect(missing(o(200, '2000'), crit(kind, {baselineOwners: base}), 'after')).toBe('no new process holds the port: pid 200 (node) held it before the fault and survived')
      expect(missing(o(200, '2999'), crit(kind, {baselineOwners: base}), 'after')).toBeNull() // pid reused: a new process
      expect(missing(o(300, '3000'), crit(kind, {baselineOwners: base}), 'after')).toBeNull()
    }
    expect(describeObservation(o(200, '2000'), crit('kill', {baselineOwners: base}))).toBe('port held by pid 200 (node), there before the fault')
  })
  it('stop and freeze resume the same process: a baseline owner is the recovery', () => {
    expect(missing(o(200, '2000'), crit('stop', {baselineOwners: base}), 'after')).toBeNull()
  })
  it('the baseline itself needs no new process', () => {
    expect(missing({...o(200, '2000'), faulted: 'running'}, crit('kill', {baselineOwners: base}), 'before')).toBeNull()
  })
})

describe('describeObservation', () => {
  it('names the unit state, who holds the port and the stopped process', () => {
    const o = obs({faulted: 'stopped', unit: {state: 'active', raw: 'active (running)', mainPid: 100}, owners: [{pid: 100, startTime: '1000', comm: 'node', state: 'T', squatter: false}, {pid: 7, startTime: '70', comm: 'node', state: 'S', squatter: true}]})
    expect(describeObservation(o, crit('stop'))).toBe('unit active (running), MainPID 100; port held by pid 100 (node), stopped, pid 7 (node) = the squatter; pid 100 stopped')
    expect(describeObservation(obs({owners: []}), crit('kill'))).toBe('port free')
  })
})

describe('installedGuards: what medic install put in place for this service', () => {
  const installs = [
    {name: 'health-gateway', service: 'medic-health-gateway.service', timer: 'medic-health-gateway.timer', hardened: 'clawdbot-gateway.service', command: ['health', '--manager', 'systemd', '--unit', 'clawdbot-gateway', '--port', '18789'], everyMs: 60_000},
    {name: 'gateway', service: 'medic-gateway.service', timer: null, hardened: null, command: ['supervise', '--name', 'gateway', '--port=18800', '--', 'node', 'gw.js', '--port', '18789'], everyMs: null},
    {name: 'drill-gateway', service: 'medic-drill-gateway.service', timer: 'medic-drill-gateway.timer', hardened: null, command: ['drill', 'kill', '--port', '18789'], everyMs: 86_400_000},
    {name: 'frozen', service: 'medic-frozen.service', timer: null, hardened: null, command: ['ollama', 'frozen-check', '--watch'], everyMs: null},
  ]

  it('matches by port, by unit and by the hardening drop-in; never a drill, never the child command after --', () => {
    expect(installedGuards(installs, 18789, null)).toEqual(['medic-health-gateway.timer (health every 1m)'])
    expect(installedGuards(installs, null, 'clawdbot-gateway')).toEqual(['medic-health-gateway.timer (health every 1m)', "health-gateway's drop-in on clawdbot-gateway.service (ExecStartPre=medic cleanup)"])
    expect(installedGuards(installs, 18800, null)).toEqual(['medic-gateway.service (supervise)'])
    expect(installedGuards(installs, 11434, null)).toEqual([])
  })
})

describe('portNotOfUnit: --port must be the --unit\'s', () => {
  const h = (pid: number, cgroup: string | null, inMainTree = false) => ({pid, comm: 'node', cgroup, inMainTree})
  const cg = '/system.slice/gw-a.service'
  it('accepts listeners in the unit\'s cgroup or below it, or in the MainPID\'s tree when the cgroup is unknown', () => {
    expect(portNotOfUnit(80, 'gw-a', cg, [h(10, cg), h(11, `${cg}/worker`)], false)).toBeNull()
    expect(portNotOfUnit(80, 'gw-a', null, [h(10, null, true)], false)).toBeNull()
    expect(portNotOfUnit(80, 'gw-a', cg, [], false)).toBeNull() // nothing listens: the baseline says so
  })
  it('refuses another unit\'s listener (a name that only starts alike too), an unknown one, an invisible one', () => {
    expect(portNotOfUnit(80, 'gw-a', cg, [h(10, cg), h(12, '/system.slice/gw-b.service')], false)).toBe('--port 80 does not belong to unit gw-a: its listener pid 12 (node) is in /system.slice/gw-b.service')
    expect(portNotOfUnit(80, 'gw-a', cg, [h(12, '/system.slice/gw-a.service2')], false)).toMatch(/does not belong/)
    expect(portNotOfUnit(80, 'gw-a', null, [h(12, '/user.slice')], false)).toMatch(/does not belong/)
    expect(portNotOfUnit(80, 'gw-a', '', [h(12, '/user.slice')], false)).toMatch(/does not belong/)
    expect(portNotOfUnit(80, 'gw-a', cg, [h(12, null)], false)).toMatch(/pid 12 \(node\) is in an unknown cgroup/)
    expect(portNotOfUnit(80, 'gw-a', cg, [], true)).toMatch(/cannot see: cannot tell it belongs to unit gw-a/)
  })
})

describe('dropInOwner: who wrote a drop-in, only if it is exactly what drill writes', () => {
  it('names the writer of crashDropIn\'s text, and nothing else', () => {
    const text = crashDropIn('crash-loop', 123, '4567')
    expect(dropInOwner(text)).toEqual({kind: 'crash-loop', pid: 123, startTime: '4567'})
    expect(dropInOwner(`${text}ExecStartPre=/bin/evil\n`)).toBeNull()
    expect(dropInOwner(text.replace('/bin/false', '/bin/true'))).toBeNull()
    expect(dropInOwner('# Written by medic drill crash-loop (pid 42); it removes this file when the drill ends.\n[Service]\nExecStartPre=/bin/false\n')).toBeNull()
    expect(dropInOwner('')).toBeNull()
  })
})

describe('portNotOfPid: --port must be in --pid\'s tree', () => {
  it('accepts the tree, refuses anyone else, and an invisible owner', () => {
    expect(portNotOfPid(80, 10, [{pid: 10, comm: 'node', inMainTree: true}, {pid: 11, comm: 'node', inMainTree: true}], false)).toBeNull()
    expect(portNotOfPid(80, 10, [], false)).toBeNull()
    expect(portNotOfPid(80, 10, [{pid: 12, comm: 'nginx', inMainTree: false}], false)).toBe('--port 80 does not belong to pid 10: its listener pid 12 (nginx) is outside its process tree')
    expect(portNotOfPid(80, 10, [], true)).toMatch(/cannot tell it belongs to pid 10/)
  })
})
