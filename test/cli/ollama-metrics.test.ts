import {spawn, spawnSync} from 'node:child_process'
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {stringify} from 'yaml'
import {ALERTS, RECORDS} from '../../src/core/ollama/rules.js'
import {lintExposition} from '../../src/core/prom.js'
import {fakeOllama as fake, monitorMetrics, runCheck} from '../helpers/ollama.js'
import {BIN, expectContract, Janitor, medic, until} from '../helpers/procs.js'

const j = new Janitor()
afterEach(() => j.cleanup())

/** Every name the seed's two scripts wrote (ollama_metrics_exporter.sh + the monitor file it appended). */
const SEED_EXPORTER = ['ollama_up', 'ollama_last_request_timestamp', 'ollama_frozen_duration_seconds', 'ollama_models_loaded', 'ollama_models_total_size_bytes', 'ollama_models_active', 'ollama_vram_used_bytes', 'ollama_gpu_utilization_percent', 'ollama_gpu_memory_used_bytes', 'ollama_gpu_memory_total_bytes', 'ollama_gpu_temperature_celsius']
const SEED_MONITOR = ['ollama_up', 'ollama_frozen_duration_seconds', 'ollama_selfheal_restarts_total', 'ollama_last_restart_timestamp']

const promtool = (args: string[], input?: string) => spawnSync('promtool', args, {input, encoding: 'utf8'})
const havePromtool = !promtool(['--version']).error
const names = (text: string) => new Set(text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(/[{ ]/)[0]))

function checkMetrics(text: string): void {
  expect(lintExposition(text)).toEqual([])
  if (!havePromtool) return void console.log('skipped promtool check metrics: promtool not installed (Debian package prometheus)')
  const r = promtool(['check', 'metrics'], text)
  expect(r.status, r.stdout + r.stderr).toBe(0)
}

