import {describe, expect, it} from 'vitest'
import {isOllamaServer, isRunnerCmdline, parsePs} from '../../../src/core/ollama/api.js'
import {ollamaBaseUrl} from '../../../src/core/ollama/host.js'
import {parseAppsCsv, parseGpuCsv} from '../../../src/core/ollama/nvidia.js'
import {afterCanary, budgetExhausted, chargeRemediation, gateAction, loadFrozenState, newFrozenState, observePass, waitingVerdict, resetFrozenState, type FrozenConfig, type FrozenState, type Remediation} from '../../../src/core/ollama/freeze.js'
import {stepExporter} from '../../../src/core/ollama/metrics.js'
import {assess, busyGpus, type Assessment, type OllamaObservation} from '../../../src/core/ollama/policy.js'
import {chooseRemedy, type ListenerFacts, type RemedyFacts} from '../../../src/core/ollama/remedy.js'
import {parseSshTarget, safeRemoteWord} from '../../../src/core/ssh-target.js'
import {lintExposition, renderFamilies} from '../../../src/core/prom.js'

describe('OLLAMA_HOST, parsed the way Ollama parses it', () => {
  it.each([
    [undefined, 'http://127.0.0.1:11434'],
    ['', 'http://127.0.0.1:11434'],
    ['0.0.0.0', 'http://127.0.0.1:11434'],
    ['0.0.0.0:11434', 'http://127.0.0.1:11434'],
    ['192.168.15.2', 'http://192.168.15.2:11434'],
    ['gpu-box:8080', 'http://gpu-box:8080'],
    ['http://gpu-box', 'http://gpu-box:80'],
    ['https://gpu-box', 'https://gpu-box:443'],
    ['https://gpu-box:8443/ollama/', 'https://gpu-box:8443/ollama'],
    ['[::]:11434', 'http://[::1]:11434'],
    ['[fe80::1]', 'http://[fe80::1]:11434'],
    ['host:notaport', 'http://host:11434'],
    ['ollama.com', 'https://ollama.com:443'],
  ])('%s → %s', (raw, url) => expect(ollamaBaseUrl(raw)).toBe(url))
})

describe('nvidia-smi CSV', () => {
  it('reads every GPU and treats [N/A] as unknown, not 0', () => {
    expect(parseGpuCsv('0, GPU-a, 87, 20000, 24564, 71\n1, GPU-b, [N/A], [N/A], 24564, [Not Supported]\n')).toEqual([
      {index: 0, uuid: 'GPU-a', util: 87, memUsedMiB: 20000, memTotalMiB: 24564, tempC: 71},
      {index: 1, uuid: 'GPU-b', util: null, memUsedMiB: null, memTotalMiB: 24564, tempC: null},
    ])
  })
  it('reads compute apps, and an empty list', () => {
    expect(parseAppsCsv('2069192, GPU-a, 77002\n')).toEqual([{pid: 2069192, gpuUuid: 'GPU-a', usedMiB: 77002}])
    expect(parseAppsCsv('')).toEqual([])
  })
})

describe('runner discovery across eras', () => {
  it.each([
    ['ollama_llama_se', ['/tmp/ollama123/runners/cuda_v12/ollama_llama_server', '--model', '/m', '--port', '4000'], true],
    ['ollama', ['/usr/local/bin/ollama', 'runner', '--ollama-engine', '--model', '/m', '--port', '4000'], true],
    ['llama-server', ['/usr/lib/ollama/llama-server', '--model', '/m', '--port', '4000'], true],
    ['ollama', ['/usr/local/bin/ollama', 'serve'], false],
    ['node', ['node', 'app.js', '--port', '80'], false],
  ])('%s %j → %s', (comm, argv, is) => expect(isRunnerCmdline(comm, argv)).toBe(is))
})

