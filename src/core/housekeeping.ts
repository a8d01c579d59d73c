/** Pure rules of the sandbox watchdog's housekeeping: lock files, session archives, ops requests. */

/** A lock holds `{"pid": N}` (the sandbox's format) or a bare number. Anything else: null. */
export function parseLockPid(text: string): number | null {
  const t = text.trim()
  if (/^\d+$/.test(t)) return Number(t) > 0 ? Number(t) : null
  try {
    const o = JSON.parse(t) as {pid?: unknown}
    const pid = typeof o?.pid === 'string' && /^\d+$/.test(o.pid) ? Number(o.pid) : o?.pid
    return typeof pid === 'number' && Number.isInteger(pid) && pid > 0 ? pid : null
  } catch {
    return null
  }
}

export type LockDecision = 'keep-fresh' | 'keep-live' | 'keep-unparsable' | 'keep-unprovable' | 'remove'

/**
 * Removed only when BOTH older than the max age AND its writer is provably dead. A live
 * pid's lock is never removed however old; an unparsable one is kept (watchdog.sh deleted
 * those too). A pid medic does not see alive is dead only when `holder` (holderGone) says
 * so: a pid in another pid namespace is not medic's to judge.
 */
export function lockDecision(ageMs: number, maxAgeMs: number, pid: number | null, pidAlive: boolean, holder: () => Holder): LockDecision {
  if (ageMs <= maxAgeMs) return 'keep-fresh'
  if (pid === null) return 'keep-unparsable'
  if (pidAlive) return 'keep-live'
  const h = holder().state
  return h === 'gone' ? 'remove' : h === 'alive-elsewhere' ? 'keep-live' : 'keep-unprovable'
}

/** What medic can know about pid namespaces, for a lock whose pid it does not see alive. */
export interface PidFacts {
  /** When this boot began (wall ms), or null. */
  bootMs: number | null
  /** medic runs in the host's initial pid namespace, where every process of every namespace is visible. */
  initial: boolean
  /** Host pids of processes that hold this pid number in a nested pid namespace (NSpid); null when /proc could not be read whole. */
  elsewhere: number[] | null
  /** --lock-pids-local: the operator says every writer of these locks runs in medic's own pid namespace. */
  local: boolean
}

export interface Holder {
  state: 'gone' | 'alive-elsewhere' | 'unknown'
  why: string
}

/**
 * Is the writer of a lock, whose pid medic does not see alive in its own pid namespace,
 * provably gone? A lock holds a bare pid, numbered in its writer's namespace: a container
 * sharing the directory (a bind mount) writes pids the host reads as someone else's, or
 * as no one's. Proof is one of: the lock was last written before this boot; medic runs in
 * the host's initial pid namespace (it sees every process of every namespace) and no
 * process has that pid in any nested one; or the operator said every writer runs here.
 */
export function holderGone(pid: number, lockMtimeMs: number, f: PidFacts): Holder {
  if (f.bootMs !== null && lockMtimeMs < f.bootMs) return {state: 'gone', why: 'written before this boot'}
  if (f.local) return {state: 'gone', why: `pid ${pid} is not running (--lock-pids-local: every writer runs in medic's pid namespace)`}
  if (!f.initial) return {state: 'unknown', why: `medic runs inside a pid namespace of its own (a container): pid ${pid} may be alive outside it; kept (run medic on the host, or pass --lock-pids-local if every writer runs in this namespace)`}
  if (f.elsewhere === null) return {state: 'unknown', why: `/proc could not be read whole (hidepid?): pid ${pid} may be alive in another pid namespace; kept`}
  if (f.elsewhere.length) return {state: 'alive-elsewhere', why: `pid ${pid} is alive in another pid namespace (host pid ${f.elsewhere.join(', ')}): kept`}
  return {state: 'gone', why: `no process has pid ${pid} in any pid namespace`}
}

/** `20260123T101112Z`: sortable, no colons. */
export function utcStamp(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')
}

/**
 * The archive of session `main.jsonl` made at `d`: `main.jsonl.<UTC stamp>.old`; the file
 * gate moves on to `.1.old`, `.2.old` … when the name is taken (core/file-rules nameVariant).
 */
