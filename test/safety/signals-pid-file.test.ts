// Wrong kills through `health --manager command --pid-file` (issue 9, defect 1): the
// pid file names a protected job, or a pid that now belongs to another process.
import {spawn, spawnSync} from 'node:child_process'
import {utimesSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {alive, BIN, expectContract, freePort, Janitor, medic, ROOT, SERVICE, waitReady} from '../helpers/procs.js'

const j = new Janitor()
afterEach(() => j.cleanup())

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