const cfg: FrozenConfig = {thresholdMs: 180_000, confirmations: 3, cooldownMs: 60_000, gpuBusyPct: 5, maxRestarts: 3, restartWindowMs: 3_600_000}
const NOW = Date.parse('2026-11-23T12:00:00Z')
const model = (expires: number, vram = 1) => parsePs({models: [{name: 'm', model: 'm', size: 10, size_vram: vram, expires_at: new Date(expires).toISOString(), context_length: 4096}]})!
const gpu = (util: number | null) => ({kind: 'ok' as const, gpus: [{index: 0, uuid: 'G', util, memUsedMiB: 1000, memTotalMiB: 2000, tempC: 40}], runnerGpus: ['G'], heldByNoProcessMiB: 0, vramDeltaMiB: 0})
const runner = (cpu: number | null, threads: number | null = 1) => ({pid: 9, startTime: '1', state: 'S', cpuCores: cpu, busyThreads: threads, readBytesDelta: 0})
const obs = (over: Partial<OllamaObservation>): OllamaObservation => ({now: NOW, up: {ok: true, detail: ''}, ps: {kind: 'ok', models: []}, gpu: {kind: 'none', detail: ''}, runners: [], ...over})

describe('frozen policy: one look', () => {
  it('classifies the states of research §5.1', () => {
    expect(assess(obs({up: {ok: false, how: 'refused', detail: 'refused'}}), cfg)).toMatchObject({kind: 'down', how: 'refused'})
    expect(assess(obs({}), cfg).kind).toBe('idle')
    expect(assess(obs({ps: {kind: 'timeout', detail: 't'}}), cfg).kind).toBe('inconclusive')
    expect(assess(obs({ps: {kind: 'ok', models: model(NOW - 60_000)}, gpu: gpu(87), runners: [runner(1)]}), cfg).kind).toBe('progress')
    expect(assess(obs({ps: {kind: 'ok', models: model(NOW - 60_000)}, gpu: {...gpu(0), vramDeltaMiB: 4000}, runners: [runner(1)]}), cfg)).toMatchObject({kind: 'progress', why: expect.stringMatching(/loading/)})
    expect(assess(obs({ps: {kind: 'ok', models: model(NOW + 60_000)}, gpu: gpu(0), runners: [runner(0.01)]}), cfg).kind).toBe('progress')
    expect(assess(obs({ps: {kind: 'ok', models: model(NOW - 60_000)}, gpu: gpu(0), runners: [runner(1)]}), cfg)).toMatchObject({kind: 'stall', cpuOnly: false})
    expect(assess(obs({ps: {kind: 'ok', models: model(NOW - 60_000, 0)}, runners: [runner(4, 4)]}), cfg).kind).toBe('progress')
    expect(assess(obs({ps: {kind: 'ok', models: model(NOW - 60_000, 0)}, runners: [runner(1, 1)]}), cfg)).toMatchObject({kind: 'stall', cpuOnly: true})
  })

  it('a GPU at [N/A] is no evidence of progress', () => {
    expect(assess(obs({ps: {kind: 'ok', models: model(NOW - 60_000)}, gpu: gpu(null), runners: [runner(1)]}), cfg).kind).toBe('stall')
  })

  it('counts only the GPUs that hold the runner as busy', () => {
    const gpus = [{index: 0, uuid: 'A', util: 90, memUsedMiB: 1, memTotalMiB: 2, tempC: 40}, {index: 1, uuid: 'B', util: 0, memUsedMiB: 1, memTotalMiB: 2, tempC: 40}]
    expect(busyGpus(gpus, ['B'], 5)).toEqual([])
    expect(busyGpus(gpus, [], 5).map((g) => g.index)).toEqual([0])
  })
})

/** A freeze timeline: `at(s)` is seconds after NOW; each call is one pass, stepped by an injected `now`. */
function timeline(c: FrozenConfig = cfg) {
  let state = newFrozenState(NOW)
  let first = true
  return {
    pass(atS: number, a: Assessment) {
      const r = observePass(state, a, NOW + atS * 1000, c, first)
      first = false
      state = r.state
      return r.plan
    },
    canary(outcome: 'ok' | 'failed' | 'busy') {
      state = afterCanary(state, outcome)
    },
    gate: (atS: number, o = {repair: true, gpuWedged: null as string | null}) => gateAction(state, NOW + atS * 1000, c, o),
    charge(atS: number, kind: Remediation = 'restart') {
      state = chargeRemediation(state, kind, NOW + atS * 1000, c)
    },
    get state() {
      return state
    },
    set state(s: FrozenState) {
      state = s
    },
  }
}
const stall: Assessment = {kind: 'stall', why: '', cpuOnly: false}
const down: Assessment = {kind: 'down', how: 'timeout', why: 'no answer'}

