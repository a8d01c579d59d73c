import {spawn, spawnSync} from 'node:child_process'
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {lintExposition} from '../../src/core/prom.js'
import {alive, expectContract, Janitor, medic, ROOT, waitReady, type MedicResult} from '../helpers/procs.js'

const j = new Janitor()
afterEach(() => j.cleanup())

const FAKE = join(ROOT, 'test/fixtures/proc/fake-ollama.mjs')
const BIN_DIR = join(ROOT, 'test/fixtures/bin')

interface Fake {
  url: string
  pid: number
  dir: string
  mode: (m: string) => void
  gpu: (m: string) => void
  canaries: () => number
  runner: () => number | null
  env: NodeJS.ProcessEnv
  args: (...extra: string[]) => string[]
}

async function fakeOllama(mode: string, gpuMode = 'idle', opts: {nvidia?: boolean} = {}): Promise<Fake> {
  const dir = j.tmp()
  const f = (n: string) => join(dir, n)
  writeFileSync(f('mode'), mode)
  writeFileSync(f('gpu'), gpuMode)
  const c = spawn(process.execPath, [FAKE, '--mode-file', f('mode'), '--ready', f('ready.json'), '--runner-pid-file', f('runner.pid'), '--canary-log', f('canaries')], {stdio: 'ignore', detached: true})
  j.child(c)
  const r = await waitReady(f('ready.json'), 'fake ollama')
  const url = `http://127.0.0.1:${r.port}`
  const env = {
    PATH: opts.nvidia === false ? process.env.PATH : `${BIN_DIR}:${process.env.PATH}`,
    FAKE_NVIDIA_MODE_FILE: f('gpu'), FAKE_NVIDIA_APPS_FILE: f('runner.pid'), OLLAMA_HOST: url,
  }
  return {
    url, pid: r.pid, dir, env,
    mode: (m) => writeFileSync(f('mode'), m),
    gpu: (m) => writeFileSync(f('gpu'), m),
    canaries: () => (existsSync(f('canaries')) ? readFileSync(f('canaries'), 'utf8').trim().split('\n').filter(Boolean).length : 0),
    runner: () => {
      const t = existsSync(f('runner.pid')) ? readFileSync(f('runner.pid'), 'utf8').trim() : ''
      return t ? Number(t) : null
    },
    args: (...extra) => ['ollama', 'frozen-check', '--state-dir', f('state'), '--metrics-file', f('textfile/ollama_selfheal.prom'), '--threshold', '0s', '--confirmations', '2', '--canary-timeout', '300ms', '--cooldown', '100ms', '--gpu-samples', '1', '--ps-timeout', '500ms', '--nvidia-timeout', '500ms', '--grace', '500ms', ...extra],
  }
}

const run = (o: Fake, ...extra: string[]) => medic(o.args(...extra), {env: o.env})
const metrics = (o: Fake) => readFileSync(join(o.dir, 'textfile/ollama_selfheal.prom'), 'utf8')
const sample = (text: string, name: string) => {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)
  return m ? Number(m[1]) : undefined
}

