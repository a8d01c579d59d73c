/**
 * Parsers of what `medic guard` samples, the kernel's own numbers: PSI
 * (/proc/pressure/<resource>), /proc/meminfo, the aggregate `cpu` line of /proc/stat,
 * /proc/<pid>/status and /proc/<pid>/io. Pure: the caller reads the text.
 */

export interface PressureLine {
  avg10: number
  avg60: number
  avg300: number
  /** Microseconds stalled since boot. */
  total: number
}

/** `/proc/pressure/<resource>`: `some …` and (memory, io; cpu since 5.13) `full …`. */
export interface Pressure {
  some: PressureLine
  full: PressureLine | null
}

export function parsePressure(text: string): Pressure | null {
  const lines: Record<string, PressureLine> = {}
  for (const line of text.split('\n')) {
    const m = /^(some|full)\s+avg10=([\d.]+)\s+avg60=([\d.]+)\s+avg300=([\d.]+)\s+total=(\d+)/.exec(line.trim())
    if (m) lines[m[1]] = {avg10: Number(m[2]), avg60: Number(m[3]), avg300: Number(m[4]), total: Number(m[5])}
  }
  return lines.some ? {some: lines.some, full: lines.full ?? null} : null
}

export interface MemInfo {
  totalKiB: number
  availableKiB: number
  swapTotalKiB: number
  swapFreeKiB: number
}

/**
 * `/proc/meminfo`. Used memory is what the kernel says cannot be had without swapping:
 * MemTotal − MemAvailable (not psutil's `percent` of the seed's protector, nor "free").
 * A kernel without MemAvailable (before 3.14) gives null: the guard then cannot tell.
 */
export function parseMeminfo(text: string): MemInfo | null {
  const v: Record<string, number> = {}
  for (const line of text.split('\n')) {
    const m = /^(\w+):\s+(\d+)\s*kB/.exec(line)
    if (m) v[m[1]] = Number(m[2])
  }
  if (!(v.MemTotal > 0) || v.MemAvailable === undefined) return null
  return {totalKiB: v.MemTotal, availableKiB: v.MemAvailable, swapTotalKiB: v.SwapTotal ?? 0, swapFreeKiB: v.SwapFree ?? 0}
}

export function memoryUsedPercent(m: MemInfo): number {
  return (100 * (m.totalKiB - Math.min(m.availableKiB, m.totalKiB))) / m.totalKiB
}

/** The aggregate `cpu` line of /proc/stat, in clock ticks. */
export interface CpuTimes {
  busy: number
  total: number
}

export function parseCpuTimes(text: string): CpuTimes | null {
  const m = /^cpu\s+(.*)$/m.exec(text)
  if (!m) return null
  const f = m[1].trim().split(/\s+/).map(Number)
  if (f.length < 4 || f.some((x) => !Number.isFinite(x))) return null
  // user nice system idle iowait irq softirq steal guest guest_nice: guest time is already in user/nice.
  const [user, nice, system, idle, iowait = 0, irq = 0, softirq = 0, steal = 0] = f
  const idleAll = idle + iowait
  const busy = user + nice + system + irq + softirq + steal
  return {busy, total: busy + idleAll}
}

/** Share of the whole host's CPU (all cores) busy between two readings; null when no time passed. */
export function cpuBusyPercent(before: CpuTimes, after: CpuTimes): number | null {
  const total = after.total - before.total
  if (!(total > 0)) return null
  return Math.max(0, Math.min(100, (100 * (after.busy - before.busy)) / total))
}

/**
 * A process's CPU use between two readings of its ticks, in % of ONE core (as psutil's
 * `cpu_percent` per process, the unit of the seed's 80 % / 90 % thresholds).
 */
export function procCpuPercent(ticksBefore: number, ticksAfter: number, elapsedMs: number, clkTck: number): number | null {
  if (!(elapsedMs > 0) || ticksAfter < ticksBefore) return null
  return (100 * (ticksAfter - ticksBefore) * 1000) / clkTck / elapsedMs
}

export interface ProcStatus {
  /** Real uid (the first field of `Uid:`). */
  uid: number
  rssKiB: number
  /** A kernel thread has no memory map (no VmRSS line). */
  kernelThread: boolean
}

export function parseProcStatus(text: string): ProcStatus | null {
  const uid = /^Uid:\s+(\d+)/m.exec(text)
  if (!uid) return null
  const rss = /^VmRSS:\s+(\d+)\s*kB/m.exec(text)
  return {uid: Number(uid[1]), rssKiB: rss ? Number(rss[1]) : 0, kernelThread: /^Kthread:\s+1/m.test(text) || !/^VmSize:/m.test(text)}
}

/** `/proc/<pid>/io`: bytes the process caused to be written to storage. */
export function parseWriteBytes(text: string): number | null {
  const m = /^write_bytes:\s*(\d+)/m.exec(text)
  return m ? Number(m[1]) : null
}

/**
 * The file system type of the mount holding `path` (absolute, as given: resolving it could
 * itself hang on a dead mount), from /proc/self/mountinfo: the longest mount point that
 * is the path or one of its parents. null when none is found.
 */
export function mountTypeOf(mountinfo: string, path: string): string | null {
  const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)))
  const clean = path.replace(/\/+$/, '') || '/'
  let best: {point: string; type: string} | null = null
  for (const line of mountinfo.split('\n')) {
    const [left, right] = line.split(' - ')
    if (!right) continue
    const point = unescape(left.split(' ')[4] ?? '')
    const type = right.split(' ')[0]
    if (!point || !type) continue
    const under = point === '/' || clean === point || clean.startsWith(`${point}/`)
    // A later line for the same point is mounted over the earlier one.
    if (under && (!best || point.length >= best.point.length)) best = {point, type}
  }
  return best?.type ?? null
}

/**
 * Local file systems, whose statfs answers from memory: read in-process. Any other (NFS,
 * CIFS, 9p — WSL2's drives —, FUSE, unknown) may never answer, and a libuv worker thread
 * stuck in the kernel cannot be joined: Node would then hang at exit.
 */
export const LOCAL_FS_TYPES: ReadonlySet<string> = new Set(['ext2', 'ext3', 'ext4', 'xfs', 'btrfs', 'zfs', 'f2fs', 'tmpfs', 'ramfs', 'overlay', 'devtmpfs', 'vfat', 'exfat', 'ntfs3', 'squashfs', 'erofs', 'iso9660', 'jfs', 'reiserfs', 'bcachefs', 'nilfs2'])
