// Attack report C5: `locks clean` removed a live lock whose holder runs in another pid
// namespace ({"pid":29991} of a sleep inside `unshare -p`: "dead" on the host). A lock
// holds a pid numbered in its writer's namespace; a pid medic does not see running is not
// proof of death. Removed only with proof — written before this boot; medic in the host's
// initial pid namespace and no process of any namespace has that pid; or
// --lock-pids-local — otherwise kept, and said why.
import {spawn, spawnSync} from 'node:child_process'
import {existsSync, readFileSync, utimesSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {BIN, Janitor, medic, until} from '../helpers/procs.js'

const j = new Janitor()
afterEach(() => j.cleanup())

const HOUR_AGO = new Date(Date.now() - 3_600_000)
const bootMs = (): number => Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'latin1'))![1]) * 1000

/** A pid no process holds here, nor in any namespace we can see (so a nested one can be given it). */
function freePid(): number {
  const inner = new Set<string>()
  for (const l of spawnSync('sh', ['-c', 'cat /proc/[0-9]*/status 2>/dev/null | grep ^NSpid'], {encoding: 'utf8'}).stdout.split('\n')) for (const n of l.split(/\s+/).slice(2)) inner.add(n)
  for (;;) {
    const n = 20_000 + Math.floor(Math.random() * 10_000)
    if (!existsSync(`/proc/${n}`) && !inner.has(String(n))) return n
  }
}

function lock(dir: string, name: string, pid: number, at = HOUR_AGO): string {
  const p = join(dir, name)
  writeFileSync(p, JSON.stringify({pid}))
  utimesSync(p, at, at)
  return p
}

const cannot = (): string | null => {
  if (process.getuid?.() !== 0) return 'needs root for unshare -p'
  const r = spawnSync('unshare', ['-p', '-f', '--mount-proc', 'true'])
  return r.status === 0 ? null : `unshare -p --mount-proc does not work here: ${r.stderr}`
}

describe('locks clean and pid namespaces', () => {
  it("keeps the lock of a process alive in another pid namespace (its pid is no one's on the host)", async (ctx) => {
    const why = cannot()
    if (why) {
      console.log(`skipped: ${why}`)
      ctx.skip()
    }
    const n = freePid()
    const out = join(j.tmp(), 'inner')
    // A "container": a new pid namespace whose next pid is n; its sleep writes the lock, as a sandboxed agent would.
    const c = spawn('unshare', ['-p', '-f', '--mount-proc', 'sh', '-c', `echo ${n - 1} > /proc/sys/kernel/ns_last_pid; sleep 600 & echo $! > ${out}; wait`], {stdio: 'ignore', detached: true})
    j.child(c)
    const inner = await until('the sleep in its namespace', () => (existsSync(out) && readFileSync(out, 'utf8').trim()) || null)
    expect(Number(inner)).toBe(n)
    expect(existsSync(`/proc/${n}`)).toBe(false) // on the host, pid n is no one's: "dead" to a naive look
    const dir = j.tmp()
    const held = lock(dir, 'agent.lock', n)
    const r = await medic(['locks', 'clean', '--dir', dir, '--max-age', '1m', '--json', '--state-dir', j.tmp()])
    expect(existsSync(held)).toBe(true)
    const v = JSON.parse(r.stdout) as {token: string; summary: string}
    expect(v.token).toBe('WATCHDOG_OK') // alive (elsewhere) is alive
    const rv = await medic(['locks', 'clean', '--dir', dir, '--max-age', '1m', '-v', '--state-dir', j.tmp()])
    expect(rv.stdout).toMatch(new RegExp(`pid ${n} is alive in another pid namespace \\(host pid \\d+\\)`))
  })

  it('inside a pid namespace of its own, medic keeps an old lock it cannot see the writer of, and says why; --lock-pids-local or a lock from before this boot goes', async (ctx) => {
    const why = cannot()
    if (why) {
      console.log(`skipped: ${why}`)
      ctx.skip()
    }
    const dir = j.tmp()
    const state = j.tmp()
    const inContainer = (extra: string[] = []) => {
      const r = spawnSync('unshare', ['-p', '-f', '--mount-proc', process.execPath, BIN, 'locks', 'clean', '--dir', dir, '--max-age', '1m', '--json', '--state-dir', state, ...extra], {encoding: 'utf8', env: {...process.env, NO_COLOR: '1'}})
      return {code: r.status, v: JSON.parse(r.stdout) as {token: string; summary: string}}
    }
    const p = lock(dir, 'a.lock', freePid())
    const kept = inContainer()
    expect(kept.v.token).toBe('WATCHDOG_ALERT')
    expect(kept.code).toBe(2)
    expect(kept.v.summary).toMatch(/a\.lock \(medic runs inside a pid namespace of its own/)
    expect(existsSync(p)).toBe(true)
    // Written before this boot: whoever wrote it is gone, whatever its namespace.
    const q = lock(dir, 'b.lock', freePid(), new Date(bootMs() - 86_400_000))
    inContainer()
    expect(existsSync(q)).toBe(false)
    expect(existsSync(p)).toBe(true)
    const forced = inContainer(['--lock-pids-local'])
    expect(forced.v.token).toBe('WATCHDOG_RECOVERED')
    expect(existsSync(p)).toBe(false)
  })
})
