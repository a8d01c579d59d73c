import {spawn} from 'node:child_process'
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {countingCmd, fakeOllama as fake, monitorMetrics as metrics, runCheck as run, sample} from '../helpers/ollama.js'
import {alive, BIN, expectContract, Janitor, medic, until} from '../helpers/procs.js'

// The seed's monitor contract (ollama_frozen_monitor.sh): positional = the loop, --test, --reset.

const j = new Janitor()
afterEach(() => j.cleanup())

describe('frozen-check 180 15 3 60: the seed positional form runs the monitor loop', () => {
  it('is still running after its first pass, printed one line, wrote its state; SIGTERM stops it cleanly', async () => {
    const o = await fake(j, 'idle')
    const state = join(o.dir, 'st')
    const c = spawn(process.execPath, [BIN, 'ollama', 'frozen-check', '180', '15', '3', '60', '--state-dir', state], {env: {...process.env, ...o.env}, stdio: ['ignore', 'pipe', 'pipe']})
    j.child(c)
    let out = ''
    let err = ''
    c.stdout!.on('data', (d) => (out += d))
    c.stderr!.on('data', (d) => (err += d))
    // Readiness, not a sleep: the first pass has printed its line and persisted its state.
    await until('the first pass', () => out.includes('\n') && existsSync(join(state, 'ollama')))
    expect(alive(c.pid!)).toBe(true)
    expect(c.exitCode).toBeNull()
    expect(out).toMatch(/^OLLAMA_OK: healthy idle: no model loaded\n$/)
    // A second pass is 15 s away; the loop is waiting, not done. SIGTERM ends it at once.
    c.kill('SIGTERM')
    const code = await new Promise((r) => c.once('exit', r))
    expect(code).toBe(0)
    expect(out.trim().split('\n')).toHaveLength(1) // one line per status change, nothing else on stdout
    expect(err).toMatch(/OLLAMA_OK: stopped after 1 passes/)
  })

  it('with --json, each status line is one JSON object (JSON lines), nothing else on stdout', async () => {
    const o = await fake(j, 'idle')
    const c = spawn(process.execPath, [BIN, 'ollama', 'frozen-check', '180', '100ms', '3', '60', '--json', '--state-dir', join(o.dir, 'st')], {env: {...process.env, ...o.env}, stdio: ['ignore', 'pipe', 'ignore']})
    j.child(c)
    let out = ''
    c.stdout!.on('data', (d) => (out += d))
    await until('the first line', () => out.includes('\n'))
    process.kill(-o.pid, 'SIGSTOP')
    await until('the second line', () => out.trim().split('\n').length >= 2)
    c.kill('SIGTERM')
    expect(await new Promise((r) => c.once('exit', r))).toBe(0)
    process.kill(-o.pid, 'SIGCONT')
    const lines = out.trim().split('\n').map((l) => JSON.parse(l))
    expect(lines.map((v) => [v.token, v.exitCode])).toEqual([['OLLAMA_OK', 0], ['OLLAMA_ALERT', 2]])
    // The seed's defaults: canary timeout 30 s, so the liveness probe waits 5 s.
    expect(lines[1].summary).toMatch(/Ollama API down at .*: no answer within 5s; for 0ms; acts after 3m \+ 3 failed probes/)
  })

  it('takes the four values as the flags they stand for, and refuses bad ones with OLLAMA_UNKNOWN', async () => {
    const o = await fake(j, 'idle')
    for (const bad of [['soon'], ['180', '15', 'x'], ['180', '15', '0'], ['180', '5ms'], ['180', '15', '3', '60', '7']]) {
      const r = await medic(['ollama', 'frozen-check', ...bad, '--state-dir', join(o.dir, 's')], {env: o.env})
      expectContract(r, 'OLLAMA_UNKNOWN')
      expect(r.code).toBe(3)
    }
    const twice = await medic(['ollama', 'frozen-check', '180', '--threshold', '60', '--state-dir', join(o.dir, 's')], {env: o.env})
    expect(twice.lines[0]).toMatch(/^OLLAMA_UNKNOWN: threshold given twice/)
    const mixed = await medic(['ollama', 'frozen-check', '180', '--test'], {env: o.env})
    expect(mixed.lines[0]).toMatch(/^OLLAMA_UNKNOWN: --test and the positional \(monitor loop\) form do not go together/)
  })

  it('medic install takes the seed forms for the loops they are: a service, not a timer', async () => {
    for (const [cmd, unit] of [[['ollama', 'frozen-check', '180', '15', '3', '60'], 'medic-ollama-frozen-check'], [['ollama', 'metrics', '--daemon', '15'], 'medic-ollama-metrics']] as const) {
      const r = await medic(['install', '--target', 'print', '--textfile-dir', '/var/lib/prometheus/node-exporter', '--', ...cmd])
      expectContract(r, 'INSTALL_OK')
      expect(r.stdout).toMatch(new RegExp(`^# /etc/systemd/system/${unit}\\.service$`, 'm'))
      expect(r.stdout).toMatch(/^Type=simple$/m)
      expect(r.stdout).not.toMatch(/\.timer$|Type=oneshot/m)
    }
  })

  it('--help prints help and exits (the seed\'s checklist ran --help, which started its endless monitor)', async () => {
    const r = await medic(['ollama', 'frozen-check', '--help'])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/medic ollama frozen-check \[THRESHOLD/)
    expect(r.stdout.replace(/\s+/g, ' ')).toMatch(/the positional form runs the monitor LOOP/)
  })
})

