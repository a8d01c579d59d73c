import {EventEmitter} from 'node:events'
import {afterEach, describe, expect, it} from 'vitest'
import {killTrace, type KillTraceInput, type TraceDeps} from '../../src/ops/kill-trace.js'
import type {Child, JobSpec} from '../../src/sys/spawn-job.js'
import type {Tracer} from '../../src/sys/tracer.js'
import {fakeSignalHub} from '../helpers/fake-signal-hub.js'
import {fakeWorld, SELF} from '../helpers/fake-world.js'

let world: ReturnType<typeof fakeWorld>
afterEach(() => world?.cleanup())

/** A child of the fake world: a process (its parent is medic) that exits when `end` is called. */
class FakeChild extends EventEmitter implements Child {
  exitCode: number | null = null
  signalCode: NodeJS.Signals | null = null
  readonly stdout = null
  readonly stderr = null
  constructor(readonly pid: number | undefined) {
    super()
  }
  end(code: number | null, signal: NodeJS.Signals | null) {
    this.exitCode = code
    this.signalCode = signal
    if (this.pid) world.exit(this.pid)
    this.emit('exit', code, signal)
  }
  unref() {}
}

const line = (sender: string, senderPid: number, sig: number, target: string, targetPid: number) =>
  `${sender.padStart(16)}-${senderPid}    [000] d..1.  3223.463001: signal_generate: sig=${sig} errno=0 code=0 comm=${target} pid=${targetPid} grp=1 res=0`

/** tracefs (or its absence), strace (or its absence), and a kernel log, all scripted; every call recorded. */
function fakeTracer(o: {tracefs: boolean; strace: boolean; lines?: string[]}) {
  const queue = [...(o.lines ?? [])]
  const calls: string[] = []
  const tracer: Tracer = {
    tracefs: () => {
      calls.push('tracefs')
      return o.tracefs ? {ok: true, session: {read: () => queue.splice(0), close: () => void calls.push('tracefs closed')}} : {ok: false, reason: 'not root'}
    },
    straceInstalled: () => (calls.push('strace -V'), o.strace),
    straceOutput: () => ({path: '/nonexistent/trace', read: () => [], remove: () => void calls.push('strace output removed')}),
    stracePrefix: (f, out) => ['strace', ...(f ? ['-f'] : []), '-o', out, '--'],
    straceAttach: (pid) => {
      calls.push(`strace -p ${pid}`)
      world.add({pid: 950, comm: 'strace', ppid: SELF})
      return new FakeChild(950)
    },
    memoryCgroup: () => null,
    memoryLimit: () => null,
    oomKills: () => null,
    kernelLog: () => (calls.push('dmesg'), ''),
  }
  return {tracer, calls, push: (l: string) => queue.push(l)}
}

function deps(tracer: Tracer, onJob?: (c: FakeChild, spec: JobSpec) => void) {
  const hub = fakeSignalHub()
  const jobs: JobSpec[] = []
  const d: TraceDeps = {
    ...world.deps, signals: hub, tracer,
    spawner: {
      job: (spec) => {
        jobs.push(spec)
        world.add({pid: 800, comm: 'job', ppid: SELF})
        const c = new FakeChild(800)
        onJob?.(c, spec)
        return c
      },
    },
  }
  return {d, hub, jobs}
}

const run = (over: Partial<KillTraceInput>): KillTraceInput => ({command: ['job'], pid: null, durationMs: null, followChildren: true, backend: 'auto', ...over})

describe('kill-trace (ops with a fake tracer, spawner, signal hub and world; the real signal gate)', () => {
  it('names the sender of the SIGKILL, read while it lived, and explains exit 137', async () => {
    world = fakeWorld()
    world.add({pid: 900, comm: 'bash', ppid: 1, uid: 1001, cmdline: ['bash', '-c', 'kill -9 800']})
    const t = fakeTracer({tracefs: true, strace: false})
    const {d, jobs, hub} = deps(t.tracer, (c) => {
      t.push(line('bash', 900, 9, 'job', 800))
      void d.clock.sleep(0).then(() => c.end(null, 'SIGKILL'))
    })
    const {verdict, exit} = await killTrace(run({}), d)
    expect(jobs).toEqual([{argv: ['job'], stdio: ['inherit', 2, 2]}]) // its own process group (the spawner's job), output to stderr
    expect(exit).toBe(137)
    expect(verdict.status).toBe('ALERT')
    expect(verdict.summary).toMatch(/SIGKILL/)
    expect(verdict.details?.[0]).toMatch(/^SIGKILL → pid 800 .* from pid 900 \(bash, user user1001\): bash -c kill -9 800/)
    expect(t.calls).toEqual(['tracefs', 'tracefs closed', 'dmesg'])
    expect(hub.count()).toBe(0) // Ctrl+C handling ended with the trace
  })

  it("forwards Ctrl+C to the job's process group through the gate, never to medic", async () => {
    world = fakeWorld()
    const t = fakeTracer({tracefs: true, strace: false})
    let child: FakeChild | null = null
    const {d, hub} = deps(t.tracer, (c) => (child = c))
    world.add({pid: 801, comm: 'job-worker', ppid: 800, pgid: 800})
    const tracing = killTrace(run({}), d)
    await new Promise((r) => setImmediate(r))
    hub.raise('SIGINT')
    expect(world.events).toEqual(['SIGINT 800', 'SIGINT 801'])
    child!.end(null, 'SIGINT')
    const {verdict, exit} = await tracing
    expect(exit).toBe(130)
    // The user ended it, not a killer: UNKNOWN, naming the signal medic passed on.
    expect(verdict.status).toBe('UNKNOWN')
    expect(verdict.summary).toMatch(/^interrupted by the user: medic received SIGINT \(Ctrl\+C\) and passed it on; pid 800 ended by SIGINT/)
  })

  it('without tracefs and strace: UNKNOWN, and nothing is started', async () => {
    world = fakeWorld()
    const t = fakeTracer({tracefs: false, strace: false})
    const {d, jobs} = deps(t.tracer)
    const {verdict} = await killTrace(run({}), d)
    expect(verdict).toMatchObject({status: 'UNKNOWN'})
    expect(verdict.summary).toMatch(/could not trace: tracefs unavailable: not root; strace is not installed either/)
    expect(jobs).toEqual([])
  })

  it('attached by strace to a pid until it vanishes: strace ended through the gate, its output removed', async () => {
    world = fakeWorld()
    world.add({pid: 700, comm: 'svc'})
    const t = fakeTracer({tracefs: false, strace: true})
    const {d} = deps(t.tracer)
    const tracing = killTrace(run({command: null, pid: 700}), d)
    await d.clock.sleep(0)
    world.exit(700)
    const {verdict} = await tracing
    expect(verdict.status).toBe('ALERT')
    expect(t.calls).toEqual(['tracefs', 'strace -V', 'strace -p 700', 'strace output removed', 'dmesg'])
    expect(world.events).toEqual(['SIGTERM 950'])
  })
})
