/**
 * Who must never be signalled (docs/contract.md §3.3), as a pure decision over facts
 * the caller (src/sys/signal-gate.ts, the one signal gate) gathered: pid 1 and below,
 * medic itself and its ancestors, processes registered in the protected registry (and
 * their descendants, recognised even after setsid / double-fork / reparenting by the
 * marks they carry), anything matching `--protect` or the config file's `protect:`,
 * and — when `--match` is given — anything that does not match it.
 */

/** The environment variable a protected job's descendants carry: `<pid>-<starttime>` of the registered process. */
export const MARK_ENV = 'MEDIC_PROTECTED'

/** The environment variable a supervised service's processes carry: `<pid>-<starttime>` of its supervisor. */
export const JOB_ENV = 'MEDIC_JOB'

export interface ProcFacts {
  pid: number
  startTime: string
  comm: string
  cmdline: string[]
  /** Real uid of the process (`/proc/<pid>` owner). */
  uid?: number
  sid?: number
  /** Its cgroup v2 path (`/proc/<pid>/cgroup`, the `0::` line), when read. */
  cgroup?: string | null
  /** The value of MEDIC_PROTECTED in its environment (`/proc/<pid>/environ`), when read. */
  mark?: string | null
}

/**
 * One file per registration (format v1; docs/contract.md §4). `mark`, `session` and
 * `cgroup` were added later, optional: an entry without them protects by identity and
 * ancestry only.
 */
export interface ProtectedEntry {
  version: 1
  pid: number
  startTime: string
  name: string
  cmdline: string[]
  /** Descendants of the registered process are protected too. */
  descendants: boolean
  registeredAt: string
  /** The MEDIC_PROTECTED value the job's descendants inherit. */
  mark?: string | null
  /** The job's session, by its leader's identity (recorded only when the job leads it). */
  session?: {sid: number; startTime: string} | null
  /** A cgroup v2 path made for the job (`/…/medic-protect-…`). */
  cgroup?: string | null
}

/** A registry entry as read from disk, with the facts that decide whether it counts. */
export interface LiveEntry extends ProtectedEntry {
  /** Owner uid of the entry file. */
  fileUid: number
  /** uid of the registered process. */
  procUid: number
  /**
   * The recorded session counts: its leader still has the recorded identity (the session
   * id is not reused), and it is the registered process or its parent (or root wrote it).
   */
  sessionLive: boolean
  /** Where it was read (a path). */
  source: string
}

/**
 * A pattern registered in the protected registry (`medic protect add --pattern`). Root's
 * protects every process it matches, in every medic run. A user's protects that user's
 * processes in that user's own medic runs only: in another user's (root's) run, its regex
 * is never evaluated — the user chooses both the regex and the command lines it would be
 * matched against, and a regex can backtrack for ever. (To be safe from root's medic, a
 * user registers the process itself: run-dev-safe, protect add --pid.)
 */
export interface ProtectPattern {
  re: RegExp
  /** Owner uid of the pattern's file. */
  fileUid: number
  /** Where it was read (a path). */
  source: string
}

export interface ProtectionContext {
  selfPid: number
  /** medic's own ancestors, pids. */
  ancestors: ReadonlySet<number>
  protect: RegExp[]
  /** Patterns of the protected registry, read afresh with it. */
  patterns?: ProtectPattern[]
  /** The uid medic runs as: a user's registered pattern counts only in that user's own runs. */
  selfUid?: number
  match: RegExp | null
  registry: LiveEntry[]
  /** The protect policy could not be read (a broken config file): refuse everything not owned. */
  policyError?: string | null
  /** The protected registry could not be read whole (a flood of names, the deadline): refuse everything not owned. */
  registryError?: string | null
}

/**
 * The narrow capability of a process signalling a job it owns (run-dev-safe → its own
 * job, supervise → its own child): patterns (--protect, --match, config) do not apply, nor
 * do the registrations named here — the owner's own, the job's, and those that protect the
 * owner itself (a supervisor running inside a run-dev-safe job manages its own child: the
 * job's protection is against medic runs from outside). Every other rule does: pid 1,
 * self, ancestors, and any other registration.
 */
export interface OwnerScope {
  /** `<pid>-<starttime>` keys of registrations that belong to the owner or its job. */
  ownKeys: ReadonlySet<string>
}

export type Refusal =
  | {kind: 'init'; reason: string}
  | {kind: 'self'; reason: string}
  | {kind: 'ancestor'; reason: string}
  | {kind: 'registered'; reason: string}
  | {kind: 'protected'; reason: string}
  | {kind: 'unmatched'; reason: string}
  | {kind: 'policy'; reason: string}

