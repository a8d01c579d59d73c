// Wrong kills through `health --manager command --pid-file` (issue 9, defect 1): the
// pid file names a protected job, or a pid that now belongs to another process.
import {spawn, spawnSync} from 'node:child_process'
import {chmodSync, chownSync, mkdirSync, symlinkSync, utimesSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {alive, BIN, expectContract, freePort, Janitor, medic, ROOT, SERVICE, startService, waitReady} from '../helpers/procs.js'
import {TestUsers} from '../helpers/users.js'

const j = new Janitor()
const users = new TestUsers()
afterEach(async () => {
  await j.cleanup()
  users.removeAll()
})


/** health's verdict as JSON and its manager check (where the whole reason is, untruncated). */
async function healthJson(args: string[]): Promise<{status: string; manager: string}> {
  const r = await medic([...args, '--json'])
  const v = JSON.parse(r.stdout)
  return {status: v.status, manager: v.checks.find((c: {name: string}) => c.name === 'manager').detail}
}

/** An unrelated bash with a child, older than any pid file the test writes afterwards. */
async function bystander(): Promise<{pid: number; child: number}> {
  const bash = spawn('bash', ['-c', 'sleep 1000 & echo $!; wait'], {stdio: ['ignore', 'pipe', 'ignore'], detached: true})
  j.child(bash)
  const child = Number(await new Promise<string>((r) => bash.stdout!.once('data', (d) => r(String(d)))))
  return {pid: bash.pid!, child}
}

/** A directory like /tmp: root's, mode 1777. */
function stickyDir(): string {
  const d = join(j.tmp(), 'tmp')
  mkdirSync(d)
  chmodSync(d, 0o1777)
  chmodSync(join(d, '..'), 0o755)
  return d
}

/** `medic health` whose repair stops the service through the pid file; the probe target never answers 2xx. */
const healthArgs = (port: number, pidFile: string, state: string) => [
  'health', '--port', String(port), '--url', `http://127.0.0.1:${port}/`, '--probe-timeout', '1s', '--reprobe-delay', '0',
  '--manager', 'command', '--start-cmd', 'true', '--pid-file', pidFile, '--state-dir', state, '--verify-timeout', '1s', '--grace', '500ms',
]

describe('health --manager command --pid-file never kills the wrong process', () => {
  it('a pid file naming a run-dev-safe job: refused, the job and its child live, ALERT says why', async () => {
    const dir = j.tmp()
    const env = {MEDIC_PROTECTED_DIR: join(dir, 'registry')}
    const ready = join(dir, 'ready.json')
    // LISTEN P under run-dev-safe; the service answers 503, so health wants to repair it.
    const wrapper = spawn(process.execPath, [BIN, 'run-dev-safe', '--state-dir', join(dir, 'user-state'), '--no-trace', '--', process.execPath, SERVICE, '--ready', ready, '--status', '503'], {stdio: 'ignore', detached: true, env: {...process.env, ...env}})
    j.child(wrapper)
    const svc = await waitReady(ready, 'protected service')
    j.track(svc.pid)
    const pidFile = join(dir, 's.pid')
    writeFileSync(pidFile, `${wrapper.pid}\n`) // `M run-dev-safe … & echo $! > /tmp/s.pid`
    const r = await medic(healthArgs(svc.port, pidFile, join(dir, 'state')), {env})
    expectContract(r, 'GATEWAY_ALERT')
    expect(r.lines[0]).toMatch(/protected by run-dev-safe \(job "node"\)|descendant of run-dev-safe/)
    expect(alive(wrapper.pid!)).toBe(true)
    expect(alive(svc.pid)).toBe(true)
  })

  it('a stale pid file (written before the process now holding that pid started): not trusted, nothing signalled', async () => {
    const dir = j.tmp()
    // An unrelated bash and its child now hold the pid the file names.
    const bash = spawn('bash', ['-c', 'sleep 1000 & echo $!; wait'], {stdio: ['ignore', 'pipe', 'ignore'], detached: true})
    j.child(bash)
    const child = Number(await new Promise<string>((r) => bash.stdout!.once('data', (d) => r(String(d)))))
    const pidFile = join(dir, 'gateway.pid')
    writeFileSync(pidFile, `${bash.pid}\n`)
    const anHourAgo = new Date(Date.now() - 3_600_000)
    utimesSync(pidFile, anHourAgo, anHourAgo) // the service wrote it an hour ago, then died
    const r = await medic([...healthArgs(await freePort(), pidFile, join(dir, 'state')), '--json'])
    const v = JSON.parse(r.stdout)
    expect(v).toMatchObject({status: 'ALERT', exitCode: 2})
    expect(v.summary).toMatch(/gateway\.pid is stale: pid \d+ is now bash/)
    expect(v.checks.find((c: {name: string}) => c.name === 'manager').detail).toMatch(/gateway\.pid is stale: pid \d+ is now bash, which started \d+s after the file was written \(a reused pid\); not trusted, not signalled/)
    expect(alive(bash.pid!)).toBe(true)
    expect(alive(child)).toBe(true)
  })

  it('a pid really reused by the kernel (private pid namespace): neither health nor the gate signals the newcomer', async () => {
    if (process.getuid?.() !== 0) return void console.log('skipped: forcing pid reuse needs root (a private pid namespace and ns_last_pid)')
    if (spawnSync('unshare', ['--help'], {stdio: 'ignore'}).error) return void console.log('skipped: unshare(1) is not installed')
    const dir = j.tmp()
    const pidFile = join(dir, 'gateway.pid')
    const port = await freePort()
    const ns = spawn('unshare', ['--pid', '--fork', '--mount-proc', '--', process.execPath, join(ROOT, 'test/fixtures/proc/pid-reuse.mjs'), pidFile, BIN, ...healthArgs(port, pidFile, join(dir, 'state'))], {stdio: ['ignore', 'pipe', 'inherit'], detached: true})
    j.child(ns) // the namespace, and everything in it, ends with its pid 1
    let out = ''
    ns.stdout!.on('data', (d) => (out += d))
    await new Promise((r) => ns.once('close', r))
    const res = JSON.parse(out)
    expect(res.error).toBeUndefined()
    expect(res.bPid).toBe(res.aPid)
    expect(res.medic.stdout).toMatch(/^GATEWAY_ALERT: .*is stale: pid \d+ is now bash/)
    expect(res.gate).toMatchObject({result: 'reused'})
    expect(res.bAlive).toBe(true)
    expect(res.grandchildAlive).toBe(true)
  })
})

describe('a pid file is trusted only when nobody else could have written it, and only for the service (attack-gate A1, A2, F)', () => {
  /** Root's service on its port, answering 503 (so health wants to repair it). */
  const sick = (extra: string[] = []) => startService(j, ['--status', '503', ...extra])

  it("A1: a pid file another user owns (in a sticky dir like /tmp) naming root's port holder: refused, nothing signalled", async (ctx) => {
    const u = users.orSkip(ctx)
    const svc = await sick()
    const pidFile = join(stickyDir(), 'gw.pid')
    writeFileSync(pidFile, `${svc.pid}\n`)
    chownSync(pidFile, u.uid, u.gid)
    const r = await healthJson(healthArgs(svc.port, pidFile, join(j.tmp(), 'state')))
    expect(r.status).toBe('ALERT')
    expect(r.manager).toContain(`${pidFile} not trusted (owned by uid ${u.uid}, neither root nor uid 0 that runs the process it names)`)
    expect(alive(svc.pid)).toBe(true)
  })

  it("A1: a user's symlink to root's own pid file: refused (the link is not followed)", async (ctx) => {
    const u = users.orSkip(ctx)
    const svc = await sick()
    const real = join(j.tmp(), 'gw.pid')
    writeFileSync(real, `${svc.pid}\n`, {mode: 0o600})
    const link = join(stickyDir(), 'gw.pid')
    symlinkSync(real, link)
    spawnSync('chown', ['-h', `${u.uid}:${u.gid}`, link])
    const r = await healthJson(healthArgs(svc.port, link, join(j.tmp(), 'state')))
    expect(r.status).toBe('ALERT')
    expect(r.manager).toContain(`${link} is a symbolic link: not trusted`)
    expect(alive(svc.pid)).toBe(true)
  })

  it('A1: a pid file in a directory anyone can write (not sticky): refused', async () => {
    const svc = await sick()
    const dir = join(j.tmp(), 'open')
    mkdirSync(dir)
    chmodSync(dir, 0o777)
    const pidFile = join(dir, 'gw.pid')
    writeFileSync(pidFile, `${svc.pid}\n`)
    const r = await healthJson(healthArgs(svc.port, pidFile, join(j.tmp(), 'state')))
    expect(r.status).toBe('ALERT')
    expect(r.manager).toContain('its directory is writable by others and not sticky')
    expect(alive(svc.pid)).toBe(true)
  })

  it('A1: stop acts on the identity decided at look time — a pid file rewritten between the look and the stop is not obeyed', async () => {
    const victim = await bystander()
    const pidFile = join(j.tmp(), 'gw.pid')
    // The service writes its pid file once listening; on the re-probe (after health has
    // looked at the file) the file is made to name the bystander.
    const svc = await sick(['--pid-file', pidFile, '--rewrite-at', '2', '--rewrite-file', pidFile, '--rewrite-text', `${victim.pid}\n`])
    const r = await medic([...healthArgs(svc.port, pidFile, join(j.tmp(), 'state')), '--json'])
    const v = JSON.parse(r.stdout)
    expect(v.actions.find((a: {action: string}) => a.action === 'stop')).toMatchObject({result: 'ok'})
    expect(alive(victim.pid)).toBe(true)
    expect(alive(victim.child)).toBe(true)
    expect(alive(svc.pid)).toBe(false) // the service health looked at was the one stopped
  })

  it("A2/F: a fresh pid file naming a process that is not the service's (another pid namespace's pid, a touched stale file): refused", async () => {
    const victim = await bystander()
    const svc = await sick()
    const pidFile = join(j.tmp(), 'gw.pid')
    writeFileSync(pidFile, `${victim.pid}\n`) // written after the bystander started: the age test passes
    const r = await healthJson(healthArgs(svc.port, pidFile, join(j.tmp(), 'state')))
    expect(r.status).toBe('ALERT')
    expect(r.manager).toContain(`pid ${victim.pid} (bash) is not the service's: port ${svc.port} is held by another process, and it does not run the start command (true)`)
    expect(alive(victim.pid)).toBe(true)
    expect(alive(victim.child)).toBe(true)
    expect(alive(svc.pid)).toBe(true)
  })

  it('F: a pid file whose mtime is in the future is not trusted', async () => {
    const svc = await sick()
    const pidFile = join(j.tmp(), 'gw.pid')
    writeFileSync(pidFile, `${svc.pid}\n`)
    const later = new Date(Date.now() + 3_600_000)
    utimesSync(pidFile, later, later)
    const r = await healthJson(healthArgs(svc.port, pidFile, join(j.tmp(), 'state')))
    expect(r.status).toBe('ALERT')
    expect(r.manager).toMatch(/not trusted \(its mtime is \d+s in the future\)/)
    expect(alive(svc.pid)).toBe(true)
  })

  it('the service itself (it holds the port, root wrote its file): trusted, stopped and restarted', async () => {
    const pidFile = join(j.tmp(), 'gw.pid')
    const svc = await sick(['--pid-file', pidFile])
    const r = await medic([...healthArgs(svc.port, pidFile, join(j.tmp(), 'state')), '--json'])
    const v = JSON.parse(r.stdout)
    expect(v.actions.find((a: {action: string}) => a.action === 'stop')).toMatchObject({result: 'ok'})
    expect(alive(svc.pid)).toBe(false)
  })
})
