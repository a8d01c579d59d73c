import {closeSync, constants, existsSync, openSync, readdirSync, readSync, rmdirSync, mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {spawnSync} from 'node:child_process'

/**
 * The kernel's `signal/signal_generate` tracepoint, through a private tracefs instance
 * (`instances/medic-<pid>-<n>`): its buffer and its event switches are medic's own, so the
 * global tracing state is never touched, and removing the instance (on every exit path)
 * leaves nothing enabled. `sched/sched_process_fork` is enabled beside it to follow children.
 */
export class TracefsSession {
  private fd: number | null = null
  private partial = ''
  private readonly buf = Buffer.alloc(256 * 1024)
  private cleanup = () => this.close()

  private constructor(private readonly dir: string) {}

  static open(): {ok: true; session: TracefsSession} | {ok: false; reason: string} {
    if ((process.getuid?.() ?? 0) !== 0) return {ok: false, reason: 'not root: the signal_generate tracepoint needs root'}
    let root = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'].find((d) => existsSync(join(d, 'instances')))
    if (!root) {
      const m = spawnSync('mount', ['-t', 'tracefs', 'nodev', '/sys/kernel/tracing'], {timeout: 5000})
      if (m.status === 0 && existsSync('/sys/kernel/tracing/instances')) root = '/sys/kernel/tracing'
      else return {ok: false, reason: 'tracefs is not mounted and could not be mounted'}
    }
    if (!existsSync(join(root, 'events/signal/signal_generate'))) return {ok: false, reason: 'this kernel has no signal/signal_generate tracepoint'}
    TracefsSession.reapStale(root)
    const dir = join(root, 'instances', `medic-${process.pid}-${Date.now().toString(36)}`)
    try {
      mkdirSync(dir)
      const s = new TracefsSession(dir)
      process.once('exit', s.cleanup)
      try {
        writeFileSync(join(dir, 'buffer_size_kb'), '2048')
      } catch {}
      writeFileSync(join(dir, 'events/signal/signal_generate/filter'), 'sig != 17') // not SIGCHLD
      writeFileSync(join(dir, 'events/signal/signal_generate/enable'), '1')
      if (existsSync(join(dir, 'events/sched/sched_process_fork'))) writeFileSync(join(dir, 'events/sched/sched_process_fork/enable'), '1')
      s.fd = openSync(join(dir, 'trace_pipe'), constants.O_RDONLY | constants.O_NONBLOCK)
      return {ok: true, session: s}
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

  /** Disable, close, remove the instance. Idempotent; also runs on process exit. */
  close(): void {
    if (this.fd !== null) {
      try {
        closeSync(this.fd)
      } catch {}
      this.fd = null
    }
    for (const ev of ['signal/signal_generate', 'sched/sched_process_fork']) {
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