describe('medic ollama metrics (the exporter)', () => {
  it('writes every seed metric name, a gpu label, installed vs loaded named right, and passes promtool check metrics', async () => {
    const o = await fake(j, 'healthy', 'busy')
    const file = join(o.dir, 'ollama.prom')
    const r = await medic(['ollama', 'metrics', '--file', file, '--stdout', '--state-dir', join(o.dir, 'state')], {env: o.env})
    // stdout is the exposition alone, valid as it is; the verdict line is on stderr
    const text = readFileSync(file, 'utf8')
    expect(text.split('\n')[0]).toMatch(/^# medic ollama metrics textfile, written by pid \d+ /) // medic's header: the file is medic's own
    expect(r.stdout).toBe(text.slice(text.indexOf('\n') + 1)) // the file is the header, then what stdout printed
    checkMetrics(r.stdout)
    checkMetrics(text)
    expect(r.stderr).toMatch(/^OLLAMA_OK: /m)
    expect(r.code).toBe(0)
    const got = names(text)
    for (const n of [...SEED_EXPORTER, ...SEED_MONITOR, 'ollama_last_restart_timestamp_seconds', 'ollama_models_installed', 'ollama_loaded_models', 'ollama_probe_duration_seconds']) expect(got.has(n), n).toBe(true)
    expect(text).toMatch(/^ollama_gpu_utilization_percent\{gpu="0"\} 87$/m)
    expect(text).toMatch(/^ollama_models_loaded 2$/m) // the seed's name counts INSTALLED models
    expect(text).toMatch(/^ollama_models_installed 2$/m)
    expect(text).toMatch(/^ollama_loaded_models 1$/m)
    expect(text).toMatch(/^ollama_models_active 1$/m)
    expect(text).toMatch(/^ollama_up\{collector="metrics"\} 1$/m)
    expect(text).toMatch(/^ollama_frozen_duration_seconds\{collector="metrics"\} 0$/m)
    expect(text).toMatch(/^ollama_probe_duration_seconds\{collector="metrics",endpoint="\/api\/tags"\} [\d.]+$/m)
    expect(text).toMatch(/^ollama_selfheal_restarts_total\{collector="metrics"\} 0$/m)
    const last = Number(/^ollama_last_request_timestamp (\d+)$/m.exec(text)![1])
    expect(Math.abs(last - Date.now() / 1000)).toBeLessThan(3600)
  })

  it('reads the monitor\'s restart counter from its state, and counts the API down from its last answer', async () => {
    const o = await fake(j, 'frozen', 'idle')
    const state = join(o.dir, 'state')
    for (let i = 0; i < 3; i++) await runCheck(o) // baseline, canary 1, canary 2 → runner killed → RECOVERED
    const file = join(o.dir, 'ollama.prom')
    await medic(['ollama', 'metrics', '--file', file, '--state-dir', state], {env: o.env})
    const text = readFileSync(file, 'utf8')
    expect(text).toMatch(/^ollama_selfheal_restarts_total\{collector="metrics"\} 1$/m)
    expect(Number(/^ollama_last_restart_timestamp\{collector="metrics"\} (\d+)$/m.exec(text)![1])).toBeGreaterThan(1_700_000_000)
    const answered = Number(/^ollama_last_request_timestamp (\d+)$/m.exec(text)![1])
    process.kill(-o.pid, 'SIGKILL')
    const down = await medic(['ollama', 'metrics', '--file', file, '--state-dir', state], {env: o.env})
    expectContract(down, 'OLLAMA_ALERT')
    const after = readFileSync(file, 'utf8')
    expect(after).toMatch(/^ollama_up\{collector="metrics"\} 0$/m)
    expect(Number(/^ollama_last_request_timestamp (\d+)$/m.exec(after)![1])).toBe(answered) // kept, never empty
    expect(after).toMatch(/^ollama_frozen_duration_seconds\{collector="metrics"\} \d+$/m)
    checkMetrics(after)
  })

  it('the monitor\'s own textfile passes promtool check metrics too, with the seed monitor names', async () => {
    const o = await fake(j, 'healthy', 'idle')
    await runCheck(o)
    const text = monitorMetrics(o)
    checkMetrics(text)
    for (const n of SEED_MONITOR) expect(names(text).has(n), n).toBe(true)
    expect(text).toMatch(/^ollama_last_restart_timestamp\{collector="frozen-check"\} 0$/m) // 0 before the first, never empty
  })

  it('leaves out [N/A] samples instead of writing them', async () => {
    const o = await fake(j, 'healthy', 'na')
    const r = await medic(['ollama', 'metrics', '--test', '--state-dir', join(o.dir, 'state')], {env: o.env})
    expect(r.stdout).not.toMatch(/N\/A|NaN|null/)
    expect(r.stdout).not.toMatch(/ollama_gpu_temperature_celsius\{gpu="0"\}/)
    expect(r.stdout).toMatch(/ollama_gpu_temperature_celsius\{gpu="1"\} 35/)
  })

  it('--daemon [interval] is --watch, as the seed exporter: refreshes the file, one line on stdout, SIGTERM ends it', async () => {
    const o = await fake(j, 'healthy', 'idle')
    const file = join(o.dir, 'ollama.prom')
    const c = spawn(process.execPath, [BIN, 'ollama', 'metrics', '--daemon', '0.1', '--file', file, '--state-dir', join(o.dir, 'state')], {env: {...process.env, ...o.env}, stdio: ['ignore', 'pipe', 'pipe']})
    j.child(c)
    let out = ''
    let err = ''
    c.stdout!.on('data', (d) => (out += d))
    c.stderr!.on('data', (d) => (err += d))
    const first = await until('the first write', () => existsSync(file) && readFileSync(file, 'utf8'))
    await until('a refresh', () => readFileSync(file, 'utf8') !== first)
    c.kill('SIGTERM')
    expect(await new Promise((r) => c.once('exit', r))).toBe(0)
    expect(out).toMatch(/^OLLAMA_OK: up: 2 installed, 1 loaded; 2 GPU\(s\); wrote .*ollama\.prom\n$/)
    expect(err).toMatch(/stopped after \d+ passes/)
    const bad = await medic(['ollama', 'metrics', '--daemon', 'often'], {env: o.env})
    expectContract(bad, 'OLLAMA_UNKNOWN')
    const stray = await medic(['ollama', 'metrics', '15'], {env: o.env})
    expect(stray.lines[0]).toMatch(/^OLLAMA_UNKNOWN: unexpected argument: 15 \(an interval goes with --daemon\)/)
  })
})

// promtool unit tests: one firing case (and where it matters a quiet one) for EVERY alert.
const I = {instance: 'gpu-box:9100'}
const series = (name: string, labels: Record<string, string>, values: string) => ({series: `${name}{${Object.entries({...I, ...labels}).map(([k, v]) => `${k}="${v}"`).join(',')}}`, values})
const ann = (alert: string, over: Partial<Record<'summary' | 'description', string>> = {}) => {
  const a = ALERTS.find((x) => x.alert === alert)!.annotations
  return {...a, ...over}
}
const lab = (alert: string, extra: Record<string, string> = {}) => ({...ALERTS.find((x) => x.alert === alert)!.labels, ...I, ...extra})
const FC = {collector: 'frozen-check'}
const MX = {collector: 'metrics'}

const UNIT_TESTS = [
  {name: 'OllamaDown', interval: '30s', input_series: [series('ollama_up', FC, '0x10'), series('ollama_up', MX, '0x10')], alert_rule_test: [
    {eval_time: '1m', alertname: 'OllamaDown', exp_alerts: []},
    {eval_time: '3m', alertname: 'OllamaDown', exp_alerts: [{exp_labels: lab('OllamaDown'), exp_annotations: ann('OllamaDown')}]},
  ]},
  {name: 'OllamaDown quiet while one collector still gets answers', interval: '30s', input_series: [series('ollama_up', FC, '0x10'), series('ollama_up', MX, '1x10')], alert_rule_test: [{eval_time: '5m', alertname: 'OllamaDown', exp_alerts: []}]},
  {name: 'OllamaFrozen', interval: '30s', input_series: [series('ollama_frozen_duration_seconds', FC, '0+30x20'), series('ollama_frozen_duration_seconds', MX, '0x20')], alert_rule_test: [
    {eval_time: '4m', alertname: 'OllamaFrozen', exp_alerts: []},
    {eval_time: '5m', alertname: 'OllamaFrozen', exp_alerts: [{exp_labels: lab('OllamaFrozen'), exp_annotations: ann('OllamaFrozen', {description: 'Inference stalled behind a live API, or the API down or wedged, for 300s.'})}]},
  ]},
  {name: 'ServiceStalled: stalled while the API answers (seed 004)', interval: '30s', input_series: [series('ollama_frozen_duration_seconds', FC, '0+30x10'), series('ollama_up', FC, '1x10')], alert_rule_test: [
    {eval_time: '3m', alertname: 'ServiceStalled', exp_alerts: [{exp_labels: lab('ServiceStalled'), exp_annotations: ann('ServiceStalled')}]},
  ]},
  {name: 'ServiceStalled quiet when the API is down (OllamaDown covers it)', interval: '30s', input_series: [series('ollama_frozen_duration_seconds', FC, '0+30x10'), series('ollama_up', FC, '0x10')], alert_rule_test: [{eval_time: '4m', alertname: 'ServiceStalled', exp_alerts: []}]},
  {name: 'SelfHealingExhausted', interval: '30s', input_series: [series('ollama_selfheal_restart_budget_exhausted', FC, '0 1 1 1 1 1 1')], alert_rule_test: [
    {eval_time: '1m', alertname: 'SelfHealingExhausted', exp_alerts: []},
    {eval_time: '3m', alertname: 'SelfHealingExhausted', exp_alerts: [{exp_labels: lab('SelfHealingExhausted'), exp_annotations: ann('SelfHealingExhausted')}]},
  ]},
  {name: 'ConsecutiveFailures', interval: '30s', input_series: [series('ollama_selfheal_consecutive_failures', FC, '1 2 3 3 3 3 3 3 3 3')], alert_rule_test: [
    {eval_time: '2m', alertname: 'ConsecutiveFailures', exp_alerts: []},
    {eval_time: '4m', alertname: 'ConsecutiveFailures', exp_alerts: [{exp_labels: lab('ConsecutiveFailures'), exp_annotations: ann('ConsecutiveFailures', {description: '3 consecutive failed canaries or liveness probes.'})}]},
  ]},
  {name: 'OllamaSlowResponse', interval: '30s', input_series: [series('ollama_probe_duration_seconds', {...MX, endpoint: '/api/tags'}, '3x20'), series('ollama_probe_duration_seconds', {...FC, endpoint: '/api/version'}, '0.01x20')], alert_rule_test: [
    {eval_time: '4m', alertname: 'OllamaSlowResponse', exp_alerts: [{exp_labels: lab('OllamaSlowResponse'), exp_annotations: ann('OllamaSlowResponse', {description: "p95 of medic's probe latency over 5 minutes is 3s."})}]},
  ]},
  {name: 'OllamaSlowResponse quiet on a fast API', interval: '30s', input_series: [series('ollama_probe_duration_seconds', {...MX, endpoint: '/api/tags'}, '0.02x20')], alert_rule_test: [{eval_time: '8m', alertname: 'OllamaSlowResponse', exp_alerts: []}]},
  {name: 'OllamaMemoryPressure', interval: '30s', input_series: [series('ollama_gpu_memory_used_bytes', {gpu: '0'}, '97x20'), series('ollama_gpu_memory_total_bytes', {gpu: '0'}, '100x20'), series('ollama_gpu_memory_used_bytes', {gpu: '1'}, '10x20'), series('ollama_gpu_memory_total_bytes', {gpu: '1'}, '100x20')], alert_rule_test: [
    {eval_time: '7m', alertname: 'OllamaMemoryPressure', exp_alerts: [{exp_labels: lab('OllamaMemoryPressure', {gpu: '0'}), exp_annotations: ann('OllamaMemoryPressure', {summary: 'GPU 0 memory above 95%', description: 'VRAM use is 97% of the total.'})}]},
  ]},
  {name: 'OllamaGPUOverheat', interval: '30s', input_series: [series('ollama_gpu_temperature_celsius', {gpu: '0'}, '90x20'), series('ollama_gpu_temperature_celsius', {gpu: '1'}, '60x20')], alert_rule_test: [
    {eval_time: '4m', alertname: 'OllamaGPUOverheat', exp_alerts: []},
    {eval_time: '7m', alertname: 'OllamaGPUOverheat', exp_alerts: [{exp_labels: lab('OllamaGPUOverheat', {gpu: '0'}), exp_annotations: ann('OllamaGPUOverheat', {summary: 'GPU 0 above 85°C', description: 'GPU temperature is 90°C.'})}]},
  ]},
  {name: 'OllamaRestartedRecently', interval: '30s', input_series: [series('ollama_selfheal_restarts_total', FC, '0 0 0 1 1 1 1 1 1 1'), series('ollama_selfheal_restarts_total', MX, '0 0 0 1 1 1 1 1 1 1')], alert_rule_test: [
    {eval_time: '1m', alertname: 'OllamaRestartedRecently', exp_alerts: []},
    {eval_time: '4m', alertname: 'OllamaRestartedRecently', exp_alerts: [{exp_labels: lab('OllamaRestartedRecently'), exp_annotations: ann('OllamaRestartedRecently')}]},
  ]},
  {name: 'OllamaSelfhealStale', interval: '30s', input_series: [series('ollama_selfheal_last_check_timestamp_seconds', FC, '0x30')], alert_rule_test: [
    {eval_time: '5m', alertname: 'OllamaSelfhealStale', exp_alerts: []},
    {eval_time: '10m', alertname: 'OllamaSelfhealStale', exp_alerts: [{exp_labels: lab('OllamaSelfhealStale', FC), exp_annotations: ann('OllamaSelfhealStale')}]},
  ]},
  {name: 'recording rules', interval: '30s', input_series: [series('ollama_up', FC, '1x130'), series('ollama_up', MX, '1x130'), series('ollama_frozen_duration_seconds', FC, '0x120 200x10'), series('ollama_frozen_duration_seconds', MX, '0x130')], promql_expr_test: [
    {expr: 'ollama:frozen_duration:seconds', eval_time: '61m', exp_samples: [{labels: `ollama:frozen_duration:seconds{instance="${I.instance}"}`, value: 200}]},
    {expr: 'ollama:health:status', eval_time: '59m', exp_samples: [{labels: `ollama:health:status{instance="${I.instance}"}`, value: 1}]},
    {expr: 'ollama:health:status', eval_time: '61m', exp_samples: [{labels: `ollama:health:status{instance="${I.instance}"}`, value: 0}]},
    {expr: 'selfhealing:service_health:ratio', eval_time: '61m', exp_samples: [{labels: `selfhealing:service_health:ratio{instance="${I.instance}"}`, value: 1}]},
    {expr: 'selfhealing:stall_duration:seconds', eval_time: '61m', exp_samples: [{labels: `selfhealing:stall_duration:seconds{instance="${I.instance}"}`, value: 200}]},
  ]},
]

describe('medic ollama rules', () => {
  const rules = () => {
    const r = spawnSync(process.execPath, [BIN, 'ollama', 'rules', '--raw'], {encoding: 'utf8'})
    expect(r.status).toBe(0)
    return r.stdout
  }

  it('restores every seed rule whose inputs medic emits, each with for:, severity and a runbook', async () => {
    const text = rules()
    for (const name of ['OllamaFrozen', 'ServiceStalled', 'SelfHealingExhausted', 'ConsecutiveFailures', 'OllamaSlowResponse', 'OllamaMemoryPressure', 'OllamaGPUOverheat']) expect(text).toContain(`- alert: ${name}\n`)
    for (const name of ['ollama:frozen_duration:seconds', 'ollama:health:status', 'selfhealing:service_health:ratio', 'selfhealing:stall_duration:seconds']) expect(text).toContain(`- record: ${name}\n`)
    for (const a of ALERTS) {
      expect(a.for, a.alert).toMatch(/^\d+[smh]$/)
      expect(['critical', 'warning']).toContain(a.labels.severity)
      expect(a.annotations.runbook.length, a.alert).toBeGreaterThan(10)
    }
    const {monitorFamilies, exporterFamilies} = await import('../../src/core/ollama/metrics.js')
    const {newFrozenState} = await import('../../src/core/ollama/freeze.js')
    const emitted = new Set([
      ...monitorFamilies({up: true, frozenForS: 0, state: newFrozenState(0), budgetExhausted: false, now: 0, probes: []}),
      ...exporterFamilies({up: true, now: 0, lastRequestAt: null, downSince: null, installed: [], loaded: [], gpus: [], probes: [], monitor: null}),
    ].map((f) => f.name))
    const used = [...[...ALERTS, ...RECORDS].map((r) => r.expr).join(' ').matchAll(/\b(ollama_[a-z_]+)\b/g)].map((m) => m[1])
    expect(used.length).toBeGreaterThan(10)
    for (const name of used) expect(emitted.has(name), name).toBe(true)
  })

  it('passes promtool check rules and promtool test rules, with a unit test for every alert', () => {
    const dir = j.tmp()
    writeFileSync(join(dir, 'rules.yml'), rules())
    const tested = new Set(UNIT_TESTS.flatMap((t) => (t.alert_rule_test ?? []).filter((a) => a.exp_alerts.length > 0).map((a) => a.alertname)))
    for (const a of ALERTS) expect(tested.has(a.alert), `a firing unit test for ${a.alert}`).toBe(true)
    writeFileSync(join(dir, 'tests.yml'), stringify({rule_files: ['rules.yml'], evaluation_interval: '30s', tests: UNIT_TESTS}))
    if (!havePromtool) return void console.log('skipped promtool check/test rules: promtool not installed (Debian package prometheus)')
    const check = spawnSync('promtool', ['check', 'rules', join(dir, 'rules.yml')], {encoding: 'utf8'})
    expect(check.status, check.stdout + check.stderr).toBe(0)
    const test = spawnSync('promtool', ['test', 'rules', join(dir, 'tests.yml')], {encoding: 'utf8', cwd: dir})
    expect(test.status, test.stdout + test.stderr).toBe(0)
  })
})
