import {basename, dirname} from 'node:path'
import {formatBytes, formatMs} from '../core/duration.js'
import {archiveName, holderGone, lockDecision, parseLockPid, pruneDecision, type Holder} from '../core/housekeeping.js'
import type {Action, Check, Verdict} from '../core/verdict.js'
import {moveNoClobber, refusedDir, removeJudged} from '../sys/file-gate.js'
import {isDir, openers, readText, walkFiles} from '../sys/files.js'
import {pidSpace, type PidSpace} from '../sys/pid-ns.js'
import type {ProcessDeps} from '../deps.js'

export interface LocksInput {
  dir: string
  maxAgeMs: number
  dryRun: boolean
  /** --lock-pids-local: every writer of these locks runs in medic's own pid namespace. */
  pidsLocal?: boolean
}

type Deps = Pick<ProcessDeps, 'clock' | 'procs' | 'log' | 'progress'>

const wd = (deps: Deps, line: string) => {
  deps.log.line(`[WATCHDOG] ${line}`)
  deps.progress(`[WATCHDOG] ${line}`)
}

/** A directory that was asked for (or is the default) and is not there: medic saw nothing in it, so it cannot say OK. */
function missingDir(dir: string, what: string): Verdict | null {
  if (isDir(dir)) return null
  const detail = `${dir}: no such directory (or not one medic can read); no ${what} could be looked at`
  return {subject: 'WATCHDOG', status: 'UNKNOWN', summary: detail, checks: [{name: what, status: 'UNKNOWN', detail}], actions: []}
}

/**
 * `medic locks clean`: a `*.lock` goes only when it is older than --max-age AND the pid
 * inside is dead (identity: a zombie is dead; the pid is looked up in medic's own pid
 * namespace, so locks written from the host need a host-side run).
 */
export function locksClean(input: LocksInput, deps: Deps): Verdict {
  const missing = missingDir(input.dir, 'locks')
  if (missing) return missing
  const actions: Action[] = []
  const details: string[] = []
  const t0 = deps.clock.now()
  const now = deps.clock.wall().getTime()
  const refused = refusedDir(input.dir)
  if (refused) return refusal(refused)
  let removed = 0
  const unparsable: string[] = []
  const failed: {path: string; why: string}[] = []
  const unprovable: {path: string; why: string}[] = []
  let space: PidSpace | undefined // read once, and only when a lock's pid is not seen alive
  const there = isDir(input.dir)
  const files = there ? walkFiles(input.dir, (n) => n.endsWith('.lock')) : []
  for (const {path, stat} of files) {
    const pid = parseLockPid(readText(path, 4096) ?? '')
    const st = pid ? deps.procs.stat(pid) : null
    const pidAlive = !!st && st.state !== 'Z' && st.state !== 'X'
    const ageMs = now - stat.mtimeMs
    let holder: Holder | undefined
    const d = lockDecision(ageMs, input.maxAgeMs, pid, pidAlive, () => {
      space ??= pidSpace()
      return (holder = holderGone(pid!, stat.mtimeMs, {bootMs: space.bootMs, initial: space.initial, elsewhere: space.elsewhere(pid!), local: input.pidsLocal === true}))
    })
    details.push(`${path}: pid ${pid ?? '?'}${pid ? (pidAlive ? ' alive' : ` not running here${holder ? ` (${holder.why})` : ''}`) : ''}, age ${formatMs(ageMs)} → ${d}`)
    if (d === 'keep-unprovable') {
      unprovable.push({path, why: holder!.why})
      wd(deps, `Keeping lock: ${path}: ${holder!.why}`)
    }
    if (d === 'keep-unparsable') {
      unparsable.push(path)
      wd(deps, `Keeping unparsable lock: ${path} (age: ${Math.round(ageMs / 1000)}s)`)
    }
    if (d !== 'remove') continue
    if (!input.dryRun) {
      try {
        removeJudged(path, stat, input.dir) // still the file judged, still inside --dir
      } catch (e) {
        failed.push({path, why: (e as Error).message})
        details.push(`not removed: ${(e as Error).message}`)
        continue
      }
    }
    removed++
    wd(deps, `${input.dryRun ? 'Would remove' : 'Removing'} orphan lock: ${path} (PID ${pid} is dead: ${holder?.why}, age: ${Math.round(ageMs / 1000)}s)`)
    actions.push({action: input.dryRun ? 'would-remove' : 'remove', target: path, result: `pid ${pid} dead (${holder?.why}), age ${formatMs(ageMs)}`, ms: Math.round(deps.clock.now() - t0)})
  }
  const alert = unparsable.length || failed.length || unprovable.length
  const checks: Check[] = [{name: 'locks', status: alert ? 'ALERT' : removed ? 'RECOVERED' : 'OK', detail: `${files.length} lock(s) in ${input.dir}${there ? '' : ' (no such directory)'}; ${removed} orphan(s) ${input.dryRun ? 'would be ' : ''}removed; ${unparsable.length} unparsable kept${unprovable.length ? `; ${unprovable.length} kept whose writer cannot be proved dead` : ''}${failed.length ? `; ${failed.length} could not be removed` : ''}`}]
  const status = alert ? 'ALERT' : removed && !input.dryRun ? 'RECOVERED' : removed ? 'ALERT' : 'OK'
  const summary = failed.length
    ? `could not remove ${failed.length} orphan lock(s): ${failed.map((f) => `${basename(f.path)} (${f.why})`).join(', ')}; ${removed} removed in ${input.dir}`
    : unprovable.length
      ? `${unprovable.length} old lock(s) kept, their writer not provably dead: ${unprovable.map((f) => `${basename(f.path)} (${f.why})`).join(', ')}; ${removed} removed in ${input.dir}`
    : unparsable.length
    ? `${unparsable.length} unparsable lock(s) older than ${formatMs(input.maxAgeMs)} kept: ${unparsable.map((p) => basename(p)).join(', ')}`
    : removed ? `${input.dryRun ? 'would remove' : 'removed'} ${removed} orphan lock(s) of dead processes in ${input.dir}` : `no orphan lock in ${input.dir}`
  return {subject: 'WATCHDOG', status, summary, checks, actions, details}
}