export function describeProc(p: Pick<ProcFacts, 'comm' | 'cmdline'>): string {
  return p.cmdline.length > 0 ? p.cmdline.join(' ') : p.comm
}

export function entryKey(e: {pid: number; startTime: string}): string {
  return `${e.pid}-${e.startTime}`
}

/**
 * An entry counts only when its file belongs to root or to the user running the process
 * it names: otherwise any user could "protect" root's gateway and block every repair.
 */
export function entryCounts(fileUid: number, procUid: number): boolean {
  return fileUid === 0 || fileUid === procUid
}

/**
 * Marks are inherited, so they reach processes that left the job's tree. Which one can be
 * faked decides whom it may protect (a user must not make a process unkillable by root's
 * medic unless that user could register it):
 * - the environment mark: anyone can put any value in a process's environment (and an
 *   entry's mark is readable by all), so it protects only processes of the uid that runs
 *   the registered process — who could have registered them anyway;
 * - the session: no process can join another's session, and the reader only counts a
 *   session the registered process (or its parent) leads (`sessionLive`); in a user's
 *   entry only that user's members (the leader may be root's: see mayProtect);
 * - the cgroup: only root writes a cgroup path into an entry that counts here (a user's
 *   entry could name any cgroup), and only root can move processes between cgroups.
 */
function markProtects(e: LiveEntry, target: ProcFacts): 'mark' | 'session' | 'cgroup' | null {
  if (e.mark && target.mark === e.mark && target.uid !== undefined && target.uid === e.procUid) return 'mark'
  if (e.session && e.sessionLive && target.sid === e.session.sid) return 'session'
  if (e.cgroup && e.fileUid === 0 && within(target.cgroup, e.cgroup)) return 'cgroup'
  return null
}

/**
 * A user's entry protects that user's processes only — by identity, ancestry or any mark
 * (a user must not make a process unkillable by root's medic, and a user's process can
 * be the parent of a setuid program's, or sit in a session root leads). Root's entries
 * protect any process. A target whose uid could not be read is protected (fail closed).
 */
export function mayProtect(e: Pick<LiveEntry, 'fileUid' | 'procUid'>, target: Pick<ProcFacts, 'uid'>): boolean {
  return e.fileUid === 0 || target.uid === undefined || target.uid === e.procUid
}

function within(cg: string | null | undefined, root: string): boolean {
  return !!cg && (cg === root || cg.startsWith(root.endsWith('/') ? root : `${root}/`))
}

/**
 * Every registry entry that protects the target, and how: a registration of the target
 * itself first, then the nearest registered ancestor, then marks.
 */
export function protectionsOf(target: ProcFacts, chain: ProcFacts[], registry: LiveEntry[], owner?: OwnerScope): {entry: LiveEntry; reason: string}[] {
  const entries = registry.filter((e) => !owner?.ownKeys.has(entryKey(e)) && mayProtect(e, target))
  const job = (e: LiveEntry) => `run-dev-safe (job "${e.name}")`
  const out: {entry: LiveEntry; reason: string}[] = []
  for (const e of entries) if (e.pid === target.pid && e.startTime === target.startTime) out.push({entry: e, reason: `protected by ${job(e)}`})
  for (const a of chain) {
    for (const e of entries) if (e.descendants && e.pid === a.pid && e.startTime === a.startTime) out.push({entry: e, reason: `descendant of ${job(e)}, pid ${e.pid}`})
  }
  for (const e of entries) {
    const how = e.descendants ? markProtects(e, target) : null
    if (how === 'mark') out.push({entry: e, reason: `carries the ${MARK_ENV} mark of ${job(e)}, pid ${e.pid}`})
    if (how === 'session') out.push({entry: e, reason: `in the session of ${job(e)}, sid ${e.session!.sid}`})
    if (how === 'cgroup') out.push({entry: e, reason: `in the cgroup of ${job(e)}, ${e.cgroup}`})
  }
  return out
}

/** Why the registry protects the target (the strongest reason); null when it does not. */
export function protectedBy(target: ProcFacts, chain: ProcFacts[], registry: LiveEntry[], owner?: OwnerScope): string | null {
  return protectionsOf(target, chain, registry, owner)[0]?.reason ?? null
}

/**
 * @param chain the target's ancestors, nearest first (parent, grandparent …), so a
 *   descendant of a registered job is recognised.
 * @param owner set when the caller signals its own job (see OwnerScope).
 */