describe('the freeze decision, as a step function of now', () => {
  it('never canaries on the first pass or before the threshold (twice it without GPU evidence)', () => {
    const t = timeline()
    expect(t.pass(0, stall)).toMatchObject({kind: 'suspect', firstPass: true})
    expect(t.pass(179.999, stall)).toMatchObject({kind: 'suspect', firstPass: false})
    expect(t.pass(180, stall)).toEqual({kind: 'canary', forMs: 180_000})
    expect(t.pass(180, {...stall, cpuOnly: true})).toMatchObject({kind: 'suspect', thresholdMs: 360_000})
    expect(t.pass(500, {kind: 'inconclusive', why: ''})).toEqual({kind: 'hold', forMs: 500_000})
    expect(t.state.suspectSince).toBe(NOW)
    expect(t.pass(501, {kind: 'progress', why: ''})).toEqual({kind: 'clear'})
    expect(t.state.suspectSince).toBeNull()
  })

  it('says OK only for a pass that saw the server serving: a stall whose canary is pending, or a blind pass, is UNKNOWN', () => {
    const t = timeline()
    const say = (atS: number, a: Assessment) => {
      const plan = t.pass(atS, a)
      if (plan.kind !== 'clear' && plan.kind !== 'hold' && plan.kind !== 'suspect') throw new Error(`not a waiting plan: ${plan.kind}`)
      return waitingVerdict(plan, a, t.state, cfg, 'Ollama API down')
    }
    const s = {...stall, why: 'a request pending'}
    expect(say(0, s)).toEqual({status: 'UNKNOWN', summary: 'first pass never acts; stall suspected for 0ms, canary pending (due after 3m): a request pending'})
    expect(say(30, s)).toEqual({status: 'UNKNOWN', summary: 'stall suspected for 30s, canary pending (due after 3m): a request pending'})
    expect(say(40, {kind: 'inconclusive', why: '/api/ps timed out'})).toEqual({status: 'UNKNOWN', summary: 'inconclusive: /api/ps timed out; suspected for 40s'})
    expect(say(62, {kind: 'progress', why: 'GPU busy'})).toEqual({status: 'OK', summary: 'healthy: GPU busy'})
    expect(say(63, {kind: 'idle', why: 'nothing'})).toEqual({status: 'OK', summary: 'healthy idle: nothing'})
    expect(say(64, {kind: 'inconclusive', why: 'blind'})).toEqual({status: 'UNKNOWN', summary: 'inconclusive: blind'})
    expect(say(65, down).status).toBe('ALERT')
  })

  it('acts after N consecutive failed canaries; a pass clears them and counts a false alarm', () => {
    const t = timeline()
    t.pass(0, stall)
    for (const s of [180, 195]) {
      expect(t.pass(s, stall).kind).toBe('canary')
      t.canary('failed')
      expect(t.gate(s)).toEqual({kind: 'wait', why: expect.stringMatching(/failed canaries/)})
    }
    t.canary('ok')
    expect(t.state).toMatchObject({failures: 0, falseAlarms: 1, suspectSince: null})
  })

  it('a canary queued behind a busy GPU is progress, not a failure', () => {
    const t = timeline()
    t.pass(0, stall)
    t.pass(180, stall)
    t.canary('busy')
    expect(t.state).toMatchObject({failures: 0, suspectSince: null})
  })

  it('a down or wedged API is a freeze too: threshold, then each failed probe confirms', () => {
    const c = {...cfg, thresholdMs: 2000, confirmations: 2}
    const t = timeline(c)
    expect(t.pass(0, down)).toMatchObject({kind: 'suspect', firstPass: true}) // the first pass never acts
    expect(t.pass(1.5, down)).toMatchObject({kind: 'suspect', forMs: 1500, thresholdMs: 2000})
    expect(t.pass(2, down)).toEqual({kind: 'confirm', forMs: 2000})
    expect(t.gate(2)).toEqual({kind: 'wait', why: '1/2 failed liveness probes'})
    expect(t.pass(2.5, down)).toEqual({kind: 'confirm', forMs: 2500})
    expect(t.gate(2.5)).toEqual({kind: 'go'})
    t.charge(2.5, 'resume-kill')
    expect(t.state).toMatchObject({restartsTotal: 1, failures: 0, suspectSince: null, cooldownUntil: NOW + 2500 + c.cooldownMs, lastAction: {kind: 'resume-kill'}})
  })

  it('a stall that turns into a down API keeps its suspicion and its failures', () => {
    const t = timeline()
    t.pass(0, stall)
    t.pass(180, stall)
    t.canary('failed')
    expect(t.pass(190, down)).toEqual({kind: 'confirm', forMs: 190_000})
    expect(t.state).toMatchObject({suspect: 'down', failures: 2})
  })

  it('holds the cooldown and the budget, and a wedged GPU or --no-repair only alerts', () => {
    const t = timeline()
    t.state = {...t.state, failures: 3, suspect: 'stall'}
    expect(t.gate(0, {repair: true, gpuWedged: 'nvidia-smi hung'})).toMatchObject({kind: 'alert', why: expect.stringMatching(/GPU wedged/)})
    expect(t.gate(0, {repair: false, gpuWedged: null})).toMatchObject({kind: 'alert', why: expect.stringMatching(/--no-repair/)})
    t.charge(0)
    t.state = {...t.state, failures: 3}
    expect(t.gate(30)).toMatchObject({kind: 'alert', why: expect.stringMatching(/cooldown/)})
    expect(t.gate(120)).toEqual({kind: 'go'})
    t.charge(120)
    t.charge(240)
    t.state = {...t.state, failures: 3}
    expect(t.gate(400)).toMatchObject({kind: 'alert', why: expect.stringMatching(/restart budget spent: 3 in the last 1h/)})
    expect(budgetExhausted(t.state, NOW + 400_000, cfg)).toBe(true)
    // The window slides: an hour after the first restart, one slot is free again.
    expect(t.gate(3601)).toEqual({kind: 'go'})
    expect(t.state.restartsTotal).toBe(3)
  })

  it('--reset forgets the suspicion, the budget and the cooldown, keeps the counters', () => {
    const t = timeline()
    t.pass(0, stall)
    t.charge(10)
    t.state = {...t.state, suspectSince: NOW + 20_000, suspect: 'stall', failures: 2}
    const r = resetFrozenState(t.state, NOW + 30_000)
    expect(r).toMatchObject({suspectSince: null, failures: 0, restarts: [], cooldownUntil: null, lastAction: null, restartsTotal: 1, lastRestartAt: NOW + 10_000})
  })

  it('reads any state file without an instant restart: nothing, garbage, version 1', () => {
    expect(loadFrozenState(null, NOW)).toMatchObject({firstPass: true, state: {failures: 0, restarts: []}})
    expect(loadFrozenState('', NOW).firstPass).toBe(true)
    expect(loadFrozenState({version: 7}, NOW).firstPass).toBe(true)
    const v1 = {version: 1, firstPassAt: NOW - 1000, suspectSince: NOW - 500, failures: '2', restarts: [NOW - 100, 'x'], restartsTotal: 4, lastRestartAt: NOW - 100, falseAlarms: 1, cooldownUntil: null, lastAction: {kind: 'restart', at: NOW - 100}}
    expect(loadFrozenState(v1, NOW)).toEqual({firstPass: false, state: {version: 2, firstPassAt: NOW - 1000, suspectSince: NOW - 500, suspect: 'stall', failures: 0, restarts: [NOW - 100], restartsTotal: 4, lastRestartAt: NOW - 100, falseAlarms: 1, cooldownUntil: null, lastAction: {kind: 'restart', at: NOW - 100}}})
  })
})