export interface SessionsInput {
  dir: string
  maxBytes: number
  quietMs: number
  pruneOlderThanMs: number | null
  dryRun: boolean
}

/**
 * `medic sessions archive`: an oversized `*.jsonl` that no process holds open and that was
 * not written in the last --quiet is moved to `<name>.<UTC stamp>.old` through the file
 * gate — link then unlink, on to `.1.old`… when the name is taken, so an existing file is
 * never overwritten. Only --prune-older-than deletes, and only the archives medic made
 * (their name), archived longer ago than the limit (the stamp in the name — not the
 * mtime, which the link keeps from the session).
 */
export function sessionsArchive(input: SessionsInput, deps: Deps): Verdict {
  const missing = missingDir(input.dir, 'sessions')
  if (missing) return missing
  const actions: Action[] = []
  const details: string[] = []
  const t0 = deps.clock.now()
  const now = deps.clock.wall()
  const refused = refusedDir(input.dir)
  if (refused) return refusal(refused)
  const there = isDir(input.dir)
  const big = (there ? walkFiles(input.dir, (n) => n.endsWith('.jsonl')) : []).filter((f) => f.stat.size > input.maxBytes)
  const held = openers(big.map((f) => f.path))
  let archived = 0
  let pruned = 0
  const failed: string[] = []
  for (const {path, stat} of big) {
    const mb = formatBytes(stat.size)
    const holders = held.get(path)
    if (holders) {
      details.push(`${path}: ${mb}, held open by pid ${holders.join(', ')}: kept`)
      continue
    }
    if (now.getTime() - stat.mtimeMs < input.quietMs) {
      details.push(`${path}: ${mb}, written ${formatMs(now.getTime() - stat.mtimeMs)} ago: kept until quiet for ${formatMs(input.quietMs)}`)
      continue
    }
    let target = archiveName(path, now)
    if (!input.dryRun) {
      try {
        const moved = moveNoClobber(path, dirname(path), basename(target))
        if (!moved) {
          details.push(`${path}: gone before it was archived`)
          continue
        }
        target = moved
      } catch (e) {
        failed.push(path)
        details.push(`not archived: ${(e as Error).message}`)
        continue
      }
    }
    archived++
    wd(deps, `${input.dryRun ? 'Would archive' : 'Archiving'} large session: ${path} (${mb}) → ${basename(target)}`)
    actions.push({action: input.dryRun ? 'would-archive' : 'archive', target: path, result: `→ ${target} (${mb})`, ms: Math.round(deps.clock.now() - t0)})
  }
  if (input.pruneOlderThanMs !== null) {
    for (const {path, stat} of there ? walkFiles(input.dir, (n) => n.endsWith('.old')) : []) {
      const d = pruneDecision(basename(path), now.getTime(), input.pruneOlderThanMs)
      if (d === 'not-medic') details.push(`${path}: not an archive medic made: never pruned`)
      if (d !== 'prune') continue
      if (!input.dryRun) {
        try {
          removeJudged(path, stat, input.dir)
        } catch (e) {
          failed.push(path)
          details.push(`not pruned: ${(e as Error).message}`)
          continue
        }
      }
      pruned++
      wd(deps, `${input.dryRun ? 'Would prune' : 'Pruning'} old archive: ${path}`)
      actions.push({action: input.dryRun ? 'would-prune' : 'prune', target: path, result: `older than ${formatMs(input.pruneOlderThanMs)}`, ms: Math.round(deps.clock.now() - t0)})
    }
  }
  const did = archived + pruned
  const status = failed.length ? 'ALERT' : did === 0 ? 'OK' : input.dryRun ? 'ALERT' : 'RECOVERED'
  const done = `${input.dryRun ? 'would archive' : 'archived'} ${archived} oversized session(s)${pruned ? `, ${input.dryRun ? 'would prune' : 'pruned'} ${pruned} old archive(s)` : ''} in ${input.dir}`
  const summary = failed.length
    ? `could not move ${failed.length} file(s): ${failed.map((p) => basename(p)).join(', ')}; ${done}`
    : did === 0
      ? `no session to archive in ${input.dir}${big.length ? ` (${big.length} oversized, in use or recently written)` : ''}`
      : done
  return {subject: 'WATCHDOG', status, summary, checks: [{name: 'sessions', status, detail: summary}], actions, details}
}

/** A --dir medic must not change as root (sys refusedDir): ALERT naming why, nothing read further, nothing touched. */
function refusal(why: string): Verdict {
  return {subject: 'WATCHDOG', status: 'ALERT', summary: `refused: ${why}`, checks: [{name: 'dir', status: 'ALERT', detail: why}], actions: [], details: []}
}
