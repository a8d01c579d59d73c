import {readdirSync, readFileSync} from 'node:fs'
import {spawn} from 'node:child_process'
import {statfs} from 'node:fs/promises'
import {cpuBusyPercent, LOCAL_FS_TYPES, mountTypeOf, memoryUsedPercent, parseCpuTimes, parseMeminfo, parsePressure, parseProcStatus, parseWriteBytes, procCpuPercent, type CpuTimes} from '../core/guard-parse.js'
import type {DiskReading, HostSample} from '../core/guard-ladder.js'
import {parseCmdline, parseStat} from '../core/proc-parse.js'
import type {ProcFacts} from '../core/guard-rank.js'

export type {ProcFacts}

/**
 * What `medic guard` reads each sample: /proc files only (procfs reads never wait on a
 * disk), and statfs of the watched paths asynchronously with a deadline (a hung NFS mount
 * must not stall the loop) — of a local file system in-process, of any other in a child
 * (statfsInChild). No process is spawned per sample for local paths (the default, /).
 * The process table is read only when a resource is over its limit: an idle guard reads
 * a handful of small files.
 */

/**
 * statfs of a file system that may never answer (network, FUSE, unknown), in a child
 * (`stat -f`) killed at the deadline: a child stuck in the kernel is never waited for, a
 * thread would be (Node joins its worker threads at exit, so one stuck statfs would keep
 * medic from ever exiting). Resolves [blocks, bfree, bavail, bsize].
 */
function statfsInChild(path: string, timeoutMs: number): Promise<[number, number, number, number]> {
  return new Promise((resolve, reject) => {
    const c = spawn('stat', ['-f', '-c', '%b %f %a %S', '--', path], {stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs, killSignal: 'SIGKILL'})
    c.unref()
    let out = ''
    let err = ''
    c.stdout!.on('data', (d) => (out += d))
    c.stderr!.on('data', (d) => (err += d))
    c.once('error', reject)
    c.once('close', (code) => {
      const n = out.trim().split(' ').map(Number)
      if (code === 0 && n.length === 4 && n.every(Number.isFinite)) resolve(n as [number, number, number, number])
      else reject(Object.assign(new Error(err.trim().split('\n')[0] || `stat -f exited ${code}`), {code: /No such file/.test(err) ? 'ENOENT' : undefined}))
    })
  })
}

/** Linux's USER_HZ: /proc times are in 1/100 s on every architecture medic runs on. */
const TICKS = 100

function read(path: string): string | null {
  try {
    return readFileSync(path, 'latin1')
  } catch {
    return null
  }
}


interface Prev {
  ticks: number
  write: number | null
  at: number
}

export interface GuardSampler {
  /** The host's numbers; CPU busy % since the previous call (null on the first). */
  host(paths: string[], at: number): Promise<HostSample>
  /**
   * Every process, with CPU and write rates since the previous call of this. Only stat,
   * status (and io with `writes`) are read for all; the command line, cgroup and oom_score
   * only for the processes `detail` picks (the offenders): a busy host has hundreds.
   */
  procs(o: {writes: boolean; detail?: (f: ProcFacts) => boolean; prefilter?: {minRssKiB: number; keep: ReadonlySet<number>}}): ProcFacts[]
  /** One process now, without rates (the last look before acting); null when gone. */
  proc(pid: number): ProcFacts | null
  /** ms since boot (the one-pass startup grace counts from boot). */
  uptimeMs(): number | null
}

