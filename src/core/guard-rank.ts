/**
 * Who `medic guard` may act on, and in what order — pure, over facts the op gathered.
 *
 * Out of scope (never listed): pid 1 and kernel threads, medic's own tree and ancestors,
 * another user's processes (a guard that is not root), system services (a root guard:
 * system accounts, processes of system.slice / init.scope, root daemons started by init),
 * and with --match anything that does not match.
 *
 * Spared (listed, with why, never acted on) on EVERY path — the seed's bug was a whitelist
 * consulted by the CPU path only: the protected registry and its marks (the signal gate's
 * refusal), the dev and daemon patterns, the seed's OMNIMIND_DEV_SCRIPT_MODE flag, --protect.
 *
 * Ranked like earlyoom: memory by oom_score (the kernel's own badness: RSS + swap + page
 * tables, scaled by oom_score_adj), then RSS; CPU by % of one core; disk by write rate.
 */

export type Resource = 'memory' | 'cpu' | 'disk'
export const RESOURCES: readonly Resource[] = ['memory', 'cpu', 'disk']

/** What the sampler reads of a process (sys/guard-sampler.ts). */
export interface ProcFacts {
  pid: number
  startTime: string
  comm: string
  cmdline: string[]
  ppid: number
  sid: number
  ttyNr: number
  /** Real uid. */
  uid: number
  kernelThread: boolean
  rssKiB: number
  /** /proc/<pid>/oom_score; null when unreadable. */
  oomScore: number | null
  /** % of one core since the previous sample; null without one. */
  cpuPercent: number | null
  /** Bytes written per second since the previous sample; null without one. */
  writeBps: number | null
  /** Its cgroup (the v2 line, else the name=systemd line) — system.slice, init.scope … */
  cgroup: string | null
}

/** A process as the policy judges it: its facts, and for offenders its marks and the gate's answer. */
export interface ProcSample extends ProcFacts {
  /** OMNIMIND_DEV_SCRIPT_MODE=true in its environment (read only for processes over a threshold). */
  devFlag: boolean
  /** MEDIC_JOB in its environment: a service medic supervise runs. */
  supervised: boolean
  /** The signal gate's answer for it now (registry, marks, --protect and the patterns, --match). */
  refusal: {kind: string; reason: string} | null
}

export interface Scope {
  /** The guard's own real uid. */
  uid: number
  /** medic itself, its descendants and its ancestors. */
  ownTree: ReadonlySet<number>
  devPatterns: readonly RegExp[]
  daemonPatterns: readonly RegExp[]
  /** --match: only what matches is in scope (checked here, before any protection: a dev job elsewhere is no business of this guard). */
  match?: RegExp | null
}

export type Verdict = {kind: 'out'; reason: string} | {kind: 'spared'; reason: string} | {kind: 'candidate'}

function text(p: Pick<ProcSample, 'comm' | 'cmdline'>): string {
  return `${p.comm} ${p.cmdline.join(' ')}`
}

export function describe(p: Pick<ProcSample, 'pid' | 'comm' | 'cmdline'>, max = 60): string {
  const cmd = p.cmdline.length ? p.cmdline.join(' ') : p.comm
  return `pid ${p.pid} (${cmd.length > max ? `${cmd.slice(0, max - 1)}…` : cmd})`
}

/** Is it a system service (a root guard never touches those)? The reason, or null. */
export function systemService(p: ProcSample): string | null {
  if (p.uid > 0 && p.uid < 1000) return `runs as system account uid ${p.uid}`
  const cg = p.cgroup ?? ''
  if (/^\/(system\.slice|init\.scope)(\/|$)/.test(cg)) return `a system service (cgroup ${cg})`
  if (p.uid === 0 && p.ppid === 1 && p.ttyNr === 0 && p.sid === p.pid) return 'a root daemon (started by init, its own session, no terminal)'
  return null
}

