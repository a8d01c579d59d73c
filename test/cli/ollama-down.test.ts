import {spawn} from 'node:child_process'
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {connect} from 'node:net'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {lintExposition} from '../../src/core/prom.js'
import {countingCmd, expectBudgetHeld, fakeOllama as fake, monitorMetrics as metrics, procState, runCheck as run, sample, type Fake} from '../helpers/ollama.js'
import {alive, expectContract, Janitor, medic, ROOT, startService, until} from '../helpers/procs.js'

// The seed's drill, `pkill -STOP ollama`: the server (and its runners) stopped, the port
// still accepting connections that nobody answers. A freeze too (issue 12).

const j = new Janitor()
afterEach(() => j.cleanup())
const fakeOllama = (mode: string, gpuMode = 'idle') => fake(j, mode, gpuMode)
const viaLaunch = (o: Fake) => ['--manager', 'command', '--start-cmd', o.startCmd()]
const stopAll = (o: Fake) => process.kill(-o.pid, 'SIGSTOP')

describe('frozen-check: a stopped or wedged API is a freeze too', () => {
  it('SIGSTOP → one-shot passes: confirmed, SIGTERM + SIGCONT to the stopped server and its runner, started, RECOVERED, counter +1', async () => {
    const o = await fakeOllama('healthy')
    const runner = o.runner()!
    // A client of the port, stopped too: never a target.
    const client = spawn(process.execPath, ['-e', `require('net').connect(${o.port}, '127.0.0.1', () => { require('fs').writeFileSync(process.argv[1], 'x'); setInterval(() => {}, 1e9) })`, join(o.dir, 'client.ready')], {stdio: 'ignore', detached: true})
    j.child(client)
    await until('the client connected', () => {
      try {
        return readFileSync(join(o.dir, 'client.ready'), 'utf8') === 'x'
      } catch {
        return false
      }
    })
    expectContract(await run(o, ...viaLaunch(o)), 'OLLAMA_OK') // baseline
    stopAll(o)
    process.kill(client.pid!, 'SIGSTOP')
    const first = await run(o, ...viaLaunch(o)) // threshold 0: the first failed probe is confirmation 1
    expectContract(first, 'OLLAMA_ALERT')
    expect(first.lines[0]).toMatch(/^OLLAMA_ALERT: Ollama API down at http:\/\/127\.0\.0\.1:\d+: no answer within 1s; for 0ms; confirming \(1\/2 failed probes\)$/)
    expect(procState(o.pid)).toBe('T')
    const acted = await run(o, ...viaLaunch(o), '-v')
    expectContract(acted, 'OLLAMA_RECOVERED')
    expect(acted.code).toBe(1)
    expect(acted.lines[0]).toMatch(new RegExp(`^OLLAMA_RECOVERED: API down for .*; killed stopped server pid ${o.pid}; started via command manager; verified \\(API up; canary on llama3`))
    expect(acted.stdout).not.toContain('_ALERT')
    expect(alive(o.pid)).toBe(false)
    expect(alive(runner)).toBe(false)
    expect(procState(client.pid!)).toBe('T') // the client was never signalled
    expect(o.launches()).toBe(1)
    expect(o.relaunched()).not.toBe(o.pid)
    const m = metrics(o)
    expect(lintExposition(m)).toEqual([])
    expect(sample(m, 'ollama_selfheal_restarts_total')).toBe(1)
    expect(sample(m, 'ollama_last_restart_timestamp')).toBeGreaterThan(1_700_000_000)
    expect(sample(m, 'ollama_last_restart_timestamp_seconds')).toBe(sample(m, 'ollama_last_restart_timestamp'))
    expectContract(await run(o, ...viaLaunch(o)), 'OLLAMA_OK')
    expect(sample(metrics(o), 'ollama_selfheal_restarts_total')).toBe(1)
  })

  it('SIGSTOP → --watch: OK, ALERT, RECOVERED, OK, one line each, and the counter moves once', async () => {
    const o = await fakeOllama('healthy')
    const c = spawn(process.execPath, [join(ROOT, 'bin/run.js'), ...o.args('--watch', '--interval', '100ms', ...viaLaunch(o))], {env: {...process.env, ...o.env}, stdio: ['ignore', 'pipe', 'ignore']})
    j.child(c)
    let out = ''
    c.stdout!.on('data', (d) => (out += d))
    await until('the first OK line', () => out.includes('OLLAMA_OK'))
    stopAll(o)
    await until('RECOVERED and OK again', () => /OLLAMA_RECOVERED[^]*\nOLLAMA_OK/.test(out), 30_000)
    c.kill('SIGTERM')
    expect(await new Promise((r) => c.once('exit', r))).toBe(0)
    expect(out.trim().split('\n').map((l) => l.split(':')[0])).toEqual(['OLLAMA_OK', 'OLLAMA_ALERT', 'OLLAMA_RECOVERED', 'OLLAMA_OK'])
    expect(alive(o.pid)).toBe(false)
    expect(o.launches()).toBe(1)
    expect(sample(metrics(o), 'ollama_selfheal_restarts_total')).toBe(1)
  })

  it('a start that does not bring it back ends ALERT; then the budget holds', async () => {
    const o = await fakeOllama('healthy')
    const count = join(o.dir, 'starts')
    const args = ['--manager', 'command', '--start-cmd', countingCmd(count), '--max-restarts', '1', '--cooldown', '0s']
    await run(o, ...args)
    stopAll(o)
    await run(o, ...args) // confirmation 1/2
    const acted = await run(o, ...args, '--json') // 2/2 → terminate + start → verify fails
    expect(acted.code).toBe(2)
    expect(JSON.parse(acted.stdout).summary).toMatch(new RegExp(`killed stopped server pid ${o.pid}; started via command manager; did not help: API still down \\(connection refused\\)`))
    expect(alive(o.pid)).toBe(false)
    await expectBudgetHeld(o, args, count) // refused, nothing running: a new freeze, confirmed, refused by the budget
  })

  it('refused with no Ollama process at all is a start through the manager, within the budget', async () => {
    const o = await fakeOllama('healthy')
    const other = await fakeOllama('healthy') // an Ollama server for another port: not this one starting up
    expect(alive(other.pid)).toBe(true)
    await run(o, ...viaLaunch(o))
    process.kill(-o.pid, 'SIGKILL')
    await until('the server gone', () => !alive(o.pid))
    expectContract(await run(o, ...viaLaunch(o)), 'OLLAMA_ALERT')
    const r = await run(o, ...viaLaunch(o), '--json')
    const v = JSON.parse(r.stdout)
    expect(v.token).toBe('OLLAMA_RECOVERED')
    expect(v.remedy).toBe('start')
    expect(v.summary).toMatch(/started via command manager; verified/)
    expect(v.actions.map((a: {action: string}) => a.action)).toEqual(['start', 'verify'])
    expect(o.launches()).toBe(1)
  })

  it('a hung server (accepts, never answers, not stopped) gets the manager restart (here the command manager stops its --pid-file process, then starts)', async () => {
    const o = await fakeOllama('healthy')
    const pidFile = join(o.dir, 'first.pid')
    writeFileSync(pidFile, `${o.pid}\n`)
    // The command manager stops what its --pid-file names (its own mechanism), then starts.
    const args = ['--manager', 'command', '--pid-file', pidFile, '--start-cmd', o.startCmd()]
    await run(o, ...args)
    o.mode('hung')
    const first = await run(o, ...args)
    expect(first.lines[0]).toMatch(/Ollama API down at .*: no answer within 1s; for 0ms; confirming \(1\/2 failed probes\)/)
    o.mode('healthy') // what the new server will read; the old one is still wedged: its requests never end
    const r = await run(o, ...args, '--json')
    const v = JSON.parse(r.stdout)
    expect(v.token, r.stdout).toBe('OLLAMA_RECOVERED')
    expect(v.remedy).toBe('restart')
    expect(v.checks.find((c: {name: string}) => c.name === 'decision').detail).toMatch(/restart: API wedged \(accepts, never answers\), server not stopped: restart/)
    expect(alive(o.pid)).toBe(false)
    expect(o.launches()).toBe(1)
  })

  it('--dry-run says what it would do and signals nothing', async () => {
    const o = await fakeOllama('healthy')
    await run(o, ...viaLaunch(o), '--dry-run')
    stopAll(o)
    await run(o, ...viaLaunch(o), '--dry-run')
    const r = await run(o, ...viaLaunch(o), '--dry-run')
    expectContract(r, 'OLLAMA_ALERT')
    expect(r.lines[0]).toMatch(new RegExp(`dry run: would SIGTERM \\+ SIGCONT the stopped server ${o.pid}, then start via command manager`))
    expect(procState(o.pid)).toBe('T')
    expect(o.launches()).toBe(0)
  })
})

