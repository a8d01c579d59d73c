import {readFileSync} from 'node:fs'
import {TracefsInstance} from './tracefs.js'

/**
 * Proof that nothing left a cgroup medic made (docs/contract.md §3.11). A root process can
 * write itself into any other cgroup's `cgroup.procs`; cgroup v2 keeps no record of who
 * left. The kernel's tracepoints do: `sched/sched_process_fork` gives every process's
 * parent (a lineage no process can fake) and `cgroup/cgroup_attach_task` every move on the
 * v2 hierarchy (`dst_root == 0`). Seeded with supervise's own pid, the lineage is every
 * process it started and their descendants; a move of one of them to a cgroup outside the
 * service's is an escape, and a child forked outside starts outside. Events the buffer
 * dropped (an overrun) mean nothing is proven. A private tracefs instance.
 */
export class CgroupEscapeWatch {
  private readonly lineage = new Set<number>()
  private readonly moved = new Map<number, string>()

  private constructor(private readonly trace: TracefsInstance, private readonly cgroupPath: string, private readonly seed: number) {
    this.lineage.add(seed)
  }

  /** `cgroupPath` as the v2 hierarchy names it (`/medic-supervise-…`). */
  static open(cgroupPath: string, seed: number): {ok: true; watch: CgroupEscapeWatch} | {ok: false; reason: string} {
    const t = TracefsInstance.open({tag: 'cg', required: ['cgroup/cgroup_attach_task', 'sched/sched_process_fork', 'sched/sched_process_exit'], filters: {'cgroup/cgroup_attach_task': 'dst_root == 0'}, bufferKb: 4096})
    return t.ok ? {ok: true, watch: new CgroupEscapeWatch(t.instance, cgroupPath, seed)} : t
  }

  /** Reads what the kernel recorded since the last call. Never blocks; call it often (the buffer is finite). */
  drain(): void {
    const inside = (p: string) => p === this.cgroupPath || p.startsWith(`${this.cgroupPath}/`)
    for (const line of this.trace.read()) {
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

  /**
   * Processes of the service outside its cgroup (pid → where): those seen moving out (and
   * what they forked since), and any live process of the lineage found elsewhere now — a
   * child created straight into another cgroup (clone3 CLONE_INTO_CGROUP) makes no move.
   * The seed itself (medic) and threads are not the service.
   */
  escaped(): Map<number, string> {
    this.drain()
    const out = new Map(this.moved)
    const inside = (p: string) => p === this.cgroupPath || p.startsWith(`${this.cgroupPath}/`)
    for (const pid of this.lineage) {
      if (pid === this.seed || out.has(pid)) continue
      try {
        const status = readFileSync(`/proc/${pid}/status`, 'latin1')
        if (Number(/^Tgid:\s*(\d+)/m.exec(status)?.[1]) !== pid || /^State:\s*[ZX]/m.test(status)) continue // a thread, or gone
        const cg = /^0::(\S*)$/m.exec(readFileSync(`/proc/${pid}/cgroup`, 'latin1'))?.[1]
        if (cg !== undefined && !inside(cg)) out.set(pid, cg)
      } catch {}
    }
    return out
  }

  /** Events the kernel dropped (the buffer overran): then nothing is proven. */
  overrun(): number {
    return this.trace.overrun()
  }

  close(): void {
    this.trace.close()
  }
}
