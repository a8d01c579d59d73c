import {spawn, type ChildProcess} from 'node:child_process'
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {alive, BIN, expectContract, freePort, Janitor, medic, ROOT, SERVICE, startService, until, waitReady} from '../helpers/procs.js'

const j = new Janitor()
afterEach(() => j.cleanup())

interface Sup {
  child: ChildProcess
  dir: string
  out: () => string
  err: () => string
  state: () => any
  exited: Promise<number | null>
}

function superviseRun(args: string[], cmd: string[], name = 'gw'): Sup {
  const dir = j.tmp()
  let out = ''
  let err = ''
  const child = spawn(process.execPath, [BIN, 'supervise', '--name', name, '--state-dir', dir, ...args, '--', ...cmd], {stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: {...process.env, NO_COLOR: '1'}})
  j.child(child)
  child.stdout!.on('data', (d) => (out += d))
  child.stderr!.on('data', (d) => (err += d))
  const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)))
  // Its child leads its own session: if a test fails before the supervisor stops it, kill it by pid.
  j.later(() => [JSON.parse(readFileSync(join(dir, 'supervise', `${name}.json`), 'utf8')).child?.pid ?? 0])
  const state = () => {
    try {
      return JSON.parse(readFileSync(join(dir, 'supervise', `${name}.json`), 'utf8'))
    } catch {
      return null
    }
  }
  return {child, dir, out: () => out, err: () => err, state, exited}
}


const running = (s: Sup) => () => {
  const st = s.state()
  return st?.state === 'running' && st.child && alive(st.child.pid) ? st : null
}