export function refusalFor(target: ProcFacts, chain: ProcFacts[], ctx: ProtectionContext, owner?: OwnerScope): Refusal | null {
  if (target.pid <= 1) return {kind: 'init', reason: `pid ${target.pid} is never signalled`}
  if (target.pid === ctx.selfPid) return {kind: 'self', reason: 'it is medic itself'}
  if (ctx.ancestors.has(target.pid)) return {kind: 'ancestor', reason: 'it is an ancestor of medic'}
  const reg = protectedBy(target, chain, ctx.registry, owner)
  if (reg) return {kind: 'registered', reason: reg}
  if (owner) return null
  if (ctx.policyError) return {kind: 'policy', reason: `the protect patterns are unknown (${ctx.policyError}); nothing is signalled`}
  if (ctx.registryError) return {kind: 'policy', reason: `the protected registry could not be read whole (${ctx.registryError}); nothing is signalled`}
  const text = `${target.comm} ${target.cmdline.join(' ')}`
  const hit = ctx.protect.find((re) => re.test(text))
  if (hit) return {kind: 'protected', reason: `matches --protect ${hit.source}`}
  // Who wrote it first, then the regex: a user's regex never runs in another user's medic (a
  // pattern that backtracks for ever against a command line its author chose would hang it).
  const pat = ctx.patterns?.find((p) => (p.fileUid === 0 || (p.fileUid === ctx.selfUid && p.fileUid === target.uid)) && p.re.test(text))
  if (pat) return {kind: 'protected', reason: `matches the protected pattern ${pat.re.source} (${pat.source})`}
  if (ctx.match && !ctx.match.test(text)) return {kind: 'unmatched', reason: `does not match --match ${ctx.match.source}`}
  return null
}

/** Does any live entry carry a mark of this kind? (the gate reads environ/cgroup only then). */
export function marksInUse(registry: LiveEntry[]): {env: boolean; cgroup: boolean} {
  return {env: registry.some((e) => e.descendants && !!e.mark), cgroup: registry.some((e) => e.descendants && !!e.cgroup)}
}

export function parseProtectedEntry(text: string): ProtectedEntry | null {
  try {
    const o = JSON.parse(text) as Partial<ProtectedEntry>
    if (o.version !== 1 || !Number.isInteger(o.pid) || typeof o.startTime !== 'string') return null
    const s = o.session
    return {
      version: 1,
      pid: o.pid as number,
      startTime: o.startTime,
      name: typeof o.name === 'string' ? o.name : String(o.pid),
      cmdline: Array.isArray(o.cmdline) ? o.cmdline.map(String) : [],
      descendants: o.descendants !== false,
      registeredAt: typeof o.registeredAt === 'string' ? o.registeredAt : '',
      mark: typeof o.mark === 'string' && /^\d+-\d+$/.test(o.mark) ? o.mark : null,
      session: s && Number.isInteger(s.sid) && s.sid > 1 && typeof s.startTime === 'string' ? {sid: s.sid, startTime: s.startTime} : null,
      cgroup: typeof o.cgroup === 'string' && o.cgroup.startsWith('/') && o.cgroup.length > 1 ? o.cgroup : null,
    }
  } catch {
    return null
  }
}

/**
 * Is a pid file's process the one that wrote it (or was written for)? Only if it started
 * before the file was last written. A younger process holds a reused pid: the file is stale.
 *
 * The process start is `starttime` clock ticks after boot (CLOCK_BOOTTIME); the file's
 * mtime is wall time. The boot moment in wall time is `wallNow − uptime` — /proc/uptime
 * has 10 ms resolution, where /proc/stat's btime has whole seconds. Slack: one clock tick
 * of the start time, the uptime's resolution, and one jiffy of the coarse clock that
 * stamps file times (≤ 10 ms at HZ=100).
 */
export function pidFileTrust(o: {startTicks: number; clkTck: number; fileMtimeMs: number; wallNowMs: number; uptimeMs: number}): {trusted: boolean; startedAtMs: number; slackMs: number} {
  const slackMs = 1000 / o.clkTck + 10 + 10
  const startedAtMs = o.wallNowMs - o.uptimeMs + (o.startTicks * 1000) / o.clkTck
  return {trusted: startedAtMs <= o.fileMtimeMs + slackMs, startedAtMs, slackMs}
}

/**
 * Why a pid file's own facts make it unbelievable (null when they do not): anyone but root
 * and the user running the named process could have written any pid into it.
 * - the file: owned by root or by that uid, one link (not another file linked in);
 * - its directory: owned by root or by that uid, and not writable by group or others
 *   unless sticky (there nobody can replace another's file);
 * - its mtime not in the future (beyond a second of clock slack): a future mtime would
 *   pass the start-before-written test for any reused pid.
 */
