import {readdirSync, readFileSync} from 'node:fs'
import {statfs} from 'node:fs/promises'
import {cpuBusyPercent, memoryUsedPercent, parseCpuTimes, parseMeminfo, parsePressure, parseProcStatus, parseWriteBytes, procCpuPercent, type CpuTimes} from '../core/guard-parse.js'
import type {DiskReading, HostSample} from '../core/guard-ladder.js'
import {parseCmdline, parseStat} from '../core/proc-parse.js'

/**
 * What `medic guard` reads each sample: /proc files only (procfs reads never wait on a
 * disk), and statfs of the watched paths asynchronously with a deadline (a hung NFS mount
 * must not stall the loop). No process is spawned per sample. The process table is read
 * only when a resource is over its limit: an idle guard reads five small files.
 */

/** Linux's USER_HZ: /proc times are in 1/100 s on every architecture medic runs on. */
const TICKS = 100

function read(path: string): string | null {
  try {
    return readFileSync(path, 'latin1')
  } catch {
    return null
  }
}

export interface ProcFacts {
  pid: number
  startTime: string
  comm: string
  cmdline: string[]
  ppid: number
  sid: number
  ttyNr: number
  uid: number
  kernelThread: boolean
  rssKiB: number
  oomScore: number | null
  cpuPercent: number | null
  writeBps: number | null
  cgroup: string | null
}

interface Prev {
  ticks: number
  write: number | null
  at: number
}

export interface GuardSampler {
  /** The host's numbers; CPU busy % since the previous call (null on the first). */
  host(paths: string[], at: number): Promise<HostSample>
  /** Every process, with CPU and write rates since the previous call of this. */
  procs(o: {writes: boolean}): ProcFacts[]
  /** One process now, without rates (the last look before acting); null when gone. */
  proc(pid: number): ProcFacts | null
  /** One variable of a process's environment (read only for offenders). */
  envVar(pid: number, name: string): string | null
  /** ms since boot (the one-pass startup grace counts from boot). */
  uptimeMs(): number | null
}

export function makeGuardSampler(o: {monotonic: () => number; diskTimeoutMs?: number}): GuardSampler {
  let cpuPrev: CpuTimes | null = null
  let procPrev = new Map<string, Prev>()
  const diskTimeoutMs = o.diskTimeoutMs ?? 2000

  const disk = async (path: string): Promise<DiskReading> => {
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<DiskReading>((r) => {
      timer = setTimeout(() => r({path, usedPercent: null, error: `statfs did not answer within ${diskTimeoutMs}ms`}), diskTimeoutMs)
      timer.unref()
    })
    const real = statfs(path).then(
      (s): DiskReading => {
        // As df: used / (used + available to unprivileged users).
        const used = (s.blocks - s.bfree) * s.bsize
        const avail = s.bavail * s.bsize
        return {path, usedPercent: used + avail > 0 ? (100 * used) / (used + avail) : 0}
      },
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
    procs({writes}) {
      const now = o.monotonic()
      const next = new Map<string, Prev>()
      const out: ProcFacts[] = []
      let names: string[] = []
      try {
        names = readdirSync('/proc')
      } catch {}
      for (const n of names) {
        if (!/^\d+$/.test(n)) continue
        const f = readOne(n, writes)
        if (!f) continue
        const key = `${f.facts.pid}-${f.facts.startTime}`
        const p = procPrev.get(key)
        next.set(key, {ticks: f.ticks, write: f.write, at: now})
        const elapsed = p ? now - p.at : 0
        out.push({
          ...f.facts,
          cpuPercent: p ? procCpuPercent(p.ticks, f.ticks, elapsed, TICKS) : null,
          writeBps: p && p.write !== null && f.write !== null && elapsed > 0 ? ((f.write - p.write) * 1000) / elapsed : null,
        })
      }
      procPrev = next
      return out
    },
    proc(pid) {
      return readOne(String(pid), false)?.facts ?? null
    },
    envVar(pid, name) {
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
    uptimeMs() {
      const s = Number((read('/proc/uptime') ?? '').split(' ')[0])
      return Number.isFinite(s) && s > 0 ? s * 1000 : null
    },
  }
}

function readOne(n: string, writes: boolean): {facts: ProcFacts; ticks: number; write: number | null} | null {
  const st = parseStat(read(`/proc/${n}/stat`) ?? '')
  if (!st) return null
  const status = parseProcStatus(read(`/proc/${n}/status`) ?? '')
  if (!status) return null
  const write = writes && !status.kernelThread ? parseWriteBytes(read(`/proc/${n}/io`) ?? '') : null
  const oom = status.kernelThread ? null : Number((read(`/proc/${n}/oom_score`) ?? '').trim())
  return {
    ticks: st.utimeTicks + st.stimeTicks,
    write,
    facts: {
      pid: st.pid, startTime: st.startTime, comm: st.comm, cmdline: status.kernelThread ? [] : parseCmdline(read(`/proc/${n}/cmdline`) ?? ''),
      ppid: st.ppid, sid: st.sid, ttyNr: st.ttyNr, uid: status.uid, kernelThread: status.kernelThread, rssKiB: status.rssKiB,
      oomScore: oom === null || !Number.isFinite(oom) ? null : oom, cpuPercent: null, writeBps: null,
      cgroup: status.kernelThread ? null : cgroupOf(read(`/proc/${n}/cgroup`) ?? ''),
    },
  }
}

/** The cgroup that says what started it: the v2 line, else systemd's named v1 hierarchy. */
export function cgroupOf(text: string): string | null {
  const v2 = /^0::(\S*)$/m.exec(text)?.[1]
  if (v2 && v2 !== '/') return v2
  return /^\d+:name=systemd:(\S*)$/m.exec(text)?.[1] ?? v2 ?? null
}
