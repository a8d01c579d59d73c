/**
 * Pure parts of the cgroup limits of `run-dev-safe --memory-max/--cpu-weight` and
 * `medic isolate`: where each controller lives (/proc/self/mounts, /proc/<pid>/cgroup),
 * and how a cgroup v2 limit reads in v1 terms. The files are written by sys/cgroup.ts.
 */

/** Hierarchies by controller, from /proc/self/mounts: v1 `cgroup` mounts name their controllers in the options. */
export function parseCgroupMounts(text: string): {v2: string | null; v1: Record<string, string>} {
  let v2: string | null = null
  const v1: Record<string, string> = {}
  for (const line of text.split('\n')) {
    const f = line.split(' ')
    if (f.length < 4) continue
    const dir = f[1].replace(/\\040/g, ' ')
    if (f[2] === 'cgroup2') v2 ??= dir
    else if (f[2] === 'cgroup') for (const opt of f[3].split(',')) if (['memory', 'cpu', 'cpuacct', 'pids', 'freezer', 'blkio', 'cpuset', 'devices'].includes(opt)) v1[opt] ??= dir
  }
  return {v2, v1}
}

/** /proc/<pid>/cgroup: `4:memory:/a/b` → {memory: '/a/b'}, `0::/x` → {'': '/x'}. */
export function parseProcCgroup(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const line of text.split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line)
    if (!m) continue
    for (const c of m[1].split(',')) out[c] ??= m[2]
  }
  return out
}

/** The memory cgroup a process is charged to: the v1 `memory` hierarchy's path where it is mounted, else the v2 path. */
export function memcgOf(procCgroupText: string, v1MemoryMounted: boolean): {path: string; hierarchy: 'v1' | 'v2'} | null {
  const c = parseProcCgroup(procCgroupText)
  if (v1MemoryMounted && c.memory !== undefined) return {path: c.memory, hierarchy: 'v1'}
  if (c[''] !== undefined) return {path: c[''], hierarchy: 'v2'}
  return null
}

/** cgroup v2 cpu.weight (1–10000, default 100) as v1 cpu.shares (2–262144, default 1024), as systemd maps it. */
export function weightToShares(weight: number): number {
  return Math.max(2, Math.min(262144, Math.round((weight * 1024) / 100)))
}

export interface JobLimits {
  /** Bytes; null: no memory limit. */
  memoryMax: number | null
  /** cgroup v2 cpu.weight; null: none. */
  cpuWeight: number | null
}

export function hasLimits(l: JobLimits): boolean {
  return l.memoryMax !== null || l.cpuWeight !== null
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  let v = n
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return `${Number.isInteger(v) ? v : v.toFixed(1)} ${units[i]}`
}