export function makeGuardSampler(o: {monotonic: () => number; diskTimeoutMs?: number}): GuardSampler {
  let cpuPrev: CpuTimes | null = null
  let procPrev = new Map<string, Prev>()
  const diskTimeoutMs = o.diskTimeoutMs ?? 2000

  // A statfs that never answers (a hung NFS or FUSE mount) holds a libuv worker thread until it does:
  // while one is pending for a path, no other is started there, so a hung mount costs one thread, not one per sample.
  const pending = new Map<string, number>()
  const disk = async (path: string): Promise<DiskReading> => {
    const since = pending.get(path)
    if (since !== undefined) return {path, usedPercent: null, error: `statfs has not answered for ${Math.round((o.monotonic() - since) / 1000)}s`}
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<DiskReading>((r) => {
      timer = setTimeout(() => r({path, usedPercent: null, error: `statfs did not answer within ${diskTimeoutMs}ms`}), diskTimeoutMs)
      timer.unref()
    })
    pending.set(path, o.monotonic())
    // As df: used / (used + available to unprivileged users).
    const usage = (blocks: number, bfree: number, bavail: number, bsize: number): DiskReading => {
      const used = (blocks - bfree) * bsize
      const avail = bavail * bsize
      return {path, usedPercent: used + avail > 0 ? (100 * used) / (used + avail) : 0}
    }
    const local = LOCAL_FS_TYPES.has(mountTypeOf(read('/proc/self/mountinfo') ?? '', path) ?? '')
    const real = (local
      ? statfs(path).then((s) => usage(s.blocks, s.bfree, s.bavail, s.bsize))
      : statfsInChild(path, diskTimeoutMs).then((n) => usage(n[0], n[1], n[2], n[3]))
    ).finally(() => pending.delete(path)).then(
      (r) => r,
      (e: NodeJS.ErrnoException): DiskReading => ({path, usedPercent: null, error: e.code ?? e.message}),
    )
    try {
      return await Promise.race([real, late])
    } finally {
      clearTimeout(timer)
    }
  }

  return {
    async host(paths, at) {
      const disks = Promise.all(paths.map(disk))
      const mem = parseMeminfo(read('/proc/meminfo') ?? '')
      const cpu = parseCpuTimes(read('/proc/stat') ?? '')
      const busy = cpuPrev && cpu ? cpuBusyPercent(cpuPrev, cpu) : null
      if (cpu) cpuPrev = cpu
      const psi = (r: string) => parsePressure(read(`/proc/pressure/${r}`) ?? '')
      return {
        at,
        memory: mem ? {usedPercent: memoryUsedPercent(mem), totalKiB: mem.totalKiB, availableKiB: mem.availableKiB} : null,
        cpuBusyPercent: busy,
        pressure: {memory: psi('memory'), cpu: psi('cpu'), io: psi('io')},
        disks: await disks,
      }
    },
    procs({writes, detail, prefilter}) {
      const now = o.monotonic()
      const next = new Map<string, Prev>()
      const out: ProcFacts[] = []
      let names: string[] = []
      try {
        names = readdirSync('/proc')
      } catch {}
      for (const n of names) {
        if (!/^\d+$/.test(n)) continue
        // Only memory is over: a process below the RSS threshold costs one small read (statm), not stat and status.
        if (prefilter && !prefilter.keep.has(Number(n)) && residentKiB(n) < prefilter.minRssKiB) continue
        const f = readOne(n, writes, false)
        if (!f) continue
        const key = `${f.facts.pid}-${f.facts.startTime}`
        const p = procPrev.get(key)
        next.set(key, {ticks: f.ticks, write: f.write, at: now})
        const elapsed = p ? now - p.at : 0
        const facts: ProcFacts = {
          ...f.facts,
          cpuPercent: p ? procCpuPercent(p.ticks, f.ticks, elapsed, TICKS) : null,
          writeBps: p && p.write !== null && f.write !== null && elapsed > 0 ? ((f.write - p.write) * 1000) / elapsed : null,
        }
        if (!facts.kernelThread && (detail === undefined || detail(facts))) addDetail(n, facts)
        out.push(facts)
      }
      procPrev = next
      return out
    },
    proc(pid) {
      return readOne(String(pid), false, true)?.facts ?? null
    },
    uptimeMs() {
      const s = Number((read('/proc/uptime') ?? '').split(' ')[0])
      return Number.isFinite(s) && s > 0 ? s * 1000 : null
    },
  }
}

function readOne(n: string, writes: boolean, detailed: boolean): {facts: ProcFacts; ticks: number; write: number | null} | null {
  const st = parseStat(read(`/proc/${n}/stat`) ?? '')
  if (!st) return null
  const status = parseProcStatus(read(`/proc/${n}/status`) ?? '')
  if (!status) return null
  const write = writes && !status.kernelThread ? parseWriteBytes(read(`/proc/${n}/io`) ?? '') : null
  const facts: ProcFacts = {
    pid: st.pid, startTime: st.startTime, comm: st.comm, cmdline: [], ppid: st.ppid, sid: st.sid, ttyNr: st.ttyNr, uid: status.uid,
    kernelThread: status.kernelThread, rssKiB: status.rssKiB, oomScore: null, cpuPercent: null, writeBps: null, cgroup: null,
  }
  if (detailed && !status.kernelThread) addDetail(n, facts)
  return {ticks: st.utimeTicks + st.stimeTicks, write, facts}
}

let pageKiB: number | undefined

/** Resident size from /proc/<pid>/statm (pages), the cheapest file that has it. */
function residentKiB(n: string): number {
  // The page size, once: this process's VmRSS over its statm resident pages (4 KiB on x86-64).
  if (pageKiB === undefined) {
    const rss = Number(/^VmRSS:\s+(\d+)/m.exec(read('/proc/self/status') ?? '')?.[1])
    const pages = Number((read('/proc/self/statm') ?? '').split(' ')[1])
    const guess = rss > 0 && pages > 0 ? rss / pages : 4
    pageKiB = 2 ** Math.round(Math.log2(guess))
  }
  const pages = Number((read(`/proc/${n}/statm`) ?? '').split(' ')[1])
  return Number.isFinite(pages) ? pages * pageKiB : 0
}

/** The command line, cgroup and oom_score: read only for the processes that matter. */
function addDetail(n: string, f: ProcFacts): void {
  f.cmdline = parseCmdline(read(`/proc/${n}/cmdline`) ?? '')
  f.cgroup = cgroupOf(read(`/proc/${n}/cgroup`) ?? '')
  const oom = (read(`/proc/${n}/oom_score`) ?? '').trim()
  f.oomScore = /^-?\d+$/.test(oom) ? Number(oom) : null
}

/** The cgroup that says what started it: the v2 line, else systemd's named v1 hierarchy. */
export function cgroupOf(text: string): string | null {
  const v2 = /^0::(\S*)$/m.exec(text)?.[1]
  if (v2 && v2 !== '/') return v2
  return /^\d+:name=systemd:(\S*)$/m.exec(text)?.[1] ?? v2 ?? null
}
