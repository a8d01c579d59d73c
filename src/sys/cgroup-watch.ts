import {closeSync, constants, existsSync, openSync, readdirSync, readFileSync, readSync, rmdirSync, mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

/**
 * Proof that nothing left a cgroup medic made (docs/contract.md §3.11). A root process can
 * write itself into any other cgroup's `cgroup.procs`; cgroup v2 keeps no record of who
 * left. The kernel's tracepoints do: `sched/sched_process_fork` gives every process's
 * parent (a lineage no process can fake) and `cgroup/cgroup_attach_task` every move on the
 * v2 hierarchy (`dst_root == 0`). Seeded with supervise's own pid, the lineage is every
 * process it started and their descendants; a move of one of them to a cgroup outside the
 * service's is an escape. Events the buffer dropped (an overrun) mean nothing is proven.
 * A private tracefs instance, removed on every exit path (its name carries medic's pid,
 * so a SIGKILLed medic's instance is reaped by the next).
 */
export class CgroupEscapeWatch {
  private fd: number | null = null
  private partial = ''
  private readonly buf = Buffer.alloc(256 * 1024)
  private readonly lineage = new Set<number>()
  private readonly moved = new Map<number, string>()
  private cleanup = () => this.close()

  private constructor(private readonly dir: string, private readonly cgroupPath: string, seed: number) {
    this.lineage.add(seed)
  }

  /** `cgroupPath` as the v2 hierarchy names it (`/medic-supervise-…`). */
  static open(cgroupPath: string, seed: number): {ok: true; watch: CgroupEscapeWatch} | {ok: false; reason: string} {
    if ((process.getuid?.() ?? 0) !== 0) return {ok: false, reason: 'not root: the kernel tracepoints need root'}
    const root = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'].find((d) => existsSync(join(d, 'instances')))
    if (!root) return {ok: false, reason: 'tracefs is not mounted'}
    for (const ev of ['cgroup/cgroup_attach_task', 'sched/sched_process_fork', 'sched/sched_process_exit']) {
      if (!existsSync(join(root, 'events', ev))) return {ok: false, reason: `this kernel has no ${ev} tracepoint`}
    }
    for (const n of readdirSync(join(root, 'instances'))) {
      const m = /^medic-(\d+)-/.exec(n)
      if (m && !existsSync(`/proc/${m[1]}`)) {
        try {
          rmdirSync(join(root, 'instances', n))
        } catch {}
      }
    }
    const dir = join(root, 'instances', `medic-${process.pid}-cg${Date.now().toString(36)}`)
    try {
      mkdirSync(dir)
      const w = new CgroupEscapeWatch(dir, cgroupPath, seed)
      process.once('exit', w.cleanup)
      try {
        writeFileSync(join(dir, 'buffer_size_kb'), '4096')
      } catch {}
      writeFileSync(join(dir, 'events/cgroup/cgroup_attach_task/filter'), 'dst_root == 0')
      for (const ev of ['cgroup/cgroup_attach_task', 'sched/sched_process_fork', 'sched/sched_process_exit']) writeFileSync(join(dir, 'events', ev, 'enable'), '1')
      w.fd = openSync(join(dir, 'trace_pipe'), constants.O_RDONLY | constants.O_NONBLOCK)
      return {ok: true, watch: w}
    } catch (e) {
      try {
        rmdirSync(dir)
      } catch {}
      return {ok: false, reason: `cannot set up a tracefs instance: ${(e as Error).message}`}
    }
  }

  /** Reads what the kernel recorded since the last call. Never blocks; call it often (the buffer is finite). */
  drain(): void {
    if (this.fd === null) return
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
    const inside = (p: string) => p === this.cgroupPath || p.startsWith(`${this.cgroupPath}/`)
    for (const line of lines) {
      let m = /sched_process_fork: .*\spid=(\d+) child_comm=.*\schild_pid=(\d+)/.exec(line)
      if (m) {
        const [parent, child] = [Number(m[1]), Number(m[2])]
        if (this.lineage.has(parent)) this.lineage.add(child)
        // A child forked outside the cgroup starts outside it (it never "moves").
        const out = this.moved.get(parent)
        if (out !== undefined) this.moved.set(child, out)
        continue
      }
      m = /cgroup_attach_task: .*\sdst_path=(\S*) pid=(\d+) comm=/.exec(line)
      if (m) {
        const pid = Number(m[2])
        if (this.lineage.has(pid) && !inside(m[1])) this.moved.set(pid, m[1])
        else if (inside(m[1])) this.moved.delete(pid)
        continue
      }
      m = /sched_process_exit: .*\spid=(\d+) /.exec(line)
      if (m) {
        this.lineage.delete(Number(m[1]))
        this.moved.delete(Number(m[1]))
      }
    }
  }

  /** Processes of the service that were moved out of its cgroup and have not exited since (pid → where to). */
  escaped(): Map<number, string> {
    this.drain()
    return new Map(this.moved)
  }

  /** Events the kernel dropped (the buffer overran): then nothing is proven. */
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

  close(): void {
    if (this.fd !== null) {
      try {
        closeSync(this.fd)
      } catch {}
      this.fd = null
    }
    for (const ev of ['cgroup/cgroup_attach_task', 'sched/sched_process_fork', 'sched/sched_process_exit']) {
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