describe('frozen-check never signals what is not the stopped Ollama', () => {
  it('a stopped server protected by run-dev-safe: ALERT, not signalled', async () => {
    const o = await fakeOllama('healthy')
    const st = readFileSync(`/proc/${o.pid}/stat`, 'latin1')
    const startTime = st.slice(st.lastIndexOf(')') + 2).split(' ')[19]
    const reg = join(o.dir, 'state', 'protected')
    mkdirSync(reg, {recursive: true})
    writeFileSync(join(reg, `${o.pid}-${startTime}.json`), JSON.stringify({version: 1, pid: o.pid, startTime, name: 'my-ollama', cmdline: [], descendants: true, registeredAt: new Date().toISOString()}))
    await run(o, ...viaLaunch(o))
    stopAll(o)
    await run(o, ...viaLaunch(o))
    const r = await run(o, ...viaLaunch(o), '--json')
    expect(r.code).toBe(2)
    expect(JSON.parse(r.stdout).summary).toMatch(/stopped but medic never signals it \(protected by run-dev-safe \(job "my-ollama"\)\)/)
    expect(procState(o.pid)).toBe('T')
    expect(o.launches()).toBe(0)
  })

  it('--protect covers it too', async () => {
    const o = await fakeOllama('healthy')
    const args = [...viaLaunch(o), '--protect', 'fake-ollama']
    await run(o, ...args)
    stopAll(o)
    await run(o, ...args)
    const r = await run(o, ...args)
    expectContract(r, 'OLLAMA_ALERT')
    expect(r.lines[0]).toMatch(/never signals it \(matches --protect fake-ollama\)/)
    expect(procState(o.pid)).toBe('T')
  })

  it('a stopped process on the port that is not the Ollama server: ALERT, not signalled', async () => {
    const s = await startService(j)
    const env = {OLLAMA_HOST: `http://127.0.0.1:${s.port}`}
    const dir = j.tmp()
    const args = ['ollama', 'frozen-check', '--state-dir', dir, '--threshold', '0s', '--confirmations', '1', '--canary-timeout', '1s', '--manager', 'command', '--start-cmd', 'true']
    await medic(args, {env})
    process.kill(s.pid, 'SIGSTOP')
    await medic(args, {env})
    const r = await medic(args, {env})
    expectContract(r, 'OLLAMA_ALERT')
    expect(r.lines[0]).toMatch(new RegExp(`pid ${s.pid} \\(node\\) on the port is stopped and is not the Ollama server; not signalled`))
    expect(procState(s.pid)).toBe('T')
  })

})