describe('medic ollama frozen-check', () => {
  it('says OK for an idle server with nothing loaded, and never sends a canary', async () => {
    const o = await fakeOllama('idle')
    for (let i = 0; i < 3; i++) expectContract(await run(o), 'OLLAMA_OK')
    const r = await run(o)
    expect(r.lines[0]).toBe('OLLAMA_OK: healthy idle: no model loaded')
    expect(o.canaries()).toBe(0)
  })

  it('never calls a long generation with the GPU busy frozen: OK, no canary, no restart', async () => {
    const o = await fakeOllama('busy', 'busy')
    const runner = o.runner()!
    for (let i = 0; i < 4; i++) {
      const r = await run(o)
      expectContract(r, 'OLLAMA_OK')
      expect(r.lines[0]).toContain('GPU 0 at 87%')
    }
    expect(o.canaries()).toBe(0)
    expect(alive(runner)).toBe(true)
  })

  it('calls a blocked /api/ps busy or loading, not frozen', async () => {
    const o = await fakeOllama('loading')
    for (let i = 0; i < 3; i++) expectContract(await run(o), 'OLLAMA_OK')
    expect((await run(o)).lines[0]).toMatch(/inconclusive: \/api\/ps timed out: busy or loading/)
    expect(o.canaries()).toBe(0)
  })

  it('catches the seed-004 freeze (tags fine, generate hangs, GPU idle) and recovers it', async () => {
    const o = await fakeOllama('frozen', 'idle')
    const runner = o.runner()!
    const first = await run(o)
    expectContract(first, 'OLLAMA_OK') // the first pass after install never acts
    expect(first.lines[0]).toContain('first pass never acts')
    expect(o.canaries()).toBe(0)
    const second = await run(o)
    expectContract(second, 'OLLAMA_UNKNOWN') // canary 1/2 failed: confirming
    const third = await run(o, '-v')
    expectContract(third, 'OLLAMA_RECOVERED')
    expect(third.code).toBe(1)
    expect(third.lines[0]).toMatch(new RegExp(`killed stuck runner ${runner}; verified`))
    expect(third.stdout).not.toContain('_ALERT')
    expect(alive(runner)).toBe(false)
    expect(o.canaries()).toBe(2)
    const m = metrics(o)
    expect(lintExposition(m)).toEqual([])
    expect(sample(m, 'ollama_selfheal_restarts_total')).toBe(1)
    expect(sample(m, 'ollama_last_restart_timestamp')).toBeGreaterThan(1_700_000_000)
    expectContract(await run(o), 'OLLAMA_OK')
    expect(sample(metrics(o), 'ollama_selfheal_restarts_total')).toBe(1)
  })

  it('sends the canary with num_predict 1, no keep_alive, only to a loaded model', async () => {
    const o = await fakeOllama('frozen', 'idle')
    await run(o)
    await run(o)
    const line = readFileSync(join(o.dir, 'canaries'), 'utf8').trim().split('\n')[0]
    const req = JSON.parse(line.slice(line.indexOf(' ') + 1))
    expect(line.startsWith('/api/generate ')).toBe(true)
    expect(req).toMatchObject({model: 'llama3.2:1b', stream: false, raw: true, options: {num_predict: 1, num_ctx: 4096}})
    expect('keep_alive' in req).toBe(false)
  })

  it('a restart that does not help ends in one ALERT, and the budget holds', async () => {
    const o = await fakeOllama('stuck', 'idle')
    const count = join(o.dir, 'restarts')
    const restart = `${process.execPath} -e "require('fs').appendFileSync(process.argv[1], 'x')" ${count}`
    const args = ['--no-runner-kill', '--manager', 'command', '--restart-cmd', restart, '--max-restarts', '1', '--cooldown', '0s']
    await run(o, ...args) // baseline
    await run(o, ...args) // canary 1
    const acted = await run(o, ...args) // canary 2 → restart → verify fails
    expectContract(acted, 'OLLAMA_ALERT')
    expect(acted.lines[0]).toMatch(/restarted via command manager did not help/)
    await run(o, ...args)
    const spent = await run(o, ...args)
    expectContract(spent, 'OLLAMA_ALERT')
    expect(spent.lines[0]).toMatch(/restart budget spent: 1 in the last 60m \(max 1\)/)
    expect(readFileSync(count, 'utf8')).toBe('x')
    expect(sample(metrics(o), 'ollama_selfheal_restart_budget_exhausted')).toBe(1)
    expect(sample(metrics(o), 'ollama_selfheal_restarts_total')).toBe(1)
  })

  it('stops restarting and asks for a reboot when the GPU is wedged (nvidia-smi hanging)', async () => {
    const o = await fakeOllama('frozen', 'hang')
    const runner = o.runner()!
    await run(o)
    await run(o)
    const r = await run(o)
    expectContract(r, 'OLLAMA_ALERT')
    expect(r.lines[0]).toMatch(/GPU wedged \(nvidia-smi did not answer within 500ms\): a restart cannot fix it; reboot/)
    expect(alive(runner)).toBe(true)
  })

  it('works without nvidia-smi (CPU mode, twice the threshold)', async () => {
    const o = await fakeOllama('healthy', 'idle', {nvidia: false})
    const r = await run(o, '-v', '--threshold', '1h')
    expectContract(r, 'OLLAMA_OK')
  })

  it('says ALERT when the API is down, and writes ollama_up 0', async () => {
    const o = await fakeOllama('healthy')
    process.kill(-o.pid, 'SIGKILL')
    const r = await run(o)
    expectContract(r, 'OLLAMA_ALERT')
    expect(r.lines[0]).toMatch(/Ollama API down at http:\/\/127\.0\.0\.1:\d+: connection refused/)
    expect(sample(metrics(o), 'ollama_up')).toBe(0)
  })

  it('takes the seed positional form 180 15 3 60', async () => {
    const o = await fakeOllama('idle')
    const r = await medic(['ollama', 'frozen-check', '180', '15', '3', '60', '--state-dir', join(o.dir, 's'), '--json'], {env: o.env})
    expect(JSON.parse(r.stdout).token).toBe('OLLAMA_OK')
    const bad = await medic(['ollama', 'frozen-check', 'soon'], {env: o.env})
    expectContract(bad, 'OLLAMA_UNKNOWN')
  })

  it('prints a line only when the status changes in --watch mode', async () => {
    const o = await fakeOllama('idle')
    const c = spawn(process.execPath, [join(ROOT, 'bin/run.js'), ...o.args('--watch', '--interval', '100ms')], {env: {...process.env, ...o.env}, stdio: ['ignore', 'pipe', 'ignore']})
    j.child(c)
    let out = ''
    c.stdout!.on('data', (d) => (out += d))
    const {setTimeout: wait} = await import('node:timers/promises')
    for (let i = 0; i < 300 && !existsSync(join(o.dir, 'state')); i++) await wait(10)
    // Several passes happen; then the server goes down; then it comes back.
    for (let i = 0; i < 300 && !out.includes('OLLAMA_OK'); i++) await wait(10)
    process.kill(-o.pid, 'SIGSTOP')
    o.mode('idle')
    for (let i = 0; i < 500 && !out.includes('OLLAMA_ALERT'); i++) await wait(10)
    process.kill(-o.pid, 'SIGCONT')
    for (let i = 0; i < 500 && out.trim().split('\n').length < 3; i++) await wait(10)
    c.kill('SIGTERM')
    await new Promise((r) => c.once('exit', r))
    const lines = out.trim().split('\n')
    expect(lines.map((l) => l.split(':')[0]).slice(0, 3)).toEqual(['OLLAMA_OK', 'OLLAMA_ALERT', 'OLLAMA_OK'])
  })
})

