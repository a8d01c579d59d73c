import {spawn, spawnSync} from 'node:child_process'
import {chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {fnv1a64} from '../../src/sys/protected-registry.js'
import {alive, BIN, Janitor, medic, ROOT, until} from '../helpers/procs.js'
import {asUser, TestUsers} from '../helpers/users.js'

// Interrupts, closed terminals and the shared protected registry, tried the way an attacker
// (or a held Ctrl+C) would: each case failed on main at 5c00535.
const j = new Janitor()
const users = new TestUsers()
afterEach(async () => {
  await j.cleanup()
  users.removeAll()
})

const JOB = join(ROOT, 'test/fixtures/proc/job.mjs')
const isRoot = process.getuid?.() === 0
const TRACING = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'].find((d) => existsSync(join(d, 'events/signal/signal_generate')))

/** A private protected registry (host dir and /dev/shm fallback), 1777 like the real ones. */
function registry(): NodeJS.ProcessEnv {
  const d = j.tmp()
  chmodSync(d, 0o755)
  const host = join(d, 'host')
  const shm = join(d, 'shm')
  for (const x of [host, shm]) {
    mkdirSync(x)
    chmodSync(x, 0o1777)
  }
  return {MEDIC_PROTECTED_DIR: host, MEDIC_PROTECTED_SHM: shm}
}

function pidIn(file: string): number | null {
  try {
    const n = Number(readFileSync(file, 'utf8').trim())
    return n > 1 ? n : null
  } catch {
    return null
  }
}

describe('kill-trace: a closed terminal (SIGHUP) is passed on to the job like Ctrl+C and SIGTERM', () => {
  it.each(['tracefs', 'strace'] as const)('%s: SIGHUP to medic leaves no job (and no strace) behind and says it passed the signal on', async (tracer) => {
    if (!isRoot || (tracer === 'tracefs' && !TRACING)) return console.log('skipped: needs root and tracefs')
    const dir = j.tmp()
    const pidFile = join(dir, 'job.pid')
    const c = spawn(process.execPath, [BIN, 'kill-trace', ...(tracer === 'strace' ? ['--tracer', 'strace'] : []), '--state-dir', join(dir, 'state'), '--', process.execPath, JOB, '--pid-file', pidFile], {stdio: ['ignore', 'pipe', 'ignore'], detached: true, env: {...process.env, NO_COLOR: '1'}})
    j.child(c)
    let out = ''
    c.stdout!.on('data', (d) => (out += d))
    const closed = new Promise<number | null>((r) => c.once('close', r))
    const job = await until('the job', () => pidIn(pidFile))
    j.track(job)
    process.kill(c.pid!, 'SIGHUP')
    expect(await closed).toBe(3)
    expect(out).toMatch(/^TRACE_UNKNOWN: interrupted by the user: medic received SIGHUP.* and passed it on/)
    // the job (and strace, its parent, in the same group) must not outlive medic
    await until('the job to end', () => !alive(job), 3000).catch(() => {})
    expect(alive(job)).toBe(false)
  })
})

describe('health: an interrupt during a manager command does not leave that command running', () => {
  it('SIGTERM to medic while --stop-cmd runs: the stop command (own session) is not orphaned', async () => {
    const dir = j.tmp()
    const stopPid = join(dir, 'stop.pid')
    const port = 1 // nothing listens: the service is down, the repair starts with stop
    const c = spawn(process.execPath, [BIN, 'health', '--name', 'atk', '--port', String(port), '--tcp', '--manager', 'command', '--stop-cmd', `${process.execPath} ${JOB} --pid-file ${stopPid}`, '--start-cmd', 'true', '--command-timeout', '1h', '--repair', '--probe-timeout', '200ms', '--reprobe-delay', '10ms', '--state-dir', join(dir, 'state')], {stdio: ['ignore', 'pipe', 'ignore'], env: {...process.env, NO_COLOR: '1'}})
    j.child(c)
    let out = ''
    c.stdout.on('data', (d) => (out += d))
    const closed = new Promise<number | null>((r) => c.once('close', r))
    const stop = await until('the stop command', () => pidIn(stopPid))
    j.track(stop)
    c.kill('SIGTERM')
    expect(await closed).toBe(3)
    expect(out).toMatch(/^ATK_UNKNOWN: interrupted by SIGTERM while stopping/)
    await until('the stop command to end', () => !alive(stop), 3000).catch(() => {})
    expect(alive(stop)).toBe(false)
  })
})

describe('a second signal after the first never turns the verdict\'s exit code into death by signal', () => {
  it('SIGINT held down (a burst, as a held Ctrl+C or a repeating supervisor sends): exit 3, not killed by SIGINT', async () => {
    const {startService} = await import('../helpers/procs.js')
    const s = await startService(j, ['--orphan', '--ignore-term'])
    const c = spawn(process.execPath, [BIN, 'cleanup', '--port', String(s.port), '--grace', '1h', '--state-dir', join(j.tmp(), 'state')], {stdio: ['ignore', 'pipe', 'pipe'], env: {...process.env, NO_COLOR: '1'}})
    j.child(c)
    let out = ''
    let err = ''
    c.stdout.on('data', (d) => (out += d))
    c.stderr.on('data', (d) => (err += d))
    const closed = new Promise<{code: number | null; signal: NodeJS.Signals | null}>((r) => c.once('close', (code, signal) => r({code, signal})))
    await until('SIGTERM sent to the holder', () => err.includes(`SIGTERM → pid ${s.pid} (node): sent`))
    let done = false
    void closed.then(() => (done = true))
    while (!done) {
      try {
        c.kill('SIGINT')
      } catch {}
      await new Promise((r) => setImmediate(r))
    }
    const end = await closed
    expect(out).toMatch(/^PORT_UNKNOWN: interrupted by SIGINT/)
    expect(end).toEqual({code: 3, signal: null}) // it used to die by the second SIGINT (shell: 130)
  })
})

describe('run-dev-safe: a signal medic passed on is not blamed on medic or the job', () => {
  it.each(['SIGTERM', 'SIGHUP'] as const)('%s to the wrapper: the end says medic passed it on, not "sent by" the wrapper or the job itself', async (sig) => {
    const dir = j.tmp()
    const pidFile = join(dir, 'job.pid')
    const c = spawn(process.execPath, [BIN, 'run-dev-safe', '--name', 'atk', '--state-dir', join(dir, 'state'), '--', process.execPath, JOB, '--pid-file', pidFile], {stdio: ['ignore', 'ignore', 'pipe'], env: {...process.env, NO_COLOR: '1'}})
    j.child(c)
    let err = ''
    c.stderr.on('data', (d) => (err += d))
    const closed = new Promise<number | null>((r) => c.once('close', r))
    j.track(await until('the job', () => pidIn(pidFile)))
    c.kill(sig)
    await closed
    const end = err.split('\n').find((l) => l.startsWith('DEVRUN_')) ?? ''
    // it used to say SIGTERM "— sent by pid <the job itself>", SIGHUP "FAILED (exit code: 129) — sent by pid <the wrapper>"
    expect(end).not.toMatch(/sent by/)
    expect(end).not.toMatch(/FAILED/)
    expect(end).toMatch(new RegExp(`INTERRUPTED|interrupted`))
  })
})

describe('protect remove --pattern: a user is not told a pattern root registered "was not registered"', () => {
  it('root registers X; a user removes X: not OK "was not registered" while root\'s X still protects every process', async (ctx) => {
    const env = registry()
    const u = users.orSkip(ctx)
    expect((await medic(['protect', 'add', '--pattern', 'atk-zz', '--state-dir', j.tmp()], {env})).lines[0]).toMatch(/^PROTECT_OK/)
    const r = await medic(['protect', 'remove', '--pattern', 'atk-zz', '--state-dir', join(u.home, 'state')], {uid: u.uid, env: {...env, HOME: u.home}})
    expect(readdirSync(env.MEDIC_PROTECTED_DIR!).some((n) => n.startsWith('pattern-0-'))).toBe(true) // root's is still there
    expect(r.lines[0]).not.toMatch(/was not registered/)
    expect(r.lines[0]).toMatch(/^PROTECT_UNKNOWN: .*registered by (root|another user)/)
  })

  it('root and a user both register X; the user removes X: their own goes, and root\'s is named as still protecting', async (ctx) => {
    const env = registry()
    const u = users.orSkip(ctx)
    const as = {uid: u.uid, env: {...env, HOME: u.home}}
    expect((await medic(['protect', 'add', '--pattern', 'atk-yy', '--state-dir', j.tmp()], {env})).lines[0]).toMatch(/^PROTECT_OK/)
    expect((await medic(['protect', 'add', '--pattern', 'atk-yy', '--state-dir', join(u.home, 'state')], as)).lines[0]).toMatch(/^PROTECT_OK/)
    const r = await medic(['protect', 'remove', '--pattern', 'atk-yy', '--state-dir', join(u.home, 'state')], as)
    expect(readdirSync(env.MEDIC_PROTECTED_DIR!).filter((n) => n.startsWith('pattern-')).map((n) => n.split('-')[1])).toEqual(['0'])
    expect(r.lines[0]).not.toMatch(/no longer protects anything/)
    expect(r.lines[0]).toMatch(/^PROTECT_OK: pattern atk-yy removed .*; still registered by root/)
  })
})

describe('config search never reads the working directory, even with a relative XDG_CONFIG_HOME', () => {
  it('XDG_CONFIG_HOME=. is ignored (XDG: a relative path is invalid), not ./medic/config.json', async () => {
    const cwd = j.tmp()
    chmodSync(cwd, 0o755)
    mkdirSync(join(cwd, 'medic'))
    writeFileSync(join(cwd, 'medic', 'config.json'), JSON.stringify({protect: ['from-the-cwd']}))
    const home = j.tmp()
    const r = await medic(['protect', 'list', '--json', '--state-dir', j.tmp()], {cwd, env: {...registry(), XDG_CONFIG_HOME: '.', HOME: home}})
    const o = JSON.parse(r.stdout)
    expect(o.extra?.config ?? o.config ?? null).toBeNull()
    expect(r.stdout).not.toContain('from-the-cwd')
  })
})

describe('protect --pattern: another user cannot keep a user from registering a pattern', () => {
  it.for(['host', 'shm'] as const)('a file squatted in the %s registry under the victim\'s predictable name does not block the victim', async (where, ctx) => {
    const env = registry()
    const victim = users.orSkip(ctx)
    const squatter = users.create()
    const name = `pattern-${victim.uid}-${fnv1a64('train\\.py')}.json`
    const path = where === 'host' ? join(env.MEDIC_PROTECTED_DIR!, name) : join(env.MEDIC_PROTECTED_SHM!, `medic-protected.${name}`)
    if (where === 'shm') chmodSync(env.MEDIC_PROTECTED_DIR!, 0o755) // the host dir unusable by users: they fall back to /dev/shm
    asUser(squatter, `require('fs').writeFileSync(${JSON.stringify(path)}, '{}')`)
    const r = await medic(['protect', 'add', '--pattern', 'train\\.py', '--state-dir', join(victim.home, 'state')], {uid: victim.uid, env: {...env, HOME: victim.home}})
    expect(r.lines[0]).toMatch(/^PROTECT_OK: pattern train\\\.py protects/)
    // read back as the victim's (the scan accepts the suffixed name): removing it finds it
    const rm = await medic(['protect', 'remove', '--pattern', 'train\\.py', '--state-dir', join(victim.home, 'state')], {uid: victim.uid, env: {...env, HOME: victim.home}})
    expect(rm.lines[0]).toMatch(/^PROTECT_OK: pattern train\\\.py no longer protects anything/)
    expect(existsSync(path)).toBe(true) // the squatter's file was not replaced
  })

  it('a pid entry squatted under the victim\'s predictable <pid>-<start>.json does not block the victim\'s protect add --pid', async (ctx) => {
    const env = registry()
    const victim = users.orSkip(ctx)
    const squatter = users.create()
    const dir = join(victim.home, 'run')
    mkdirSync(dir)
    chownSync(dir, victim.uid, victim.gid)
    const pidFile = join(dir, 'job.pid')
    const c = spawn(process.execPath, [JOB, '--pid-file', pidFile], {stdio: 'ignore', detached: true, uid: victim.uid, gid: victim.gid, cwd: victim.home})
    j.child(c)
    const pid = await until('the victim\'s job', () => pidIn(pidFile))
    const start = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[19]
    const path = join(env.MEDIC_PROTECTED_DIR!, `${pid}-${start}.json`)
    asUser(squatter, `require('fs').writeFileSync(${JSON.stringify(path)}, '{}')`)
    const as = {uid: victim.uid, env: {...env, HOME: victim.home}}
    const r = await medic(['protect', 'add', '--pid', String(pid), '--state-dir', join(victim.home, 'state')], as)
    expect(r.lines[0]).toMatch(/^PROTECT_OK/)
    const list = await medic(['protect', 'list', '--json', '--state-dir', join(victim.home, 'state')], as)
    expect(list.stdout).toMatch(new RegExp(`"pid":\\s*${pid}\\b`))
  })
})

describe('no escape bytes with NO_COLOR or CI under a terminal, on oclif\'s paths too (autocomplete)', () => {
  it.each([{NO_COLOR: '1'}, {CI: '1'}])('medic autocomplete with %o under script: no ESC on the terminal', (over) => {
    if (spawnSync('script', ['--version']).error) return console.log('skipped: no script(1)')
    const env: NodeJS.ProcessEnv = {...process.env, TERM: 'xterm-256color', HOME: j.tmp(), ...over}
    for (const k of ['CI', 'NO_COLOR', 'FORCE_COLOR']) if (!(k in over)) delete env[k]
    const r = spawnSync('script', ['-qfec', `stty cols 160 rows 40; ${process.execPath} ${BIN} autocomplete bash`, '/dev/null'], {env, encoding: 'utf8'})
    expect(r.stdout).toContain('autocomplete')
    expect(r.stdout).not.toContain('\x1b')
  })
})
