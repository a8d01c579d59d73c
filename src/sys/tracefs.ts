import {closeSync, constants, existsSync, openSync, readdirSync, readFileSync, readSync, rmdirSync, mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {spawnSync} from 'node:child_process'

/**
 * A private tracefs instance (`instances/medic-<pid>-<tag><n>`): its buffer and its event
 * switches are medic's own, so the global tracing state is never touched, and removing the
 * instance (on every exit path, and by the next medic when one was SIGKILLed: the name
 * carries its pid) leaves nothing enabled.
 */
export class TracefsInstance {
  private fd: number | null = null
  private partial = ''
  private readonly buf = Buffer.alloc(256 * 1024)
  private cleanup = () => this.close()
  /** Event times are CLOCK_MONOTONIC seconds (else the kernel's local trace clock). */
  monotonic = false

  private constructor(private readonly dir: string, private readonly events: string[]) {}

  /** `events` (`group/name`) enabled, each with its filter if given; `required` must exist, the others are enabled when present. */
  static open(o: {tag: string; required: string[]; optional?: string[]; filters?: Record<string, string>; bufferKb: number; monotonic?: boolean}): {ok: true; instance: TracefsInstance} | {ok: false; reason: string} {
    if ((process.getuid?.() ?? 0) !== 0) return {ok: false, reason: `not root: the ${o.required.join(', ')} tracepoint(s) need root`}
    let root = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'].find((d) => existsSync(join(d, 'instances')))
    if (!root) {
      const m = spawnSync('mount', ['-t', 'tracefs', 'nodev', '/sys/kernel/tracing'], {timeout: 5000})
      if (m.status === 0 && existsSync('/sys/kernel/tracing/instances')) root = '/sys/kernel/tracing'
      else return {ok: false, reason: 'tracefs is not mounted and could not be mounted'}
    }
    for (const ev of o.required) if (!existsSync(join(root, 'events', ev))) return {ok: false, reason: `this kernel has no ${ev} tracepoint`}
    TracefsInstance.reapStale(root)
    const events = [...o.required, ...(o.optional ?? []).filter((ev) => existsSync(join(root!, 'events', ev)))]
    const dir = join(root, 'instances', `medic-${process.pid}-${o.tag}${Date.now().toString(36)}`)
    try {
      mkdirSync(dir)
      const t = new TracefsInstance(dir, events)
      process.once('exit', t.cleanup)
      try {
        writeFileSync(join(dir, 'buffer_size_kb'), String(o.bufferKb))
      } catch {}
      // CLOCK_MONOTONIC stamps (the default `local` clock is its own): events are then
      // placed on medic's clock (sys/clock monotonicMs), so "+1.2s" is since the trace began.
      if (o.monotonic) {
        try {
          writeFileSync(join(dir, 'trace_clock'), 'mono')
          t.monotonic = true
        } catch {}
      }
      for (const ev of events) {
        if (o.filters?.[ev]) writeFileSync(join(dir, 'events', ev, 'filter'), o.filters[ev])
        writeFileSync(join(dir, 'events', ev, 'enable'), '1')
      }
      t.fd = openSync(join(dir, 'trace_pipe'), constants.O_RDONLY | constants.O_NONBLOCK)
      return {ok: true, instance: t}
    } catch (e) {
      try {
        rmdirSync(dir)
      } catch {}
      return {ok: false, reason: `cannot set up a tracefs instance: ${(e as Error).message}`}
    }
  }

  /** Instances left by a medic that was SIGKILLed: their pid is gone. */
  private static reapStale(root: string): void {
    for (const n of readdirSync(join(root, 'instances'))) {
      const m = /^medic-(\d+)-/.exec(n)
      if (m && !existsSync(`/proc/${m[1]}`)) {
        try {
          rmdirSync(join(root, 'instances', n))
        } catch {}
      }
    }
  }

  get path(): string {
    return this.dir
  }

  /** Everything the kernel has written since the last read, as whole lines. Never blocks. */
  read(): string[] {
    if (this.fd === null) return []
    let text = this.partial
    for (;;) {
      let n = 0
      try {
        n = readSync(this.fd, this.buf, 0, this.buf.length, null)
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EAGAIN') break
        throw e
      }
      if (n <= 0) break
      text += this.buf.toString('utf8', 0, n)
    }
    const lines = text.split('\n')
    this.partial = lines.pop() ?? ''
    return lines
  }

  /** Events the kernel dropped because the buffer was full (-1: unknown). */
  overrun(): number {
    let total = 0
    try {
      for (const cpu of readdirSync(join(this.dir, 'per_cpu'))) {
        const m = /^overrun: (\d+)$/m.exec(readFileSync(join(this.dir, 'per_cpu', cpu, 'stats'), 'latin1'))
        total += m ? Number(m[1]) : 0
      }
    } catch {
      return -1
    }
    return total
  }

  /** Disable, close, remove the instance. Idempotent; also runs on process exit. */
  close(): void {
    if (this.fd !== null) {
      try {
        closeSync(this.fd)
      } catch {}
      this.fd = null
    }
    for (const ev of this.events) {
      try {
        writeFileSync(join(this.dir, 'events', ev, 'enable'), '0')
      } catch {}
    }
    try {
      rmdirSync(this.dir)
    } catch {}
    process.removeListener('exit', this.cleanup)
  }
}

/**
 * The kernel's `signal/signal_generate` tracepoint (SIGCHLD filtered out), with
 * `sched/sched_process_fork` beside it to follow children.
 */
export const TracefsSession = {
  open(): {ok: true; session: TracefsInstance} | {ok: false; reason: string} {
    const r = TracefsInstance.open({tag: '', required: ['signal/signal_generate'], optional: ['sched/sched_process_fork'], filters: {'signal/signal_generate': 'sig != 17'}, bufferKb: 2048, monotonic: true})
    return r.ok ? {ok: true, session: r.instance} : r
  },
}
export type TracefsSession = TracefsInstance
