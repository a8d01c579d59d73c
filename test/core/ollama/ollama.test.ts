import {describe, expect, it} from 'vitest'
import {isRunnerCmdline, parsePs} from '../../../src/core/ollama/api.js'
import {ollamaBaseUrl} from '../../../src/core/ollama/host.js'
import {parseAppsCsv, parseGpuCsv} from '../../../src/core/ollama/nvidia.js'
import {afterCanary, assess, chargeRestart, decideAct, newFrozenState, stepFrozen, type FrozenConfig, type FrozenState, type OllamaObservation} from '../../../src/core/ollama/policy.js'
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

describe('frozen policy', () => {
  it('classifies the states of research §5.1', () => {
    expect(assess(obs({up: {ok: false, detail: 'refused'}}), cfg).kind).toBe('down')
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

  it('never canaries on the first pass or before the threshold (twice it without GPU evidence)', () => {
    const stall = {kind: 'stall' as const, why: '', cpuOnly: false}
    let s = newFrozenState(NOW)
    expect(stepFrozen(s, stall, NOW, cfg, true).canary).toBe(false)
    s = stepFrozen(s, stall, NOW, cfg, false).state
    expect(stepFrozen(s, stall, NOW + 179_999, cfg, false).canary).toBe(false)
    expect(stepFrozen(s, stall, NOW + 180_000, cfg, false).canary).toBe(true)
    expect(stepFrozen(s, {...stall, cpuOnly: true}, NOW + 180_000, cfg, false).canary).toBe(false)
    expect(stepFrozen(s, {kind: 'inconclusive', why: ''}, NOW + 500_000, cfg, false).state.suspectSince).toBe(NOW)
    expect(stepFrozen(s, {kind: 'progress', why: ''}, NOW + 500_000, cfg, false).state.suspectSince).toBeNull()
  })

  it('acts after N consecutive failures; a pass clears them and counts a false alarm', () => {
    let s: FrozenState = {...newFrozenState(NOW), suspectSince: NOW}
    s = afterCanary(afterCanary(s, false), false)
    expect(decideAct(s, NOW, cfg, {repair: true, gpuWedged: null, killableRunner: true}).kind).toBe('wait')
    const ok = afterCanary(s, true)
    expect(ok).toMatchObject({failures: 0, falseAlarms: 1, suspectSince: null})
    s = afterCanary(s, false)
    expect(decideAct(s, NOW, cfg, {repair: true, gpuWedged: null, killableRunner: true})).toEqual({kind: 'act', ladder: 'runner-kill'})
    expect(decideAct(s, NOW, cfg, {repair: true, gpuWedged: 'nvidia-smi hung', killableRunner: true}).kind).toBe('alert')
  })

  it('escalates from runner kill to restart when the freeze recurs, and holds the budget', () => {
    const frozen = {...newFrozenState(NOW), failures: 3}
    let s = chargeRestart(frozen, 'runner-kill', NOW, cfg)
    expect(s).toMatchObject({restartsTotal: 1, failures: 0, cooldownUntil: NOW + 60_000})
    s = {...s, failures: 3}
    expect(decideAct(s, NOW + 30_000, cfg, {repair: true, gpuWedged: null, killableRunner: true})).toMatchObject({kind: 'alert', why: expect.stringMatching(/cooldown/)})
    expect(decideAct(s, NOW + 120_000, cfg, {repair: true, gpuWedged: null, killableRunner: true})).toEqual({kind: 'act', ladder: 'restart'})
    s = chargeRestart(chargeRestart({...s}, 'restart', NOW + 120_000, cfg), 'restart', NOW + 240_000, cfg)
    s = {...s, failures: 3}
    expect(decideAct(s, NOW + 400_000, cfg, {repair: true, gpuWedged: null, killableRunner: true})).toMatchObject({kind: 'alert', why: expect.stringMatching(/restart budget spent: 3/)})
    expect(s.restartsTotal).toBe(3)
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
