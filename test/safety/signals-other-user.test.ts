// Wrong kills across Unix users (issue 9, defect 2): protection must be one registry for
// the host, honoured by root's medic whatever the user's state dir — and it must not
// let a user "protect" root's processes.
import {spawn, type ChildProcess} from 'node:child_process'
import {chmodSync, chownSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {procTable} from '../../src/sys/proc-table.js'
import {alive, BIN, expectContract, Janitor, medic, SERVICE, startService, waitReady} from '../helpers/procs.js'
import {TestUsers, type TestUser} from '../helpers/users.js'

const j = new Janitor()
const users = new TestUsers()
const shmEntries: string[] = []
afterEach(async () => {
  await j.cleanup()
  users.removeAll()
  for (const p of shmEntries.splice(0)) rmSync(p, {force: true})
})

/** A directory every user can reach, owned by root (the parent of a test's host registry). */
function openDir(): string {
  const d = j.tmp()
  chmodSync(d, 0o755)
  return d
}

/** `medic run-dev-safe -- LISTEN` as another user, with that user's HOME (so its own default state dir). */
async function userJob(u: TestUser, env: NodeJS.ProcessEnv): Promise<{wrapper: ChildProcess; svc: {pid: number; port: number}; stderr: () => string}> {
  const readyDir = join(u.home, 'run')
  mkdirSync(readyDir, {recursive: true})
  chownSync(readyDir, u.uid, u.gid)
  const ready = join(readyDir, 'ready.json')
  let err = ''
  const wrapper = spawn(process.execPath, [BIN, 'run-dev-safe', '--no-trace', '--', process.execPath, SERVICE, '--ready', ready], {
    stdio: ['ignore', 'ignore', 'pipe'], detached: true, uid: u.uid, gid: u.gid, cwd: u.home,
    env: {PATH: process.env.PATH, HOME: u.home, USER: u.name, NO_COLOR: '1', ...env},
  })
  wrapper.stderr!.on('data', (d) => (err += d))
  j.child(wrapper)
  const svc = await waitReady(ready, `${u.name}'s job`)
  j.track(svc.pid)
  return {wrapper, svc, stderr: () => err}
}


describe("root's medic never kills another user's protected job", () => {
  it("honours a user's run-dev-safe job registered under the user's own state dir and HOME", async (ctx) => {
    const u = users.orSkip(ctx)
    const env = {MEDIC_PROTECTED_DIR: join(openDir(), 'protected')}
    expectContract(await medic(['protect', 'list', '--state-dir', j.tmp()], {env}), 'PROTECT_OK') // root's medic makes the host registry
    const job = await userJob(u, env)
    expect(job.stderr()).toContain(`registered in ${env.MEDIC_PROTECTED_DIR}/`)
    const r = await medic(['cleanup', '--port', String(job.svc.port), '--state-dir', j.tmp()], {env})
    expectContract(r, 'PORT_ALERT')
    expect(r.lines[0]).toMatch(/protected by run-dev-safe \(job "node"\)/)
    expect(alive(job.svc.pid)).toBe(true)
    expect(alive(job.wrapper.pid!)).toBe(true)
  })

  it('a user first (no host registry yet, and none a user can make): the entry goes to /dev/shm and root honours it', async (ctx) => {
    const u = users.orSkip(ctx)
    const env = {MEDIC_PROTECTED_DIR: join(openDir(), 'run-medic', 'protected')} // root-owned parent: the user cannot make it
    const job = await userJob(u, env)
    const paths = [...job.stderr().matchAll(/\/dev\/shm\/medic-protected\.[\d-]+\.json/g)].map((m) => m[0])
    shmEntries.push(...paths)
    expect(new Set(paths).size).toBe(2) // the wrapper's entry and the job's
    expect(existsSync(env.MEDIC_PROTECTED_DIR)).toBe(false)
    const r = await medic(['cleanup', '--port', String(job.svc.port), '--state-dir', j.tmp()], {env})
    expectContract(r, 'PORT_ALERT')
    expect(r.lines[0]).toMatch(/run-dev-safe \(job "node"\)/)
    expect(alive(job.svc.pid)).toBe(true)
  })

  it('a host registry a user made first is not trusted: root registers nothing there and runs no job unprotected', async (ctx) => {
    const u = users.orSkip(ctx)
    const parent = openDir()
    chmodSync(parent, 0o1777) // like /tmp: anyone may make the directory first
    const host = join(parent, 'protected')
    mkdirSync(host, {mode: 0o1777})
    chownSync(host, u.uid, u.gid)
    const marker = join(j.tmp(), 'job-ran')
    const r = await medic(['run-dev-safe', '--state-dir', j.tmp(), '--no-trace', '--', process.execPath, '-e', `require('fs').writeFileSync(${JSON.stringify(marker)}, 'ran')`], {env: {MEDIC_PROTECTED_DIR: host}})
    expect(r.code).toBe(3)
    expect(r.stdout).toBe('')
    expect(r.stderr).toMatch(new RegExp(`^DEVRUN_UNKNOWN: node: not started: cannot register pid \\d+: ${host} is owned by uid ${u.uid}, not root$`, 'm'))
    expect(existsSync(marker)).toBe(false)
    expect(readdirSync(host)).toEqual([])
  })

  it("a user cannot protect root's service: an entry naming another user's process does not count", async (ctx) => {
    const u = users.orSkip(ctx)
    const host = join(openDir(), 'protected')
    // Its own registry and /dev/shm fallback: the test counts entries, and other suites register too.
    const env = {MEDIC_PROTECTED_DIR: host, MEDIC_PROTECTED_SHM: j.tmp()}
    expectContract(await medic(['protect', 'list', '--state-dir', j.tmp()], {env}), 'PROTECT_OK')
    const gw = await startService(j, ['--orphan']) // root's gateway, orphaned on its port
    const st = procTable.stat(gw.pid)!
    // The user plants an entry for it (and through `medic protect add`, which refuses).
    const planted = join(host, `${gw.pid}-${st.startTime}.json`)
    writeFileSync(planted, JSON.stringify({version: 1, pid: gw.pid, startTime: st.startTime, name: 'mine', cmdline: [], descendants: true, registeredAt: ''}))
    chownSync(planted, u.uid, u.gid)
    // And an entry for a process of its own that claims root's cgroup ("/") and the gateway's session.
    const own = spawn('sleep', ['100000'], {stdio: 'ignore', detached: true, uid: u.uid, gid: u.gid})
    j.child(own)
    await new Promise((r) => own.once('spawn', r))
    const ost = procTable.stat(own.pid!)!
    const forged = join(host, `${own.pid}-${ost.startTime}.json`)
    writeFileSync(forged, JSON.stringify({version: 1, pid: own.pid, startTime: ost.startTime, name: 'forged', cmdline: [], descendants: true, registeredAt: '', cgroup: '/', session: {sid: st.sid, startTime: st.startTime}}))
    chownSync(forged, u.uid, u.gid)
    const add = await medic(['protect', 'add', '--pid', String(gw.pid), '--state-dir', u.home], {uid: u.uid, env: {...env, HOME: u.home}})
    expectContract(add, 'PROTECT_UNKNOWN')
    expect(add.lines[0]).toMatch(/runs as uid 0: an entry written by uid \d+ would not count/)
    const list = JSON.parse((await medic(['protect', 'list', '--state-dir', j.tmp(), '--json'], {env})).stdout)
    expect(list.ignored).toEqual([{path: planted, reason: expect.stringMatching(/written by uid \d+ for a process of uid 0/)}])
    expect(list.processes.map((p: {name: string}) => p.name)).toEqual(['forged']) // it counts — for its own process only
    const r = await medic(['cleanup', '--port', String(gw.port), '--state-dir', j.tmp()], {env})
    expectContract(r, 'PORT_RECOVERED')
    expect(alive(gw.pid)).toBe(false)
  })

  it("a user's registered pattern protects that user's processes in that user's runs; root's medic never runs its regex", async (ctx) => {
    const u = users.orSkip(ctx)
    const host = join(openDir(), 'protected')
    const env = {MEDIC_PROTECTED_DIR: host}
    expectContract(await medic(['protect', 'list', '--state-dir', j.tmp()], {env}), 'PROTECT_OK') // root makes the host directory
    const readyDir = join(u.home, 'run')
    mkdirSync(readyDir)
    chownSync(readyDir, u.uid, u.gid)
    // The user's service, with a command line chosen to make a backtracking regex run for ever.
    const userService = async (n: number) => {
      const ready = join(readyDir, `ready${n}.json`)
      const c = spawn(process.execPath, [SERVICE, '--ready', ready, `${'a'.repeat(40)}!`], {stdio: 'ignore', detached: true, uid: u.uid, gid: u.gid, cwd: u.home})
      j.child(c)
      return waitReady(ready, `${u.name}'s service`)
    }
    const mine = await userService(1)
    // Backtracks for hours on "aaaa…!", but matches the service earlier in its command line, at its ready file.
    const pattern = '(a|a)*b|ready1\\.json'
    const uenv = {...env, HOME: u.home}
    const add = await medic(['protect', 'add', '--pattern', pattern, '--state-dir', u.home], {uid: u.uid, env: uenv})
    expectContract(add, 'PROTECT_OK')
    expect(add.lines[0]).toContain("root's medic honours root's patterns only")
    // The user's own medic run honours it (its process, its pattern, its regex)…
    const own = await medic(['cleanup', '--port', String(mine.port), '--state-dir', join(u.home, 'st')], {uid: u.uid, env: uenv})
    expectContract(own, 'PORT_ALERT')
    expect(own.lines[0]).toContain('matches the protected pattern')
    expect(alive(mine.pid)).toBe(true)
    // …root's does not (nor runs its regex: test/core/protect.test.ts) and frees the port.
    const roots = await medic(['cleanup', '--port', String(mine.port), '--state-dir', j.tmp()], {env})
    expectContract(roots, 'PORT_RECOVERED')
    expect(alive(mine.pid)).toBe(false)
    // A pattern file named for root but owned by the user does not count either.
    const planted = join(host, `pattern-0-${'0'.repeat(16)}.json`)
    writeFileSync(planted, JSON.stringify({version: 1, pattern: '.'}))
    chownSync(planted, u.uid, u.gid)
    const list = JSON.parse((await medic(['protect', 'list', '--state-dir', j.tmp(), '--json'], {env})).stdout)
    const here = (xs: {path: string}[]) => xs.filter((x) => x.path.startsWith(`${host}/`)) // /dev/shm is read too
    expect(here(list.ignored)).toEqual([{path: planted, reason: expect.stringMatching(/its name is not its pattern and its owner/)}])
    expect(here(list.registered)).toEqual([expect.objectContaining({pattern, byUid: u.uid, protects: expect.stringContaining('(not this one)')})])
  })

})
