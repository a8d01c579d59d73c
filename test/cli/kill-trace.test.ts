import {spawn} from 'node:child_process'
import {existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {BIN, expectContract, Janitor, medic, ROOT} from '../helpers/procs.js'

const j = new Janitor()
afterEach(() => j.cleanup())

const JOB = join(ROOT, 'test/fixtures/proc/job.mjs')
const PROTECTOR = join(ROOT, 'test/fixtures/proc/protector.mjs')
const isRoot = process.getuid?.() === 0
const TRACING = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'].find((d) => existsSync(join(d, 'events/signal/signal_generate')))

function tracefsReason(): string | null {
  if (!isRoot) return 'needs root for the signal_generate tracepoint'
  return null
}

function protector(pidFile: string, ...args: string[]) {
  const p = spawn(process.execPath, [PROTECTOR, '--pid-file', pidFile, ...args], {stdio: 'ignore', detached: true})
  j.child(p)
  return p
}

describe('medic kill-trace', () => {
  it('names the protector that sent SIGTERM then SIGKILL (exit 137 explained)', async () => {
    const why = tracefsReason()
    if (why) return console.log(`skipped: ${why}`)
    const pidFile = join(j.tmp(), 'job.pid')
    const p = protector(pidFile, '--after', '300')
    const r = await medic(['kill-trace', '--json', '--', process.execPath, JOB, '--ignore-term', '--pid-file', pidFile])
    const out = JSON.parse(r.stdout)
    expect(out.token).toBe('TRACE_ALERT')
    expect(r.code).toBe(2)
    expect(out.summary).toMatch(new RegExp(`^killed by SIGKILL \\(exit status 137 = 128 \\+ 9\\); sent by pid ${p.pid} \\(node, user root: .*protector\\.mjs`))
    expect(out.causes.join(' ')).toMatch(/stop timeout: SIGTERM then SIGKILL \d+ms later from the same sender/)
    expect(out.counts).toEqual([{signal: 'SIGTERM', sender: `node (pid ${p.pid})`, count: 1}, {signal: 'SIGKILL', sender: `node (pid ${p.pid})`, count: 1}])
    expect(out.fatalSender.cmdline).toContain(PROTECTOR)
  })

  it('says OOM killer, with the kernel evidence, for a job killed in a small memory cgroup', async () => {
    const base = '/sys/fs/cgroup/memory'
    if (!isRoot || !existsSync(join(base, 'memory.limit_in_bytes'))) return console.log('skipped: needs root and the cgroup v1 memory controller at /sys/fs/cgroup/memory')
    const cg = join(base, `medic-test-${process.pid}`)
    mkdirSync(cg, {recursive: true})
    try {
      writeFileSync(join(cg, 'memory.limit_in_bytes'), String(64 * 1024 * 1024))
      const hog = `echo $$ > ${cg}/cgroup.procs; exec ${process.execPath} -e "const a=[]; for(;;) a.push(Buffer.alloc(1<<20).fill(1))"`
      const r = await medic(['kill-trace', '--json', '--', 'sh', '-c', hog])
      const out = JSON.parse(r.stdout)
      expect(out.token).toBe('TRACE_ALERT')
      // The kernel's line names the cgroup whose limit was hit (the job entered it after it started): its own, not medic's.
      expect(out.summary).toMatch(new RegExp(`^killed by SIGKILL \\(exit status 137 = 128 \\+ 9\\); sent by the kernel OOM killer in its own cgroup; the kernel OOM killer in its own cgroup \\(/medic-test-${process.pid}, memory limit 64`))
      expect(out.causes[0]).toMatch(/Killed process \d+ \(node\)/)
    } finally {
      for (let i = 0; i < 100; i++) {
        try {
          rmdirSync(cg)
          break
        } catch {
          await new Promise((r) => setTimeout(r, 20))
        }
      }
    }
  })

  it('falls back to strace: names the sender of a SIGTERM, and says it cannot see a SIGKILL sender', async () => {
    const pidFile = join(j.tmp(), 'job.pid')
    const p = protector(pidFile, '--after', '300')
    const r = await medic(['kill-trace', '--tracer', 'strace', '--json', '--', process.execPath, JOB, '--ignore-term', '--pid-file', pidFile])
    const out = JSON.parse(r.stdout)
    expect(out.backend).toBe('strace')
    expect(out.token).toBe('TRACE_ALERT')
    expect(out.signals.find((s: {signal: string}) => s.signal === 'SIGTERM').sender.pid).toBe(p.pid)
    expect(out.limitations.join(' ')).toMatch(/never the sender of a SIGKILL/)
  })

  it.each([['SIGINT', ' (Ctrl+C)'], ['SIGTERM', '']] as const)('restores tracefs on %s to medic (Ctrl+C, timeout): no instance left, the global event untouched; says the user interrupted, not that medic killed the job', async (sig, what) => {
    const why = tracefsReason()
    if (why || !TRACING) return console.log(`skipped: ${why ?? 'no tracefs'}`)
    const enable = join(TRACING, 'events/signal/signal_generate/enable')
    const before = readFileSync(enable, 'utf8')
    const pidFile = join(j.tmp(), 'job.pid')
    const c = spawn(process.execPath, [BIN, 'kill-trace', '--', process.execPath, JOB, '--pid-file', pidFile], {stdio: ['ignore', 'pipe', 'ignore'], detached: true})
    j.child(c)
    let out = ''
    c.stdout!.on('data', (d) => (out += d))
    const mine = () => readdirSync(join(TRACING, 'instances')).filter((n) => n.startsWith(`medic-${c.pid}-`))
    for (let i = 0; i < 500 && !(existsSync(pidFile) && mine().length); i++) await new Promise((r) => setTimeout(r, 10))
    expect(mine()).toHaveLength(1)
    const code = new Promise((r) => c.once('exit', r))
    process.kill(c.pid!, sig)
    expect(await code).toBe(3)
    expect(mine()).toEqual([])
    expect(readFileSync(enable, 'utf8')).toBe(before)
    // the signal is passed on as it came, and the job's end is not blamed on medic
    expect(out).toMatch(new RegExp(`^TRACE_UNKNOWN: interrupted by the user: medic received ${sig}${what.replace(/[()+]/g, '\\$&')} and passed it on; pid \\d+ ended by ${sig}; the trace is incomplete\n$`))
    expect(out).not.toMatch(/sent by/)
  })

  it('attaches to a running process for --duration and reports it still running', async () => {
    const why = tracefsReason()
    if (why) return console.log(`skipped: ${why}`)
    const pidFile = join(j.tmp(), 'job.pid')
    const job = spawn(process.execPath, [JOB, '--pid-file', pidFile], {stdio: 'ignore', detached: true})
    j.child(job)
    for (let i = 0; i < 500 && !existsSync(pidFile); i++) await new Promise((r) => setTimeout(r, 5))
    const r = await medic(['kill-trace', '--pid', String(job.pid), '--duration', '300ms'])
    expectContract(r, 'TRACE_OK')
    expect(r.lines[0]).toMatch(/still running after the trace; no signal received/)
  })

  it('is UNKNOWN for a pid that does not exist, or for no target at all', async () => {
    expectContract(await medic(['kill-trace', '--pid', '999999999']), 'TRACE_UNKNOWN')
    const none = await medic(['kill-trace'])
    expectContract(none, 'TRACE_UNKNOWN')
    expect(none.code).toBe(3)
  })
})