export function pidFileFileProblem(o: {file: {uid: number; nlink: number; mtimeMs: number}; dir: {uid: number; mode: number}; procUid: number; wallNowMs: number}): string | null {
  const ok = (uid: number) => uid === 0 || uid === o.procUid
  if (!ok(o.file.uid)) return `owned by uid ${o.file.uid}, neither root nor uid ${o.procUid} that runs the process it names`
  if (o.file.nlink > 1) return `it has ${o.file.nlink} hard links`
  if (!ok(o.dir.uid)) return `its directory is owned by uid ${o.dir.uid}, neither root nor uid ${o.procUid}`
  if ((o.dir.mode & 0o022) !== 0 && (o.dir.mode & 0o1000) === 0) return 'its directory is writable by others and not sticky'
  if (o.file.mtimeMs > o.wallNowMs + 1000) return `its mtime is ${Math.round((o.file.mtimeMs - o.wallNowMs) / 1000)}s in the future`
  return null
}

/**
 * Is the process a pid file names the service's? A pid file written inside another pid
 * namespace (a container) names a host pid, and a stale file touched after its pid was
 * reused passes the age test: the process must also be the service by what medic can see —
 * it holds the service's port (or is its parent or grandparent: a wrapper), or it runs the
 * start command.
 */
export function pidFileVouched(o: {pid: number; holderChains: number[][]; cmdline: string[]; comm: string; startCmd: string[] | null; port: number | null}): {ok: true; how: string} | {ok: false; why: string} {
  // The holder itself, or a wrapper at most two levels above it (npm → sh → node): not any
  // ancestor — a stray pid naming the login shell the service was started from would
  // stop that shell's whole tree.
  if (o.holderChains.some((chain) => chain.slice(0, 3).includes(o.pid))) return {ok: true, how: `it holds port ${o.port}`}
  const base = (s: string) => s.slice(s.lastIndexOf('/') + 1)
  // The start command exactly (its program compared by name), or a script it names run by its interpreter.
  const same = (argv: string[], cmd: string[]) => argv.length === cmd.length && argv.length > 0 && base(argv[0]) === base(cmd[0]) && argv.every((a, i) => i === 0 || a === cmd[i])
  if (o.startCmd && o.startCmd.length > 0 && (same(o.cmdline, o.startCmd) || same(o.cmdline.slice(1), o.startCmd))) return {ok: true, how: 'it runs the start command'}
  const held = o.port === null ? 'no port given' : o.holderChains.length ? `port ${o.port} is held by another process` : `nothing holds port ${o.port}`
  return {ok: false, why: `pid ${o.pid} (${o.comm}) is not the service's: ${held}, and it does not run ${o.startCmd ? `the start command (${o.startCmd.join(' ')})` : 'a --start-cmd'}`}
}

/**
 * A process group or session id names the job's group only while the pid it equals is
 * the job itself or nobody: the kernel does not hand out a pid still used as a pgid or
 * sid, but once the group is empty and the pid free, a new process may lead a new group
 * with the same number.
 */
export function groupIsJobs(job: {startTime: string}, leaderNow: {startTime: string} | null): boolean {
  return leaderNow === null || leaderNow.startTime === job.startTime
}

/** A renice and/or oom_score_adj change (medic guard's first rung, through the signal gate). */
export interface Adjustment {
  nice?: number
  oomScoreAdj?: number
}

/** The part of an undo that may be given back: what still has medic's value, and no oom_score_adj raised. */
export function undoable(change: Adjustment, set: Adjustment, now: {nice: number | null; oomScoreAdj: number | null}): {change: Adjustment; left: string[]} {
  const out: Adjustment = {}
  const left: string[] = []
  if (change.nice !== undefined) {
    if (set.nice !== undefined && now.nice === set.nice) out.nice = change.nice
    else left.push(`nice is ${now.nice ?? '?'}, not the ${set.nice ?? '?'} medic set`)
  }
  if (change.oomScoreAdj !== undefined) {
    if (set.oomScoreAdj === undefined || now.oomScoreAdj !== set.oomScoreAdj) left.push(`oom_score_adj is ${now.oomScoreAdj ?? '?'}, not the ${set.oomScoreAdj ?? '?'} medic set`)
    else if (change.oomScoreAdj > now.oomScoreAdj) left.push(`giving back oom_score_adj ${change.oomScoreAdj} would raise it from ${now.oomScoreAdj}`)
    else out.oomScoreAdj = change.oomScoreAdj
  }
  return {change: out, left}
}
