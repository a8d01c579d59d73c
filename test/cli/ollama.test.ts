import {spawn} from 'node:child_process'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {lintExposition} from '../../src/core/prom.js'
import {countingCmd, expectBudgetHeld, fakeOllama as fake, monitorMetrics as metrics, runCheck as run, sample} from '../helpers/ollama.js'
import {alive, expectContract, Janitor, medic, ROOT, until} from '../helpers/procs.js'

const j = new Janitor()
afterEach(() => j.cleanup())
const fakeOllama = (mode: string, gpuMode = 'idle', opts: {nvidia?: boolean} = {}) => fake(j, mode, gpuMode, opts)

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

  it('asks nvidia-smi only when a stall is possible (work pending or a runner spinning)', async () => {
    const o = await fakeOllama('healthy', 'idle')
    const calls = join(o.dir, 'nvidia-calls')
    const count = () => {
      try {
        return readFileSync(calls, 'utf8').trim().split('\n').filter(Boolean).length
      } catch {
        return 0
      }
    }
    const env = {...o.env, FAKE_NVIDIA_CALLS: calls}
    for (let i = 0; i < 2; i++) expectContract(await medic(o.args(), {env}), 'OLLAMA_OK')
    expect(count()).toBe(0) // a loaded model, nothing pending, runner idle: healthy whatever the GPU says
    o.mode('busy') // a request pending: the GPU decides between a long generation and a stall
    o.gpu('busy')
    const r = await medic(o.args(), {env})
    expect(r.lines[0]).toContain('GPU 0 at 87%')
    expect(count()).toBe(2) // one reading: GPUs and compute apps, side by side
  })

  it('calls a blocked /api/ps busy or loading, not frozen — and not OK either: it could not see (UNKNOWN, no canary)', async () => {
    const o = await fakeOllama('loading')
    for (let i = 0; i < 3; i++) expectContract(await run(o), 'OLLAMA_UNKNOWN')
    expect((await run(o)).lines[0]).toMatch(/^OLLAMA_UNKNOWN: inconclusive: \/api\/ps timed out: busy or loading/)
    expect(o.canaries()).toBe(0)
  })

  it('catches the seed-004 freeze (tags fine, generate hangs, GPU idle) and recovers it', async () => {
    const o = await fakeOllama('frozen', 'idle')
    const runner = o.runner()!
    const first = await run(o)
    expectContract(first, 'OLLAMA_UNKNOWN') // the first pass after install never acts, and cannot tell
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

  it('never says OK while a stall is suspected and its canary has not answered (pending until the threshold)', async () => {
    const o = await fakeOllama('frozen', 'idle')
    const args = ['--threshold', '1h'] // the canary is due only after an hour
    const first = await run(o, ...args)
    expectContract(first, 'OLLAMA_UNKNOWN') // the first pass never acts, and cannot tell
    expect(first.lines[0]).toMatch(/^OLLAMA_UNKNOWN: first pass never acts; stall suspected for 0ms, canary pending \(due after 1h\): a request pending/)
    for (let i = 0; i < 2; i++) {
      const r = await run(o, ...args)
      expectContract(r, 'OLLAMA_UNKNOWN')
      expect(r.lines[0]).toMatch(/^OLLAMA_UNKNOWN: stall suspected for \S+, canary pending \(due after 1h\): a request pending/)
    }
    expect(o.canaries()).toBe(0)
    o.mode('healthy') // the request finished: nothing pending, the suspicion clears
    expectContract(await run(o, ...args), 'OLLAMA_OK')
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
    const args = ['--no-runner-kill', '--manager', 'command', '--restart-cmd', countingCmd(count), '--max-restarts', '1', '--cooldown', '0s']
    await run(o, ...args) // baseline
    await run(o, ...args) // canary 1
    const acted = await run(o, ...args) // canary 2 → restart → verify fails
    expectContract(acted, 'OLLAMA_ALERT')
    expect(acted.lines[0]).toMatch(/restarted via command manager; did not help/)
    await expectBudgetHeld(o, args, count)
  })

  it('stops restarting and asks for a reboot when the GPU is wedged (nvidia-smi hanging)', async () => {
    const o = await fakeOllama('frozen', 'hang')
    const runner = o.runner()!
    await run(o, '--nvidia-timeout', '500ms')
    await run(o, '--nvidia-timeout', '500ms')
    const r = await run(o, '--nvidia-timeout', '500ms')
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

  it('prints a line only when the status changes in --watch mode, and nothing else', async () => {
    const o = await fakeOllama('idle')
    // --threshold 1h: the down API is reported, never acted on, in this test.
    const c = spawn(process.execPath, [join(ROOT, 'bin/run.js'), ...o.args('--watch', '--interval', '100ms', '--threshold', '1h')], {env: {...process.env, ...o.env}, stdio: ['ignore', 'pipe', 'ignore']})
    j.child(c)
    let out = ''
    c.stdout!.on('data', (d) => (out += d))
    await until('the first OK line', () => out.includes('OLLAMA_OK'))
    process.kill(-o.pid, 'SIGSTOP')
    await until('an ALERT line', () => out.includes('OLLAMA_ALERT'))
    process.kill(-o.pid, 'SIGCONT')
    await until('a third line', () => out.trim().split('\n').length >= 3)
    c.kill('SIGTERM')
    const code = await new Promise((r) => c.once('exit', r))
    expect(code).toBe(0)
    const lines = out.trim().split('\n')
    expect(lines.map((l) => l.split(':')[0])).toEqual(['OLLAMA_OK', 'OLLAMA_ALERT', 'OLLAMA_OK'])
    expect(lines[1]).toMatch(/Ollama API down at .*no answer within 1s; for \S+; acts after 1h \+ 2 failed probes$/)
  })
})

describe('frozen-check on a stall under a listener that is not the Ollama server by identity', () => {
  it('never signals its runner-looking child (a proxy on the port, run as node, not ollama serve): ALERT naming the listener', async () => {
    // The same frozen fake, but run as plain `node` (not an executable named ollama): by
    // identity (core/ollama/api.ts isOllamaServer) it is not the Ollama server — a proxy, a
    // bridge. Its child merely has runner-like argv (`runner --model … --port …`).
    const o = await fake(j, 'frozen', 'idle', {exe: process.execPath})
    const child = o.runner()!
    const rs: string[] = []
    for (let i = 0; i < 3; i++) rs.push((await run(o, '-v')).lines[0])
    expect(rs.join('\n')).not.toMatch(/killed stuck runner/)
    expect(rs[2]).toMatch(/^OLLAMA_ALERT: .*pid \d+ \(node\) on the port is not the Ollama server by identity/)
    expect(alive(child)).toBe(true)
  })
})