describe('medic ollama metrics and rules', () => {
  it('exports a textfile that promtool and our linter accept, with a gpu label', async () => {
    const o = await fakeOllama('healthy', 'busy')
    const file = join(o.dir, 'ollama.prom')
    const r = await medic(['ollama', 'metrics', '--file', file, '--stdout'], {env: o.env})
    expectContract(r, 'OLLAMA_OK')
    const text = readFileSync(file, 'utf8')
    expect(r.stdout).toContain(text.split('\n')[0])
    expect(lintExposition(text)).toEqual([])
    expect(text).toMatch(/^ollama_gpu_utilization_percent\{gpu="0"\} 87$/m)
    expect(text).toMatch(/^ollama_models_loaded 2$/m)
    expect(text).toMatch(/^ollama_models_active 1$/m)
    const promtool = spawnSync('promtool', ['check', 'metrics'], {input: text, encoding: 'utf8'})
    if (promtool.error) console.log('skipped promtool check metrics: promtool not installed')
    else expect(promtool.status, promtool.stdout + promtool.stderr).toBe(0)
  })

  it('leaves out [N/A] samples instead of writing them', async () => {
    const o = await fakeOllama('healthy', 'na')
    const r = await medic(['ollama', 'metrics', '--stdout'], {env: o.env})
    expect(r.stdout).not.toMatch(/N\/A|NaN|null/)
    expect(r.stdout).not.toMatch(/ollama_gpu_temperature_celsius\{gpu="0"\}/)
    expect(r.stdout).toMatch(/ollama_gpu_temperature_celsius\{gpu="1"\} 35/)
  })

  it('prints rules that promtool accepts and that name only emitted metrics', async () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'bin/run.js'), 'ollama', 'rules', '--raw'], {encoding: 'utf8'})
    expect(r.status).toBe(0)
    const dir = j.tmp()
    writeFileSync(join(dir, 'rules.yml'), r.stdout)
    const promtool = spawnSync('promtool', ['check', 'rules', join(dir, 'rules.yml')], {encoding: 'utf8'})
    if (promtool.error) console.log('skipped promtool check rules: promtool not installed')
    else expect(promtool.status, promtool.stdout + promtool.stderr).toBe(0)
    const {monitorFamilies, exporterFamilies} = await import('../../src/core/ollama/metrics.js')
    const emitted = new Set([...monitorFamilies({up: true, frozenForS: 0, state: {} as never, budgetExhausted: false, now: 0}), ...exporterFamilies({up: true, installed: [], loaded: [], gpus: []})].map((f) => f.name))
    const used = [...r.stdout.matchAll(/\b(ollama_[a-z_]+)\b/g)].map((m) => m[1])
    expect(used.length).toBeGreaterThan(3)
    for (const name of used) expect(emitted.has(name), name).toBe(true)
  })
})

void ({} as MedicResult)
