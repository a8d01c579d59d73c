import {readFileSync, readdirSync, readlinkSync, statSync} from 'node:fs'
import {isDeadState, parseCmdline, parseStat, type ProcStat} from '../core/proc-parse.js'

export interface ProcInfo extends ProcStat {
  uid: number
  cmdline: string[]
}

export type Liveness = 'alive' | 'gone' | 'reused'

/** The process table, read from /proc. Everything returns data; a vanished pid is `null`. */
export interface ProcessTable {
  get(pid: number): ProcInfo | null
  stat(pid: number): ProcStat | null
  /** Is the process with this identity still running? Zombies count as gone. */
  liveness(pid: number, startTime: string): Liveness
  list(): number[]
  /** Nearest first: parent, grandparent … up to (not including) pid 0. */
  ancestors(pid: number): ProcInfo[]
  /** The roots and every process below them (by ppid), roots included. */
  descendants(roots: number[]): number[]
  /** CPU clock ticks (utime + stime) of each thread, by tid. */
  threadTicks(pid: number): Record<string, number>
  /** Bytes the process caused to be read from storage (`/proc/<pid>/io`, root or same user). */
  readBytes(pid: number): number | null
  userName(uid: number): string
  /** The value of one variable in the environment the process was started with; null when absent or unreadable. */
  envVar(pid: number, name: string): string | null
  /** Its cgroup v2 path (the `0::` line of /proc/<pid>/cgroup); null when unknown. */
  cgroup2(pid: number): string | null
  /** The executable it runs (/proc/<pid>/exe: the path it was exec'd by; ` (deleted)` once replaced on disk); null when unreadable (another user's, not root). */
  exe(pid: number): string | null
  /**
   * The user running it: the real uid (`/proc/<pid>/status`). `get().uid`, the owner of
   * /proc/<pid>, is root for a process that is not dumpable (one that changed its
   * credentials, or asked not to be), whoever runs it.
   */
  realUid(pid: number): number | null
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'latin1')
  } catch {
    return null
  }
}

let passwd: Map<number, string> | undefined

export const procTable: ProcessTable = {
  stat(pid) {
    const text = readText(`/proc/${pid}/stat`)
    return text === null ? null : parseStat(text)
  },
  get(pid) {
    const st = this.stat(pid)
    if (!st) return null
    let uid = -1
    try {
      uid = statSync(`/proc/${pid}`).uid
    } catch {
      return null
    }
    const cmd = readText(`/proc/${pid}/cmdline`)
    return {...st, uid, cmdline: cmd === null ? [] : parseCmdline(cmd)}
  },
  liveness(pid, startTime) {
    const st = this.stat(pid)
    if (!st) return 'gone'
    if (st.startTime !== startTime) return 'reused'
    return isDeadState(st.state) ? 'gone' : 'alive'
  },
  list() {
    return readdirSync('/proc').filter((n) => /^\d+$/.test(n)).map(Number)
  },
  ancestors(pid) {
    const out: ProcInfo[] = []
    const seen = new Set<number>([pid])
    let cur = this.stat(pid)?.ppid ?? 0
    while (cur > 0 && !seen.has(cur)) {
      seen.add(cur)
      const p = this.get(cur)
      if (!p) break
      out.push(p)
      cur = p.ppid
    }
    return out
  },
  descendants(roots) {
    if (roots.length === 0) return []
    const children = new Map<number, number[]>()
    for (const pid of this.list()) {
      const st = this.stat(pid)
      if (st) children.set(st.ppid, [...(children.get(st.ppid) ?? []), pid])
    }
    const out = new Set(roots)
    const queue = [...roots]
    while (queue.length) for (const c of children.get(queue.pop()!) ?? []) if (!out.has(c)) (out.add(c), queue.push(c))
    return [...out]
  },
  threadTicks(pid) {
    const out: Record<string, number> = {}
    let tids: string[] = []
    try {
      tids = readdirSync(`/proc/${pid}/task`)
    } catch {}
    for (const tid of tids) {
      const t = readText(`/proc/${pid}/task/${tid}/stat`)
      const st = t === null ? null : parseStat(t)
      if (st) out[tid] = st.utimeTicks + st.stimeTicks
    }
    return out
  },
  readBytes(pid) {
    const m = /read_bytes:\s*(\d+)/.exec(readText(`/proc/${pid}/io`) ?? '')
    return m ? Number(m[1]) : null
  },
  envVar(pid, name) {
    // environ can be large; a Buffer scan avoids decoding all of it.
    let buf: Buffer
    try {
      buf = readFileSync(`/proc/${pid}/environ`)
    } catch {
      return null
    }
    const key = Buffer.from(`${name}=`)
    for (let at = 0; at < buf.length; ) {
      const end = buf.indexOf(0, at)
      const stop = end < 0 ? buf.length : end
      if (stop - at >= key.length && buf.compare(key, 0, key.length, at, at + key.length) === 0) return buf.toString('latin1', at + key.length, stop)
      at = stop + 1
    }
    return null
  },
  realUid(pid) {
    const m = /^Uid:\s+(\d+)/m.exec(readText(`/proc/${pid}/status`) ?? '')
    return m ? Number(m[1]) : null
  },
  exe(pid) {
    try {
      return readlinkSync(`/proc/${pid}/exe`)
    } catch {
      return null
    }
  },
  cgroup2(pid) {
    const m = /^0::(\S*)$/m.exec(readText(`/proc/${pid}/cgroup`) ?? '')
    return m ? m[1] : null
  },
  userName(uid) {
    if (!passwd) {
      passwd = new Map()
      for (const line of (readText('/etc/passwd') ?? '').split('\n')) {
        const f = line.split(':')
        if (f.length > 2) passwd.set(Number(f[2]), f[0])
      }
    }
    return passwd.get(uid) ?? String(uid)
  },
}