describe('the Ollama server, by identity', () => {
  it('is the `ollama` executable run with serve, or a process of the managed unit\'s cgroup; never a name alone', () => {
    const p = (exe: string | null, argv: string[], cgroup: string | null = '/user.slice') => ({exe, argv, cgroup})
    expect(isOllamaServer(p('/usr/local/bin/ollama', ['/usr/local/bin/ollama', 'serve']), null)).toBe(true)
    expect(isOllamaServer(p('/usr/local/bin/ollama (deleted)', ['ollama', 'serve']), null)).toBe(true) // upgraded under it
    expect(isOllamaServer(p('/usr/local/bin/ollama', ['ollama', 'runner', '--model', 'm']), null)).toBe(false) // a runner, not the server
    expect(isOllamaServer(p('/usr/bin/python3.11', ['python3', '/opt/ollama_proxy.py', 'serve']), null)).toBe(false)
    expect(isOllamaServer(p('/usr/bin/node', ['node', '/srv/ollama/server.js']), null)).toBe(false)
    expect(isOllamaServer(p('/opt/ollama-bridge', ['ollama-bridge', 'serve']), null)).toBe(false)
    expect(isOllamaServer(p(null, ['ollama', 'serve']), null)).toBe(false) // exe unreadable: argv alone proves nothing
    expect(isOllamaServer(p('/usr/bin/python3', ['python3', 'x.py'], '/system.slice/ollama.service'), 'ollama')).toBe(true)
    expect(isOllamaServer(p('/usr/bin/python3', ['python3', 'x.py'], '/system.slice/ollama.service'), 'ollama.service')).toBe(true)
    expect(isOllamaServer(p('/usr/bin/python3', ['python3', 'x.py'], '/system.slice/ollama-proxy.service'), 'ollama')).toBe(false)
    expect(isOllamaServer(p('/usr/bin/python3', ['python3', 'x.py'], '/system.slice/ollama.service'), null)).toBe(false)
  })
})

