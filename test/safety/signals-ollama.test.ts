// Attacks on `ollama frozen-check`'s remedy (issue 12 × issue 9): what it signals must be
// the stopped Ollama it saw, checked by the signal gate at the moment of acting.
// systemctl and journalctl are stand-ins on PATH: journalctl runs when medic captures its
// diagnostics — after the pass looked, before it acts — so a test can change the world
// exactly in that window (resume the server, protect a runner, reuse a pid).
import {spawn, spawnSync} from 'node:child_process'
import {chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {FAKE_OLLAMA, fakeOllama as fake, monitorMetrics, ollamaExe, sample, type Fake} from '../helpers/ollama.js'
import {alive, BIN, expectContract, Janitor, medic, procState, ROOT, startService, until, type MedicResult} from '../helpers/procs.js'

const j = new Janitor()
afterEach(() => j.cleanup())

/** A systemd stand-in: every call is logged; `start` runs $ATTACK_START; journalctl runs $ATTACK_HOOK (a node script) first. */
function standIns(dir: string): {bin: string; calls: () => string[]} {
  const bin = join(dir, 'bin')
  mkdirSync(bin, {recursive: true})
  const log = join(dir, 'calls')
  const head = `#!${process.execPath}\nconst {appendFileSync} = require('node:fs'); const {spawnSync, spawn} = require('node:child_process')\nappendFileSync(${JSON.stringify(log)}, require('node:path').basename(process.argv[1]) + ' ' + process.argv.slice(2).join(' ') + '\\n')\n`
  writeFileSync(join(bin, 'systemctl'), `${head}if (process.argv.includes('start') && process.env.ATTACK_START) spawnSync('sh', ['-c', process.env.ATTACK_START], {stdio: 'ignore'})\n`)
  writeFileSync(join(bin, 'journalctl'), `${head}if (process.env.ATTACK_HOOK) { const r = spawnSync(process.execPath, [process.env.ATTACK_HOOK], {stdio: 'inherit'}); if (r.status !== 0) process.exit(99) }\nconsole.log('-- No entries --')\n`)
  for (const f of ['systemctl', 'journalctl']) chmodSync(join(bin, f), 0o755)
  return {bin, calls: () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').filter(Boolean) : [])}
}

const startTimeOf = (pid: number) => {
  const st = readFileSync(`/proc/${pid}/stat`, 'latin1')
  return st.slice(st.lastIndexOf(')') + 2).split(' ')[19]
}

/** The fake Ollama under a systemd stand-in, and a pass runner with an optional hook in the diagnostics window. */
async function underSystemd(mode = 'healthy') {
  const o = await fake(j, mode)
  const s = standIns(o.dir)
  const registry = join(o.dir, 'registry')
  const env = (hook?: string) => ({...o.env, PATH: `${s.bin}:${o.env.PATH}`, MEDIC_PROTECTED_DIR: registry, ATTACK_START: o.startCmd(), ...(hook ? {ATTACK_HOOK: hook} : {})})
  const pass = (hook?: string, ...extra: string[]): Promise<MedicResult> => medic(o.args('--manager', 'systemd', '--unit', 'ollama-attack', ...extra), {env: env(hook)})
  const hook = (body: string) => {
    const f = join(o.dir, `hook-${Math.random().toString(36).slice(2)}.cjs`)
    writeFileSync(f, body)
    return f
  }
  return {o, s, registry, pass, hook}
}

const stopAll = (o: Fake) => process.kill(-o.pid, 'SIGSTOP')

describe('ollama remedy: a server resumed between the look and the act', () => {
  it('SIGCONT while medic writes its diagnostics: nothing signalled, nothing started, UNKNOWN, the budget given back', async () => {
    const w = await underSystemd()
    const runner = w.o.runner()!
    expectContract(await w.pass(), 'OLLAMA_OK')
    stopAll(w.o)
    expect((await w.pass()).lines[0]).toMatch(/confirming \(1\/2 failed probes\)/)
    const r = await w.pass(w.hook(`process.kill(-${w.o.pid}, 'SIGCONT')`))
    expectContract(r, 'OLLAMA_UNKNOWN')
    expect(r.lines[0]).toMatch(new RegExp(`server pid ${w.o.pid} resumed \\(state [RS]\\) before medic acted; not signalled`))
    expect(alive(w.o.pid)).toBe(true)
    expect(alive(runner)).toBe(true)
    expect(w.s.calls().filter((c) => c.startsWith('systemctl'))).toEqual([])
    expect(w.o.launches()).toBe(0)
    expect(sample(monitorMetrics(w.o), 'ollama_selfheal_restarts_total')).toBe(0)
    // And the next pass sees it healthy.
    expectContract(await w.pass(), 'OLLAMA_OK')
  })
})

describe('ollama remedy: a runner protected between the look and the act', () => {
  it('registered by run-dev-safe while medic writes its diagnostics: neither the server nor the runner is signalled; ALERT', async () => {
    const w = await underSystemd()
    const runner = w.o.runner()!
    expectContract(await w.pass(), 'OLLAMA_OK')
    stopAll(w.o)
    await w.pass()
    const entry = {version: 1, pid: runner, startTime: startTimeOf(runner), name: 'bench', cmdline: [], descendants: true, registeredAt: new Date().toISOString()}
    const r = await w.pass(w.hook(`const fs = require('node:fs'); fs.mkdirSync(${JSON.stringify(w.registry)}, {recursive: true}); fs.writeFileSync(${JSON.stringify(join(w.registry, `${runner}-${entry.startTime}.json`))}, ${JSON.stringify(JSON.stringify(entry))})`))
    expectContract(r, 'OLLAMA_ALERT')
    expect(r.lines[0]).toMatch(new RegExp(`not signalled: runner pid ${runner}: protected by run-dev-safe \\(job "bench"\\)`))
    expect(procState(w.o.pid)).toBe('T')
    expect(procState(runner)).toBe('T')
    expect(w.o.launches()).toBe(0)
  })

  it('a runner protected from the start: the stopped server is not signalled either (its runner would be orphaned, still stopped)', async () => {
    const w = await underSystemd()
    const runner = w.o.runner()!
    mkdirSync(w.registry, {recursive: true})
    const st = startTimeOf(runner)
    writeFileSync(join(w.registry, `${runner}-${st}.json`), JSON.stringify({version: 1, pid: runner, startTime: st, name: 'bench', cmdline: [], descendants: true, registeredAt: new Date().toISOString()}))
    expectContract(await w.pass(), 'OLLAMA_OK')
    stopAll(w.o)
    await w.pass()
    const r = await w.pass()
    expectContract(r, 'OLLAMA_ALERT')
    expect(procState(w.o.pid)).toBe('T')
    expect(procState(runner)).toBe('T')
    expect(w.o.launches()).toBe(0)
  })
})

describe('ollama remedy: a stranger holding the port', () => {
  it('accepts and never answers (not Ollama), systemd restart: stop and start only; the stranger is never signalled; ALERT', async () => {
    const s = await startService(j, ['--hang'])
    const dir = j.tmp()
    const sd = standIns(dir)
    const env = {OLLAMA_HOST: `http://127.0.0.1:${s.port}`, PATH: `${sd.bin}:${process.env.PATH}`, MEDIC_PROTECTED_DIR: join(dir, 'registry')}
    const args = ['ollama', 'frozen-check', '--state-dir', join(dir, 'st'), '--threshold', '0s', '--confirmations', '2', '--canary-timeout', '1s', '--cooldown', '100ms', '--grace', '500ms', '--manager', 'systemd', '--unit', 'ollama-attack']
    expect((await medic(args, {env})).lines[0]).toMatch(/first pass/)
    expect((await medic(args, {env})).lines[0]).toMatch(/confirming \(1\/2 failed probes\)/)
    const r = await medic(args, {env})
    expectContract(r, 'OLLAMA_ALERT')
    expect(r.lines[0]).toMatch(/restarted via systemd unit ollama-attack; did not help: API still down/)
    expect(sd.calls().filter((c) => /^systemctl (stop|start)/.test(c))).toEqual(['systemctl stop ollama-attack', 'systemctl start ollama-attack'])
    expect(alive(s.pid)).toBe(true)
    expect(procState(s.pid)).not.toBe('T')
  })

  it('stopped (not Ollama), systemd: ALERT, not signalled, no restart', async () => {
    const s = await startService(j)
    const dir = j.tmp()
    const sd = standIns(dir)
    const env = {OLLAMA_HOST: `http://127.0.0.1:${s.port}`, PATH: `${sd.bin}:${process.env.PATH}`, MEDIC_PROTECTED_DIR: join(dir, 'registry')}
    const args = ['ollama', 'frozen-check', '--state-dir', join(dir, 'st'), '--threshold', '0s', '--confirmations', '1', '--canary-timeout', '1s', '--manager', 'systemd', '--unit', 'ollama-attack']
    await medic(args, {env})
    process.kill(s.pid, 'SIGSTOP')
    await medic(args, {env})
    const r = await medic(args, {env})
    expectContract(r, 'OLLAMA_ALERT')
    expect(r.lines[0]).toMatch(/is not the Ollama server; not signalled/)
    expect(procState(s.pid)).toBe('T')
    expect(sd.calls().filter((c) => /^systemctl (stop|start|restart)/.test(c))).toEqual([])
  })
})

/**
 * `ollama_proxy.py`: named like Ollama, not Ollama (a node script under a .py name, so its
 * argv reads `node …/ollama_proxy.py`). It answers like an idle Ollama, or never (`hang`),
 * on an ephemeral port (`listen`) or none; it writes its ready file once its handlers are in.
 */
async function proxy(dir: string, name: string, how: {listen: boolean; hang?: boolean}): Promise<{pid: number; port: number | null}> {
  const script = join(dir, 'ollama_proxy.py')
  writeFileSync(script, `const fs = require('node:fs'); const [ready, listen, hang] = process.argv.slice(2)
const done = (port) => fs.writeFileSync(ready + '.tmp', JSON.stringify({pid: process.pid, port})) || fs.renameSync(ready + '.tmp', ready)
if (listen !== 'listen') { done(null); setInterval(() => {}, 1 << 30) } else {
  const srv = require('node:http').createServer((req, res) => { if (hang !== 'hang') res.end('{"version":"0.0.0","models":[]}') })
  srv.listen(0, '127.0.0.1', () => done(srv.address().port)) }
`)
  const ready = join(dir, `${name}.ready`)
  const c = spawn(process.execPath, [script, ready, how.listen ? 'listen' : 'no', how.hang ? 'hang' : 'answer'], {stdio: 'ignore', detached: true})
  j.child(c)
  const r = await until(`${name} ready`, () => (existsSync(ready) ? (JSON.parse(readFileSync(ready, 'utf8')) as {pid: number; port: number | null}) : null))
  return r
}

describe('ollama remedy: acts on the Ollama server by identity, never on a name', () => {
  it('a stopped `ollama_proxy.py` holding the port, and a stopped one beside it holding none: neither signalled; ALERT; no restart', async () => {
    const dir = j.tmp()
    const sd = standIns(dir)
    const onPort = await proxy(dir, 'on-port', {listen: true})
    const bystander = await proxy(dir, 'bystander', {listen: false})
    const env = {OLLAMA_HOST: `http://127.0.0.1:${onPort.port}`, PATH: `${sd.bin}:${process.env.PATH}`, MEDIC_PROTECTED_DIR: join(dir, 'registry')}
    const args = ['ollama', 'frozen-check', '--state-dir', join(dir, 'st'), '--threshold', '0s', '--confirmations', '1', '--canary-timeout', '1s', '--cooldown', '100ms', '--grace', '500ms', '--manager', 'systemd', '--unit', 'ollama-attack']
    expectContract(await medic(args, {env}), 'OLLAMA_OK')
    process.kill(onPort.pid, 'SIGSTOP')
    process.kill(bystander.pid, 'SIGSTOP')
    await medic(args, {env})
    const r = await medic(args, {env})
    expectContract(r, 'OLLAMA_ALERT')
    expect(r.lines[0]).toMatch(new RegExp(`pid ${onPort.pid} \\(node\\) on the port is stopped and is not the Ollama server; not signalled`))
    expect(procState(onPort.pid)).toBe('T')
    expect(procState(bystander.pid)).toBe('T')
    expect(sd.calls().filter((c) => /^systemctl (stop|start|restart)/.test(c))).toEqual([])
  })

  it('a hung `ollama_proxy.py` on the port, systemd restart: stop and start only; the port is not freed by killing it', async () => {
    const dir = j.tmp()
    const sd = standIns(dir)
    const onPort = await proxy(dir, 'on-port', {listen: true, hang: true})
    const env = {OLLAMA_HOST: `http://127.0.0.1:${onPort.port}`, PATH: `${sd.bin}:${process.env.PATH}`, MEDIC_PROTECTED_DIR: join(dir, 'registry')}
    const args = ['ollama', 'frozen-check', '--state-dir', join(dir, 'st'), '--threshold', '0s', '--confirmations', '1', '--canary-timeout', '1s', '--cooldown', '100ms', '--grace', '500ms', '--manager', 'systemd', '--unit', 'ollama-attack']
    await medic(args, {env})
    const r = await medic(args, {env})
    expectContract(r, 'OLLAMA_ALERT')
    expect(r.lines[0]).toMatch(/restarted via systemd unit ollama-attack; did not help/)
    expect(sd.calls().filter((c) => /^systemctl (stop|start)/.test(c))).toEqual(['systemctl stop ollama-attack', 'systemctl start ollama-attack'])
    expect(alive(onPort.pid)).toBe(true)
  })
})

describe('ollama remedy: a hung Ollama (accepts, never answers) under systemd', () => {
  it('restart: stop, the orphaned server freed by identity, start, RECOVERED', async () => {
    const w = await underSystemd()
    expectContract(await w.pass(), 'OLLAMA_OK')
    w.o.mode('hung')
    await w.pass()
    w.o.mode('healthy')
    const r = await w.pass(undefined, '--json')
    const v = JSON.parse(r.stdout)
    expect(v.token, r.stdout).toBe('OLLAMA_RECOVERED')
    expect(alive(w.o.pid)).toBe(false)
    expect(w.o.launches()).toBe(1)
  })
})

describe('ollama remedy: the stopped server pid reused by the kernel between the look and the act', () => {
  it('the newcomer (bash and its child) is never signalled; the restart goes through the manager', async () => {
    if (process.getuid?.() !== 0) return void console.log('skipped: forcing pid reuse needs root (a private pid namespace and ns_last_pid)')
    if (spawnSync('unshare', ['--help'], {stdio: 'ignore'}).error) return void console.log('skipped: unshare(1) is not installed')
    const dir = j.tmp()
    const sd = standIns(dir)
    const args = ['ollama', 'frozen-check', '--state-dir', join(dir, 'st'), '--threshold', '0s', '--confirmations', '2', '--canary-timeout', '1s', '--cooldown', '100ms', '--grace', '500ms', '--manager', 'systemd', '--unit', 'ollama-attack']
    const script = [process.execPath, join(ROOT, 'test/fixtures/proc/ollama-pid-reuse.mjs'), dir, BIN, FAKE_OLLAMA, ollamaExe(), '--', ...args].map((a) => `'${a}'`).join(' ')
    const ns = spawn('unshare', ['--pid', '--fork', '--mount-proc', '--', 'bash', '-c', `${script}; exit $?`], {stdio: ['ignore', 'pipe', 'inherit'], detached: true, env: {...process.env, PATH: `${sd.bin}:${join(ROOT, 'test/fixtures/bin')}:${process.env.PATH}`, MEDIC_PROTECTED_DIR: join(dir, 'registry')}})
    j.child(ns)
    let out = ''
    ns.stdout!.on('data', (d) => (out += d))
    await new Promise((r) => ns.once('close', r))
    const res = JSON.parse(out)
    expect(res.error).toBeUndefined()
    expect(res.strangerPid).toBe(res.sPid)
    expect(res.strangerAlive).toBe(true)
    expect(res.grandchildAlive).toBe(true)
    expect(res.strangerState).not.toBe('T')
    expect(res.medic.stdout, res.medic.stdout).toMatch(/restarted \(the stopped server was gone\) via systemd unit ollama-attack/)
    expect(sd.calls().filter((c) => /^systemctl (stop|start)/.test(c))).toEqual(['systemctl stop ollama-attack', 'systemctl start ollama-attack'])
  }, 60_000)
})