export function archiveName(session: string, d: Date): string {
  return `${session}.${utcStamp(d)}.old`
}

/**
 * When medic made this archive, from its own name — `<x>.jsonl.<UTC stamp>[.N].old` — or
 * null for a file medic did not make (`notes.old`, `config.old`). The stamp is the
 * archive time; the session's mtime, which a hard link keeps, says nothing about it.
 */
export function archiveTime(name: string): number | null {
  const m = /\.jsonl\.(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z(?:\.\d+)?\.old$/.exec(name)
  if (!m) return null
  const [y, mo, d, h, mi, se] = m.slice(1).map(Number)
  const t = Date.UTC(y, mo - 1, d, h, mi, se)
  return new Date(t).getUTCDate() === d && mo >= 1 && mo <= 12 && h < 24 && mi < 60 && se < 61 ? t : null
}

export type PruneDecision = 'prune' | 'not-medic' | 'young'

/**
 * An archive is pruned only when medic made it (its name) AND it was archived longer
 * ago than `olderThanMs`, by the archive time in its name — never by its mtime, which is
 * the session's last write.
 */
export function pruneDecision(name: string, nowMs: number, olderThanMs: number): PruneDecision {
  const at = archiveTime(name)
  if (at === null) return 'not-medic'
  return nowMs - at > olderThanMs ? 'prune' : 'young'
}

export type OpsAction = 'restart' | 'set_model' | 'set_timezone'

export type OpsRequest =
  | {ok: true; action: OpsAction; params: Record<string, unknown>}
  | {ok: false; error: string}

export function parseOpsRequest(text: string): OpsRequest {
  let o: unknown
  try {
    o = JSON.parse(text)
  } catch (e) {
    return {ok: false, error: `not JSON: ${(e as Error).message}`}
  }
  if (!o || typeof o !== 'object' || Array.isArray(o)) return {ok: false, error: 'not a JSON object'}
  const action = (o as {action?: unknown}).action
  if (action !== 'restart' && action !== 'set_model' && action !== 'set_timezone') return {ok: false, error: `unknown action: ${JSON.stringify(action ?? null)}`}
  return {ok: true, action, params: o as Record<string, unknown>}
}

/** The watchdog's memory of gateways in D or Z state: `pid:starttime` → since when (wall ms), in what state. */
export interface HangRecord {
  seen: Record<string, {since: number; state: string; comm: string}>
}

export interface HangCandidate {
  pid: number
  startTime: string
  state: string
  comm: string
  ppid: number
}

export interface HangStep {
  record: HangRecord
  /** The record differs from the one given: it must be written for --hang-threshold to pass. */
  changed: boolean
  /** In D or Z for at least the threshold: to restart. */
  hung: {pid: number; state: string; comm: string; forMs: number; ppid: number}[]
  /** In D or Z, not yet for the threshold. */
  waiting: {pid: number; state: string; forMs: number}[]
}

/**
 * One watchdog pass over the gateway's processes: D or Z must persist for the threshold
 * (watchdog.sh acted on one sample). A process is the same one only with the same pid AND
 * start time; one that left D/Z, or exited, is forgotten. `now` is wall ms.
 */
export function hangStep(rec: HangRecord, procs: HangCandidate[], now: number, thresholdMs: number): HangStep {
  const seen: HangRecord['seen'] = {}
  const hung: HangStep['hung'] = []
  const waiting: HangStep['waiting'] = []
  for (const p of procs) {
    if (p.state !== 'D' && p.state !== 'Z') continue
    const key = `${p.pid}:${p.startTime}`
    const since = rec.seen[key]?.since ?? now
    seen[key] = {since, state: p.state, comm: p.comm}
    if (now - since >= thresholdMs) hung.push({pid: p.pid, state: p.state, comm: p.comm, forMs: now - since, ppid: p.ppid})
    else waiting.push({pid: p.pid, state: p.state, forMs: now - since})
  }
  return {record: {seen}, changed: JSON.stringify(seen) !== JSON.stringify(rec.seen), hung, waiting}
}