describe('frozen-check --test and --reset', () => {
  it('--test: one line, responsive and GPU: N%, exit 0', async () => {
    const o = await fake(j, 'healthy', 'busy')
    const r = await medic(['ollama', 'frozen-check', '--test', '--canary-timeout', '1s', '--state-dir', join(o.dir, 's')], {env: o.env})
    expectContract(r, 'OLLAMA_OK')
    expect(r.code).toBe(0)
    expect(r.lines).toHaveLength(1)
    expect(r.lines[0]).toMatch(/^OLLAMA_OK: Ollama responsive \(canary on llama3\.2:1b: HTTP 200 in \d+ms\); GPU: 87% \(max of 2\)$/)
    expect(existsSync(join(o.dir, 's', 'ollama'))).toBe(false) // a test changes nothing
  })

  it('--test: frozen (seed 004) and stopped are one line each, frozen, still exit 0 (the seed contract), in both exit-code modes', async () => {
    const o = await fake(j, 'frozen', 'idle')
    const r = await medic(['ollama', 'frozen-check', '--test', '--canary-timeout', '500ms'], {env: o.env})
    expectContract(r, 'OLLAMA_ALERT')
    expect(r.code).toBe(0)
    expect(r.lines[0]).toMatch(/^OLLAMA_ALERT: Ollama frozen: canary on llama3\.2:1b: no answer within 500ms; GPU: 0% \(max of 2\)$/)
    process.kill(-o.pid, 'SIGSTOP')
    const s = await medic(['ollama', 'frozen-check', '--test', '--canary-timeout', '500ms', '--exit-codes', 'binary', '--json'], {env: o.env})
    expect(s.code).toBe(0)
    const v = JSON.parse(s.stdout)
    expect(v).toMatchObject({token: 'OLLAMA_ALERT', exitCode: 0})
    expect(v.summary).toMatch(/^Ollama frozen: API not answering \(no answer within 1s\); GPU: 0%/)
    process.kill(-o.pid, 'SIGCONT')
  })

  it('--test: the API answers but /api/ps does not (no model to canary): UNKNOWN, never responsive, still exit 0', async () => {
    const o = await fake(j, 'loading', 'idle')
    const r = await medic(['ollama', 'frozen-check', '--test', '--ps-timeout', '500ms'], {env: o.env})
    expectContract(r, 'OLLAMA_UNKNOWN')
    expect(r.code).toBe(0)
    expect(r.lines[0]).toMatch(/^OLLAMA_UNKNOWN: Ollama answers, inference not checked: \/api\/ps no answer within 500ms; GPU: 0%/)
  })

  it('--test without nvidia-smi says so; bad input is still UNKNOWN exit 3', async () => {
    const o = await fake(j, 'idle', 'idle', {nvidia: false})
    const r = await medic(['ollama', 'frozen-check', '--test'], {env: o.env})
    expect(r.lines[0]).toBe('OLLAMA_OK: Ollama responsive (API up, nothing loaded); GPU: none (no nvidia-smi)')
    const bad = await medic(['ollama', 'frozen-check', '--test', '--canary-timeout', 'soon'], {env: o.env})
    expectContract(bad, 'OLLAMA_UNKNOWN')
    expect(bad.code).toBe(3)
  })

  it('--reset clears the spent budget and the suspicion; restarts_total stays a counter', async () => {
    const o = await fake(j, 'stuck', 'idle')
    const count = join(o.dir, 'restarts')
    const args = ['--no-runner-kill', '--manager', 'command', '--restart-cmd', countingCmd(count), '--max-restarts', '1', '--cooldown', '0s']
    await run(o, ...args) // baseline
    await run(o, ...args) // canary 1
    expectContract(await run(o, ...args), 'OLLAMA_ALERT') // canary 2 → restart → did not help
    await run(o, ...args)
    expect((await run(o, ...args)).lines[0]).toMatch(/restart budget spent/)
    const dry = await run(o, '--reset', '--dry-run')
    expect(dry.lines[0]).toMatch(/^OLLAMA_OK: dry run: would clear 1 restart\(s\) in the window, a stall suspected for \S+, 2 failure\(s\)/)
    const reset = await run(o, '--reset')
    expectContract(reset, 'OLLAMA_OK')
    expect(reset.lines[0]).toMatch(/^OLLAMA_OK: reset: cleared 1 restart\(s\) in the window, .*; 1 restarts in all \(a counter, kept\)/)
    // The freeze must be confirmed again from scratch; then medic may act once more.
    expectContract(await run(o, ...args), 'OLLAMA_UNKNOWN') // canary 1 of a new freeze
    const again = await run(o, ...args)
    expect(again.lines[0]).toMatch(/restarted via command manager; did not help/)
    expect(readFileSync(count, 'utf8')).toBe('xx')
    expect(sample(metrics(o), 'ollama_selfheal_restarts_total')).toBe(2)
  })

  it('--reset with no state yet says there is nothing to clear', async () => {
    const o = await fake(j, 'idle')
    const r = await run(o, '--reset')
    expect(r.lines[0]).toMatch(/^OLLAMA_OK: reset: no state for http:\/\/127\.0\.0\.1:\d+ yet; nothing to clear$/)
  })
})