export function classify(p: ProcSample, scope: Scope): Verdict {
  if (p.pid <= 2 || p.kernelThread || p.ppid === 2) return {kind: 'out', reason: 'pid 1 or a kernel thread'}
  if (scope.ownTree.has(p.pid)) return {kind: 'out', reason: "medic's own tree or an ancestor"}
  if (scope.match && !scope.match.test(text(p))) return {kind: 'out', reason: `does not match --match ${scope.match.source}`}
  const r = p.refusal
  if (r && (r.kind === 'init' || r.kind === 'self' || r.kind === 'ancestor')) return {kind: 'out', reason: r.reason}
  if (scope.uid !== 0 && p.uid !== scope.uid) return {kind: 'out', reason: `another user's (uid ${p.uid})`}
  if (scope.uid === 0) {
    const sys = systemService(p)
    if (sys) return {kind: 'out', reason: sys}
  }
  if (r && r.kind === 'unmatched') return {kind: 'out', reason: r.reason}
  if (r && r.kind === 'registered') return {kind: 'spared', reason: r.reason}
  const t = text(p)
  const dev = scope.devPatterns.find((re) => re.test(t))
  if (dev) return {kind: 'spared', reason: `a dev job (matches the dev pattern "${dev.source.replace(/\\(.)/g, '$1')}")`}
  if (p.devFlag) return {kind: 'spared', reason: 'a dev job (OMNIMIND_DEV_SCRIPT_MODE=true in its environment)'}
  const daemon = scope.daemonPatterns.find((re) => re.test(t))
  if (daemon) return {kind: 'spared', reason: `a daemon (matches the daemon pattern "${daemon.source.replace(/\\(.)/g, '$1')}")`}
  if (p.supervised) return {kind: 'spared', reason: 'a service run by medic supervise (MEDIC_JOB)'}
  if (r) return {kind: 'spared', reason: r.reason}
  return {kind: 'candidate'}
}

export interface Thresholds {
  candidateRssMiB: number
  candidateCpuPercent: number
}

/** Would it be an offender on this path, protection aside? */
export function offends(p: ProcSample, resource: Resource, t: Thresholds): boolean {
  if (resource === 'memory') return p.rssKiB >= t.candidateRssMiB * 1024
  if (resource === 'cpu') return (p.cpuPercent ?? 0) >= t.candidateCpuPercent
  return (p.writeBps ?? 0) > 0
}

/** earlyoom's order for memory (oom_score, then RSS); CPU %; write rate. Highest first. */
export function compareFor(resource: Resource): (a: ProcSample, b: ProcSample) => number {
  if (resource === 'memory') return (a, b) => (b.oomScore ?? -1) - (a.oomScore ?? -1) || b.rssKiB - a.rssKiB || a.pid - b.pid
  if (resource === 'cpu') return (a, b) => (b.cpuPercent ?? 0) - (a.cpuPercent ?? 0) || b.rssKiB - a.rssKiB || a.pid - b.pid
  return (a, b) => (b.writeBps ?? 0) - (a.writeBps ?? 0) || a.pid - b.pid
}

export interface Ranking {
  candidates: ProcSample[]
  /** Offenders on this path that are protected: named in the report, never acted on. */
  spared: {proc: ProcSample; reason: string}[]
}

export function rank(procs: readonly ProcSample[], resource: Resource, scope: Scope, t: Thresholds): Ranking {
  const candidates: ProcSample[] = []
  const spared: {proc: ProcSample; reason: string}[] = []
  for (const p of procs) {
    if (!offends(p, resource, t)) continue
    const v = classify(p, scope)
    if (v.kind === 'candidate') candidates.push(p)
    else if (v.kind === 'spared') spared.push({proc: p, reason: v.reason})
  }
  const cmp = compareFor(resource)
  candidates.sort(cmp)
  spared.sort((a, b) => cmp(a.proc, b.proc))
  return {candidates, spared}
}

/** What a process is worth on a path, for the report. */
export function weight(p: ProcSample, resource: Resource): string {
  if (resource === 'memory') return `rss ${Math.round(p.rssKiB / 1024)} MiB${p.oomScore !== null ? `, oom_score ${p.oomScore}` : ''}`
  if (resource === 'cpu') return `cpu ${Math.round(p.cpuPercent ?? 0)} %`
  return `writes ${Math.round((p.writeBps ?? 0) / 1024)} KiB/s`
}
