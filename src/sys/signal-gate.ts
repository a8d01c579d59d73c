import {groupIsJobs, marksInUse, MARK_ENV, protectionsOf, refusalFor, entryKey, undoable, type Adjustment, type LiveEntry, type OwnerScope, type ProcFacts, type ProtectionContext, type ProtectPattern, type Refusal} from '../core/protect.js'
import {cgroupPids, freezeCgroup, joinCgroup, type Cgroup} from './cgroup.js'
import {readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {getPriority, setPriority} from 'node:os'
import type {ProcessTable, ProcInfo} from './proc-table.js'

/**
 * THE signal gate: every signal medic sends goes through here (docs/contract.md §3.2–3.3).
 * Immediately before each signal it re-reads the target's identity (pid + start time:
 * a changed start time is a reused pid — nothing is sent) and decides, with the pure
 * refusalFor() of core/protect.ts, over facts read now: pid ≤ 1, medic itself and its
 * ancestors never; the protected registry (re-read whenever it changed), its descendants and
 * the processes carrying its marks; --protect, the config file's `protect:`, --match.
 *
 * Node has no pidfd, so microseconds remain between the identity read and kill(2); a pid
 * cannot cycle through the whole pid space in that time. The start time counts clock
 * ticks (10 ms): two processes given the same pid within one tick would look the same —
 * which takes a deliberate ns_last_pid write in a pid namespace, never a pid space cycle.
 *
 * A process group cannot be identity-checked as a whole, so there is no group signal
 * here: a JobScope enumerates the members and signals each, by identity.
 *
 * The one exception to the patterns and the owner's own registration is a JobScope: the
 * narrow capability of a process signalling a job it started itself (supervise → its
 * child, run-dev-safe → its job, kill-trace → the command it runs). A scope only reaches
 * processes that are provably the job's: children it adopted (their parent must be this
 * process at adoption), their process groups and sessions (while that pid is not reused),
 * the cgroup made for the job, and processes of the job's uid that carry the job's mark.
 *
 * Outside this module one thing signals: sys/exec.ts SIGKILLs the process group of an
 * external command it spawned itself when its timeout expires (the leader is its own
 * unreaped child, so the pid cannot have been reused, and the group id stays reserved
 * while any member lives) — the `timeout(1)` rule for the commands medic runs — and, by the
 * same reasoning, SIGTERMs the ones still running when an interrupted medic exits
 * (stopInFlight).
 */

export type SignalResult = 'sent' | 'gone' | 'reused' | 'denied' | 'refused'

export interface Sent {
  result: SignalResult
  /** Why it was refused (or gone/reused/denied), for the report. */
  reason?: string
}

export interface GatePolicy {
  /** --protect and the config file's `protect:` patterns. */
  protect: RegExp[]
  /** --match (cleanup): only matching processes may be signalled. */
  match: RegExp | null
  /** The config file could not be read: nothing but owned jobs is signalled. */
  error?: string | null
}

export interface Inspected {
  proc: ProcInfo
  refusal: Refusal | null
}

export interface Member {
  pid: number
  startTime: string
  comm: string
  /** How it belongs to the job. */
  via: 'root' | 'group' | 'session' | 'cgroup' | 'mark'
}

export interface ScopeOptions {
  /** The environment variable the job's processes inherit, and its value. */
  mark?: {name: string; value: string} | null
  cgroup?: Cgroup | null
  /** The owner's own registrations (run-dev-safe's: the wrapper's, then the job's), which do not protect its job from it; read on every send, so the owner may add to it. */
  ownKeys?: string[]
}

/** The capability of signalling one's own job. */
export interface JobScope {
  /** Adds a process this one spawned; null (not adopted) unless its parent is this process now. */
  adopt(pid: number): {pid: number; startTime: string} | null
  /**
   * Live members, the job's own roots first. `group`: only the roots and their process
   * groups (what a terminal's Ctrl+C reaches). `thorough`: the whole process table is
   * searched even when the job's cgroup should hold all of it (a root process can leave it).
   */
  members(opts?: {group?: boolean; thorough?: boolean}): Member[]
  /** Signals one member: membership, identity and the remaining rules re-checked now. */
  send(pid: number, startTime: string, signal: NodeJS.Signals): Sent
  /** Every member (or every member of the process groups), each by identity. */
  signalAll(signal: NodeJS.Signals, opts?: {group?: boolean}): Sent[]
  /** Freezes or thaws the job's cgroup (no fork can race a kill while frozen); false without one. */
  freeze(on: boolean): boolean
  readonly cgroup: Cgroup | null
}

export interface SignalGate {
  /** The process now and whether the gate would refuse it; null when it is gone (or reused, given a start time). */
  inspect(pid: number, startTime?: string): Inspected | null
  send(pid: number, startTime: string, signal: NodeJS.Signals): Sent
  /**
   * SIGCONT alone, to undo a stop medic itself caused (drill's restore): identity, pid 1,
   * self and ancestors are checked; the protection rules are not — resuming a stopped
   * process cannot hurt it, and one protected after medic stopped it must still resume.
   */
  resume(pid: number, startTime: string): Sent
  /**
   * Renice and/or set oom_score_adj (medic guard's first rung) under the same identity and
   * protection checks as a signal; `before` is what it had. `undo: set` gives back what
   * medic changed and, like resume, skips the protection rules (a job protected since must
   * get its priority back) — but only the values the process still has as medic `set` them
   * (someone changed it since: theirs stays), and never a higher oom_score_adj than it has
   * (giving back never makes a process likelier to be OOM-killed): a stale or forged record
   * cannot make an undo hurt anyone.
   */
  adjust(pid: number, startTime: string, change: Adjustment, o?: {undo?: Adjustment}): Sent & {before?: {nice: number | null; oomScoreAdj: number | null}}
  scope(opts?: ScopeOptions): JobScope
}

export type {Adjustment} from '../core/protect.js'

export interface GateDeps {
  procs: ProcessTable
  /** Live entries of the protected registry as they are now (a reader may cache them while its directories do not change). */
  registry: () => LiveEntry[]
  /** Why the registry just returned is not whole (a flood of names, the deadline): then only a job's owner signals its own job. */
  registryProblem?: () => string | null
  /** Patterns of the protected registry (`protect add --pattern`), as they are now, read with `registry`. */
  patterns?: () => ProtectPattern[]
  policy: GatePolicy
  selfPid?: number
  /** The one place kill(2) is called; tests may watch it. */
  kill?: (pid: number, signal: NodeJS.Signals) => void
  /** The one place setpriority(2) and /proc/<pid>/oom_score_adj are written; tests may watch it. */
  setAdjustment?: (pid: number, change: Adjustment) => void
  /** Where they are read (readAdjustment); tests may stand in. */
  getAdjustment?: (pid: number) => {nice: number | null; oomScoreAdj: number | null}
}


/** What a process has now: its nice and oom_score_adj (null when unreadable). */
export function readAdjustment(pid: number): {nice: number | null; oomScoreAdj: number | null} {
  let nice: number | null = null
  try {
    nice = getPriority(pid)
  } catch {}
  let oom: number | null = null
  try {
    oom = Number(readFileSync(`/proc/${pid}/oom_score_adj`, 'utf8').trim())
  } catch {}
  return {nice, oomScoreAdj: oom !== null && Number.isFinite(oom) ? oom : null}
}

function realAdjustment(pid: number, change: Adjustment): void {
  try {
    if (change.nice !== undefined) {
      setPriority(pid, change.nice)
      // setpriority(2) on Linux sets one thread: the others of a threaded hog (a training job, a JVM) too,
      // each checked to still be a thread of this process right before.
      let tids: string[] = []
      try {
        tids = readdirSync(`/proc/${pid}/task`)
      } catch {}
      for (const t of tids) {
        const tid = Number(t)
        if (tid === pid || !Number.isInteger(tid)) continue
        try {
          if (/^Tgid:\s*(\d+)$/m.exec(readFileSync(`/proc/${pid}/task/${tid}/status`, 'latin1'))?.[1] === String(pid)) setPriority(tid, change.nice)
        } catch {} // the thread ended
      }
    }
    if (change.oomScoreAdj !== undefined) writeFileSync(`/proc/${pid}/oom_score_adj`, String(change.oomScoreAdj))
  } catch (e) {
    // os.setPriority throws ERR_SYSTEM_ERROR with the errno in `info`.
    const code = (e as {info?: {code?: string}}).info?.code ?? (e as NodeJS.ErrnoException).code
    throw Object.assign(new Error((e as Error).message), {code: code === 'ENOENT' ? 'ESRCH' : code === 'EACCES' ? 'EPERM' : code})
  }
}

/** medic's ancestors' pids, parent first, from /proc/<pid>/stat alone (all the gate needs of them). */
function ancestorPids(procs: ProcessTable, pid: number): Set<number> {
  const out = new Set<number>()
  let cur = procs.stat(pid)?.ppid ?? 0
  while (cur > 0 && cur !== pid && !out.has(cur)) {
    out.add(cur)
    cur = procs.stat(cur)?.ppid ?? 0
  }
  return out
}

export function makeSignalGate(d: GateDeps): SignalGate {
  const {procs} = d
  const selfPid = d.selfPid ?? process.pid
  // Read on first use: a run that never signals (a free port) pays nothing for them.
  let mine: {uid: number; ancestors: Set<number>} | undefined
  const me = () => (mine ??= {uid: process.getuid?.() ?? procs.realUid(selfPid) ?? 0, ancestors: ancestorPids(procs, selfPid)})
  const ancestors = {has: (pid: number) => me().ancestors.has(pid)}
  const kill = d.kill ?? ((pid, signal) => process.kill(pid, signal))

  const context = (registry: LiveEntry[], patterns: ProtectPattern[]): ProtectionContext => ({selfPid, ancestors: me().ancestors, protect: d.policy.protect, patterns, selfUid: me().uid, match: d.policy.match, registry, policyError: d.policy.error ?? null, registryError: d.registryProblem?.() ?? null})

  /** The facts refusalFor needs, marks only when a live entry uses them. */
  const facts = (p: ProcInfo, registry: LiveEntry[], patterns: ProtectPattern[] = []): ProcFacts => {
    const use = marksInUse(registry)
    return {
      pid: p.pid, startTime: p.startTime, comm: p.comm, cmdline: p.cmdline, uid: registry.length || patterns.length ? (procs.realUid(p.pid) ?? undefined) : undefined, sid: p.sid,
      mark: use.env ? procs.envVar(p.pid, MARK_ENV) : null,
      cgroup: use.cgroup ? procs.cgroup2(p.pid) : null,
    }
  }

  /** `owner`: the keys a JobScope brings; the registrations protecting medic itself are added to them. */
  const judge = (p: ProcInfo, owner?: Set<string>): Refusal | null => {
    const registry = d.registry()
    let scope: OwnerScope | undefined
    if (owner) {
      const me = procs.get(selfPid)
      const mine = me ? protectionsOf(facts(me, registry), procs.ancestors(selfPid), registry).map((x) => entryKey(x.entry)) : []
      scope = {ownKeys: new Set([...owner, ...mine])}
    }
    const patterns = d.patterns?.() ?? []
    // The target's ancestors matter only to an entry that protects its descendants: no such
    // entry (the usual case), no walk up the process tree (3 /proc reads per ancestor).
    const chain = registry.some((e) => e.descendants) ? procs.ancestors(p.pid) : []
    return refusalFor(facts(p, registry, patterns), chain, context(registry, patterns), scope)
  }

  const deliver = (pid: number, startTime: string, signal: NodeJS.Signals, check: (p: ProcInfo) => Refusal | null | string, act: () => void = () => kill(pid, signal)): Sent => {
    if (!Number.isInteger(pid) || pid <= 1) return {result: 'refused', reason: `pid ${pid} is never signalled`}
    if (pid === selfPid) return {result: 'refused', reason: 'it is medic itself'}
    if (ancestors.has(pid)) return {result: 'refused', reason: 'it is an ancestor of medic'}
    const p = procs.get(pid)
    if (!p) return {result: 'gone'}
    if (p.startTime !== startTime) return {result: 'reused', reason: `pid ${pid} now belongs to another process (${p.comm}); not signalled`}
    if (procs.liveness(pid, startTime) !== 'alive') return {result: 'gone'}
    const why = check(p)
    // The identity once more, as close to kill(2) as Node allows — and after a refusal too: a
    // process reaped while it was judged (its uid unreadable, so protected: fail closed) is
    // gone, not "refused" (nothing is signalled either way; a caller must not report a
    // protection that was only a dying process's half-read /proc entry).
    const again = procs.liveness(pid, startTime)
    if (why && again === 'alive') return {result: 'refused', reason: typeof why === 'string' ? why : why.reason}
    if (again !== 'alive') return again === 'reused' ? {result: 'reused', reason: `pid ${pid} was reused while it was checked; not signalled`} : {result: 'gone'}
    try {
      act()
      return {result: 'sent'}
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code
      if (code === 'ESRCH') return {result: 'gone'}
      if (code === 'EPERM') return {result: 'denied', reason: 'permission denied (EPERM)'}
      throw e
    }
  }

  return {
    inspect(pid, startTime) {
      const p = procs.get(pid)
      if (!p || (startTime !== undefined && p.startTime !== startTime)) return null
      return {proc: p, refusal: judge(p)}
    },
    send(pid, startTime, signal) {
      return deliver(pid, startTime, signal, (p) => judge(p))
    },
    resume(pid, startTime) {
      return deliver(pid, startTime, 'SIGCONT', () => null)
    },
    adjust(pid, startTime, change, o = {}) {
      const read = d.getAdjustment ?? readAdjustment
      const before = read(pid)
      let apply = change
      const check = o.undo
        ? () => {
          // Read after the identity check: the values of this very process.
          const u = undoable(change, o.undo!, read(pid))
          apply = u.change
          return Object.keys(u.change).length ? null : `not given back: ${u.left.join('; ')}`
        }
        : (p: ProcInfo) => judge(p)
      const r = deliver(pid, startTime, 'SIGCONT', check, () => (d.setAdjustment ?? realAdjustment)(pid, apply))
      return {...r, before}
    },
    scope(opts = {}) {
      const roots: {pid: number; startTime: string}[] = []
      let since = Infinity // start time (ticks) of the first root: a marked process is younger
      let outside = false // some root ever ran outside the cgroup: its processes may be anywhere
      const cgroup = opts.cgroup ?? null
      const mark = opts.mark ?? null
      const owner = () => new Set([...(opts.ownKeys ?? []), ...roots.map(entryKey)])
      // The roots whose pid, as a group or session id, still names the job's group.
      const liveGroupIds = () => new Set(roots.filter((r) => groupIsJobs(r, procs.stat(r.pid))).map((r) => r.pid))
      const inCg = (pid: number) => {
        const cg = cgroup ? procs.cgroup2(pid) : null
        return !!cg && (cg === cgroup!.path || cg.startsWith(`${cgroup!.path}/`))
      }
      const marked = (pid: number, startTime: string) => {
        if (!mark || !(Number(startTime) >= since)) return false
        return procs.realUid(pid) === me().uid && procs.envVar(pid, mark.name) === mark.value
      }
      /** How a process belongs to the job; `full` adds the cgroup and mark checks (file reads). */
      const membership = (p: {pid: number; startTime: string; pgid: number; sid: number}, ids: Set<number>, group: boolean, full: boolean): Member['via'] | null => {
        if (roots.some((r) => r.pid === p.pid && r.startTime === p.startTime)) return 'root'
        if (ids.has(p.pgid)) return 'group'
        if (group) return null
        if (ids.has(p.sid)) return 'session'
        if (full && inCg(p.pid)) return 'cgroup'
        if (full && marked(p.pid, p.startTime)) return 'mark'
        return null
      }

      const scope: JobScope = {
        cgroup,
        adopt(pid) {
          const st = procs.stat(pid)
          if (!st || st.ppid !== selfPid) return null
          // The spawn shim puts the job in its cgroup before it can fork; joining here too
          // makes it known (the shim may not have run yet), so listing the cgroup suffices.
          // Only when it is not in yet: a migration write takes the kernel's lock on every
          // fork and thread creation, the job's own start included (supervise's restart path).
          if (!(cgroup !== null && (inCg(pid) || (joinCgroup(cgroup, pid) && inCg(pid))))) outside = true
          if (!roots.some((x) => x.pid === pid && x.startTime === st.startTime)) roots.push({pid, startTime: st.startTime})
          since = Math.min(since, Number(st.startTime))
          return {pid, startTime: st.startTime}
        },
        members(o = {}) {
          const group = o.group === true
          const ids = liveGroupIds()
          const found = new Map<number, Member>()
          const used = new Set<number>()
          const consider = (pid: number, known: Member['via'] | null) => {
            if (found.has(pid) || pid <= 1 || pid === selfPid || ancestors.has(pid)) return
            const st = procs.stat(pid)
            if (!st || st.state === 'Z' || st.state === 'X') return
            const via = membership(st, ids, group, false) ?? known ?? (group ? null : marked(pid, st.startTime) ? 'mark' : null)
            if (!via) return
            found.set(pid, {pid, startTime: st.startTime, comm: st.comm, via})
            if (via === 'group') used.add(st.pgid)
            if (via === 'session') used.add(st.sid)
          }
          for (const r of roots) consider(r.pid, null)
          if (cgroup && !group) for (const pid of cgroupPids(cgroup)) consider(pid, 'cgroup')
          // Every root in the cgroup: its processes are all there (only root can leave a
          // cgroup, by writing another's cgroup.procs). Otherwise the whole table is read.
          const complete = cgroup !== null && !group && !outside && since !== Infinity && o.thorough !== true
          if (!complete && (ids.size > 0 || (mark && !group))) for (const pid of procs.list()) consider(pid, null)
          // A root that is gone and whose group and session are empty names nothing any more.
          if (!group) {
            for (let i = roots.length - 1; i >= 0; i--) {
              const st = procs.stat(roots[i].pid)
              if ((!st || st.startTime !== roots[i].startTime) && !used.has(roots[i].pid)) roots.splice(i, 1)
            }
          }
          return [...found.values()]
        },
        send(pid, startTime, signal) {
          return deliver(pid, startTime, signal, (p) => {
            if (!membership(p, liveGroupIds(), false, true)) return `pid ${pid} (${p.comm}) is not part of the job`
            return judge(p, owner())
          })
        },
        signalAll(signal, o = {}) {
          return scope.members(o).map((m) => scope.send(m.pid, m.startTime, signal))
        },
        freeze(on) {
          return cgroup ? freezeCgroup(cgroup, on) : false
        },
      }
      return scope
    },
  }
}
