import {spawn, spawnSync} from 'node:child_process'
import {chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
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