describe('which remedy a confirmed freeze gets', () => {
  const facts = (over: Partial<RemedyFacts> = {}): RemedyFacts => ({suspect: 'down', down: 'timeout', visible: true, listeners: [], invisibleListener: false, otherServers: 0, runnerKill: true, killableRunners: 1, ...over})
  const listener = (over: Partial<ListenerFacts> = {}): ListenerFacts => ({pid: 4242, state: 'T', comm: 'ollama', isOllama: true, refusal: null, ...over})
  const s = newFrozenState(NOW)
  const pick = (f: RemedyFacts, st = s) => chooseRemedy(f, st, NOW, cfg.restartWindowMs)

  it('a stall: the runner first, the restart when it recurs or no runner can be killed', () => {
    expect(pick(facts({suspect: 'stall', down: null}))).toMatchObject({kind: 'act', remedy: 'runner-kill'})
    expect(pick(facts({suspect: 'stall', down: null, killableRunners: 0}))).toMatchObject({kind: 'act', remedy: 'restart'})
    expect(pick(facts({suspect: 'stall', down: null, runnerKill: false}))).toMatchObject({kind: 'act', remedy: 'restart'})
    expect(pick(facts({suspect: 'stall', down: null}), {...s, lastAction: {kind: 'runner-kill', at: NOW - 60_000}})).toMatchObject({kind: 'act', remedy: 'restart', why: expect.stringMatching(/again/)})
  })

  it('a stall under a listener that is not the Ollama server by identity: ALERT naming it, never a runner kill or restart', () => {
    const proxy = listener({pid: 777, state: 'S', comm: 'node', isOllama: false})
    for (const st of [s, {...s, lastAction: {kind: 'runner-kill' as const, at: NOW - 60_000}}]) {
      expect(pick(facts({suspect: 'stall', down: null, listeners: [proxy]}), st)).toEqual({kind: 'alert', why: expect.stringMatching(/pid 777 \(node\) on the port is not the Ollama server by identity; nothing signalled/)})
      expect(pick(facts({suspect: 'stall', down: null, listeners: [listener({state: 'S'}), proxy]}), st)).toMatchObject({kind: 'alert'})
    }
    // The Ollama server itself on the port: the runner kill as before.
    expect(pick(facts({suspect: 'stall', down: null, listeners: [listener({state: 'S'})]}))).toMatchObject({kind: 'act', remedy: 'runner-kill'})
  })

  it('a stopped server medic can see gets SIGTERM + SIGCONT, then a start', () => {
    expect(pick(facts({listeners: [listener()]}))).toMatchObject({kind: 'act', remedy: 'resume-kill'})
  })

  it('never signals a traced, protected or foreign stopped listener: ALERT', () => {
    expect(pick(facts({listeners: [listener({state: 't'})]}))).toMatchObject({kind: 'alert', why: expect.stringMatching(/debugger/)})
    expect(pick(facts({listeners: [listener({refusal: 'protected by run-dev-safe (job "train")'})]}))).toMatchObject({kind: 'alert', why: expect.stringMatching(/never signals it \(protected by run-dev-safe/)})
    expect(pick(facts({listeners: [listener({isOllama: false, comm: 'python3'})]}))).toMatchObject({kind: 'alert', why: expect.stringMatching(/is not the Ollama server; not signalled/)})
  })

  it('a hung (not stopped) server, an invisible listener or a remote host: the manager restart', () => {
    expect(pick(facts({listeners: [listener({state: 'S'})]}))).toMatchObject({kind: 'act', remedy: 'restart'})
    expect(pick(facts({invisibleListener: true}))).toMatchObject({kind: 'act', remedy: 'restart'})
    expect(pick(facts({visible: false, listeners: [listener()]}))).toMatchObject({kind: 'act', remedy: 'restart'})
  })

  it('refused with no Ollama process at all is a start; with an ollama serve somewhere, a restart', () => {
    expect(pick(facts({down: 'refused'}))).toMatchObject({kind: 'act', remedy: 'start'})
    expect(pick(facts({down: 'refused', otherServers: 1}))).toMatchObject({kind: 'act', remedy: 'restart'})
  })
})

describe('exporter state: last request and frozen duration', () => {
  it('starts the clock at the first pass, never at the epoch, and keeps the last answer', () => {
    let r = stepExporter(null, NOW, false)
    expect(r).toMatchObject({lastRequestAt: null, downSince: NOW})
    r = stepExporter(r.state, NOW + 5000, true)
    expect(r).toMatchObject({lastRequestAt: NOW + 5000, downSince: null})
    r = stepExporter(r.state, NOW + 9000, false)
    expect(r).toMatchObject({lastRequestAt: NOW + 5000, downSince: NOW + 5000})
  })
})

describe('--ssh targets and remote words', () => {
  it.each([
    ['homelab@192.168.15.2', true],
    ['gpu-box', true],
    ['ssh://root@127.0.0.1:2222', true],
    ['ssh://[::1]:22', true],
    ['-oProxyCommand=touch /tmp/x', false],
    ['user@-oProxyCommand=x', false],
    ['user@host;reboot', false],
    ['user name@host', false],
    ['$(reboot)@host', false],
    ['ssh://root@host:99999', false],
    ['http://host', false],
  ])('%s → %s', (text, ok) => expect(parseSshTarget(text).ok).toBe(ok))
  it('sends only words no shell interprets', () => {
    expect(safeRemoteWord('ollama.service')).toBe(true)
    expect(safeRemoteWord('ollama@gpu0')).toBe(true)
    for (const w of ['ollama; reboot', '$(id)', '`id`', 'a b', '-h', 'x\\x2d', 'x|y', "o'q", '']) expect(safeRemoteWord(w), w).toBe(false)
  })
})

describe('Prometheus exposition', () => {
  it('renders one HELP/TYPE per family, leaves out empty values, escapes labels', () => {
    const text = renderFamilies([
      {name: 'a_total', help: 'A.', type: 'counter', samples: [{value: 3}]},
      {name: 'b', help: 'B.', type: 'gauge', samples: [{labels: {gpu: '0', model: 'x"y\\z'}, value: 1.5}, {labels: {gpu: '1'}, value: null}, {value: Number.NaN}]},
      {name: 'c', help: 'C.', type: 'gauge', samples: [{value: undefined}]},
    ])
    expect(text).toBe('# HELP a_total A.\n# TYPE a_total counter\na_total 3\n# HELP b B.\n# TYPE b gauge\nb{gpu="0",model="x\\"y\\\\z"} 1.5\n')
    expect(lintExposition(text)).toEqual([])
  })

  it('the linter catches what node_exporter rejects', () => {
    expect(lintExposition('# TYPE x gauge\n# TYPE x gauge\nx 1\n')).toContain('line 2: second TYPE for x')
    expect(lintExposition('x 1\nx 2\n')).toContain('line 2: duplicate series x')
    expect(lintExposition('x [N/A]\n')).toContain('line 1: bad value [N/A]')
    expect(lintExposition('x 1\ny 1\nx{a="b"} 2\n')).toContain('line 3: samples of x not grouped together')
    expect(lintExposition('x 1')).toContain('missing final newline')
  })
})