describe('medic supervise', () => {
  it('restarts a SIGKILLed service at once after a stable run, and reports through status', async () => {
    const port = await freePort()
    const s = superviseRun(['--port', String(port), '--min-uptime', '200ms'], [process.execPath, SERVICE, '--port', String(port)])
    const first = await until('first child', running(s))
    await until('a stable run', () => s.state()?.stable || null)
    process.kill(first.child.pid, 'SIGKILL')
    const second = await until('a new child', () => {
      const st = running(s)()
      return st && st.child.pid !== first.child.pid ? st : null
    })
    expect(second.restarts).toHaveLength(1)
    const status = await medic(['supervise', 'status', '--name', 'gw', '--state-dir', s.dir])
    expectContract(status, 'SUPERVISOR_OK')
    expect(status.lines[0]).toContain(`child pid ${second.child.pid} running; 1 restarts`)
    s.child.kill('SIGTERM')
    expect(await s.exited).toBe(0)
  })

  it('holds the restart budget in a crash loop: one SUPERVISOR_ALERT line, then slow retries', async () => {
    const s = superviseRun(['--max-restarts', '3', '--max-backoff', '100ms', '--min-uptime', '10s'], [process.execPath, '-e', 'process.exit(1)'])
    await until('7 starts', () => (s.state()?.starts ?? 0) >= 7 || null)
    const st = s.state()
    expect(st.budget.exhausted).toBe(true)
    s.child.kill('SIGTERM')
    expect(await s.exited).toBe(0)
    const lines = s.out().trim().split('\n')
    expect(lines.filter((l) => l.includes('_ALERT'))).toEqual(['SUPERVISOR_ALERT: gw: restart budget spent: 3 restarts in the last 3600s (max 3); retrying every 100ms'])
    expect(lines.at(-1)).toMatch(/^SUPERVISOR_OK: gw supervisor stopped/)
    const status = await medic(['supervise', 'status', '--name', 'gw', '--state-dir', s.dir])
    expectContract(status, 'SUPERVISOR_UNKNOWN')
  })

  it('stops the whole family on SIGTERM — grandchildren too — removes its pid file and exits 0', async () => {
    const ready = join(j.tmp(), 'family.json')
    const s = superviseRun(['--grace', '300ms'], [process.execPath, join(ROOT, 'test/fixtures/proc/family.mjs'), ready])
    const fam = (await waitReady(ready, 'family')) as unknown as {pid: number; children: number[]}
    for (const p of fam.children) j.track(p)
    expect([fam.pid, ...fam.children].every(alive)).toBe(true)
    expect(existsSync(join(s.dir, 'supervise', 'gw.pid'))).toBe(true)
    s.child.kill('SIGTERM')
    expect(await s.exited).toBe(0)
    expect([fam.pid, ...fam.children].filter(alive)).toEqual([])
    expect(existsSync(join(s.dir, 'supervise', 'gw.pid'))).toBe(false)
  })

  it("writes plain pid files the seed's `kill $(cat FILE)` can use; the identity stays in the state file", async () => {
    const files = j.tmp()
    const pidFile = join(files, 'gateway-supervisor.pid')
    const childPidFile = join(files, 'clawdbot-gateway.pid')
    const port = await freePort()
    const s = superviseRun(['--port', String(port), '--pid-file', pidFile, '--child-pid-file', childPidFile, '--grace', '300ms'], [process.execPath, SERVICE, '--port', String(port)])
    const st = await until('a running child', running(s))
    expect(readFileSync(pidFile, 'utf8')).toBe(`${s.child.pid}\n`)
    expect(readFileSync(childPidFile, 'utf8')).toBe(`${st.child.pid}\n`)
    expect(st.supervisor).toMatchObject({pid: s.child.pid, startTime: expect.stringMatching(/^\d+$/)})
    // The seed's manual stop, word for word: the supervisor stops the service and exits 0.
    const k = spawn('/bin/sh', ['-c', `kill $(cat ${pidFile})`], {stdio: 'inherit'})
    expect(await new Promise((r) => k.once('exit', r))).toBe(0)
    expect(await s.exited).toBe(0)
    expect(alive(st.child.pid)).toBe(false)
    expect(s.out().trim().split('\n').at(-1)).toMatch(/^SUPERVISOR_OK: gw supervisor stopped/)
    expect(existsSync(pidFile)).toBe(false)
  })

  it('does not retry exit code 78 (configuration error)', async () => {
    const s = superviseRun([], [process.execPath, '-e', 'process.exit(78)'])
    await until('fatal', () => s.state()?.state === 'fatal' || null)
    expect(s.state().starts).toBe(1)
    expect(s.out()).toMatch(/^SUPERVISOR_ALERT: gw: child exited with 78 \(configuration error\): not retried$/m)
    s.child.kill('SIGINT')
    expect(await s.exited).toBe(0)
  })

  it('ends SUPERVISOR_ALERT, exit 2, when the command cannot start', async () => {
    for (const cmd of ['/nonexistent/program', 'no-such-program-medic-test']) {
      const s = superviseRun([], [cmd])
      expect(await s.exited).toBe(2)
      expect(s.out()).toMatch(new RegExp(`^SUPERVISOR_ALERT: gw: could not start: ${cmd}: .*\\(ENOENT\\): the command cannot start\n$`))
      expect(s.state().state).toBe('fatal')
    }
  })

  it('restarts gracefully on SIGHUP and on the restart flag (consumed once), without counting a failure', async () => {
    const flag = join(j.tmp(), 'restart.flag')
    const s = superviseRun(['--restart-flag', flag], [process.execPath, SERVICE])
    const a = await until('child', running(s))
    s.child.kill('SIGHUP')
    const b = await until('restart after SIGHUP', () => {
      const st = running(s)()
      return st && st.child.pid !== a.child.pid ? st : null
    })
    writeFileSync(flag, '')
    const c = await until('restart after the flag', () => {
      const st = running(s)()
      return st && st.child.pid !== b.child.pid ? st : null
    })
    expect(existsSync(flag)).toBe(false)
    expect(c.restarts).toEqual([])
    expect(c.starts).toBe(3)
    s.child.kill('SIGTERM')
    await s.exited
  })

  it('frees its port from an orphan before starting', async () => {
    const orphan = await startService(j, ['--orphan'])
    const s = superviseRun(['--port', String(orphan.port)], [process.execPath, SERVICE, '--port', String(orphan.port)])
    const st = await until('child', running(s))
    expect(alive(orphan.pid)).toBe(false)
    expect(st.child.pid).not.toBe(orphan.pid)
    s.child.kill('SIGTERM')
    await s.exited
  })

  it('restarts a child that fails its health probes', async () => {
    // The health endpoint answers 503 from before the supervisor starts (it listens when
    // started returns), so every probe meets a 503 — never a child still starting up.
    const sick = await startService(j, ['--status', '503'])
    const s = superviseRun(['--health-url', `http://127.0.0.1:${sick.port}/health`, '--probe-interval', '100ms', '--probe-failures', '2', '--max-backoff', '100ms'], [process.execPath, '-e', 'setInterval(() => {}, 1e9)'])
    await until('a restart for failed probes', () => (s.state()?.starts ?? 0) >= 2 || null)
    s.child.kill('SIGTERM')
    await s.exited
    expect(s.err()).toMatch(/2 probes failed in a row \(HTTP 503/)
  })

  it('refuses a second supervisor for the same name', async () => {
    const s = superviseRun([], [process.execPath, SERVICE])
    await until('child', running(s))
    const r = await medic(['supervise', '--name', 'gw', '--state-dir', s.dir, '--', process.execPath, SERVICE])
    expectContract(r, 'SUPERVISOR_UNKNOWN')
    expect(r.lines[0]).toContain('already supervised by medic pid')
    s.child.kill('SIGTERM')
    await s.exited
  })

  it('gives the child an explicit environment', async () => {
    const s = superviseRun(['--env', 'GATEWAY_TOKEN=abc', '--max-backoff', '5s'], [process.execPath, '-e', 'console.log(JSON.stringify(process.env)); setInterval(() => {}, 1e9)'])
    const log = join(s.dir, 'supervise', 'gw.out.log')
    const env = await until('the child log', () => (existsSync(log) && readFileSync(log, 'utf8').includes('{') ? JSON.parse(readFileSync(log, 'utf8')) : null))
    expect(env.GATEWAY_TOKEN).toBe('abc')
    expect(env.PATH).toBe('/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin')
    expect(Object.keys(env).filter((k) => !['GATEWAY_TOKEN', 'PATH', 'HOME', 'USER', 'LOGNAME', 'LANG', 'LC_ALL', 'TZ', 'MEDIC_JOB'].includes(k))).toEqual([])
    expect(env.MEDIC_JOB).toBe(`${s.child.pid}-${readFileSync(`/proc/${s.child.pid}/stat`, 'latin1').split(') ')[1].split(' ')[19]}`) // the service's mark
    s.child.kill('SIGTERM')
    await s.exited
  })

  it('needs a command', async () => {
    const r = await medic(['supervise', '--name', 'gw'])
    expectContract(r, 'SUPERVISOR_UNKNOWN')
    expect(r.code).toBe(3)
  })
})

describe('medic health --manager supervise', () => {
  it('finds the supervisor by itself, and repairs through it (SIGHUP → graceful restart → verified)', async () => {
    const port = await freePort()
    const marker = join(j.tmp(), 'sick-once')
    const s = superviseRun(['--port', String(port)], [process.execPath, SERVICE, '--port', String(port), '--sick-once', marker])
    const first = await until('child', running(s))
    const args = ['health', '--name', 'gw', '--state-dir', s.dir, '--port', String(port), '--reprobe-delay', '100ms', '--verify-interval', '50ms', '--json']
    const seen = JSON.parse((await medic([...args, '--no-repair'])).stdout)
    expect(seen).toMatchObject({token: 'GW_ALERT', manager: 'supervise'})
    expect(seen.problems.map((p: {code: string}) => p.code)).toEqual(['UNRESPONSIVE'])
    const fixed = JSON.parse((await medic(args)).stdout)
    expect(fixed.token).toBe('GW_RECOVERED')
    expect(fixed.actions.find((a: {action: string}) => a.action === 'start').result).toBe('ok')
    const now = await until('the new child', () => {
      const st = running(s)()
      return st && st.child.pid !== first.child.pid ? st : null
    })
    expect(now.restarts).toEqual([]) // a requested restart is not a failure
    s.child.kill('SIGTERM')
    await s.exited
  })
})
