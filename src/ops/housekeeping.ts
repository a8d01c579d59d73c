import {basename, dirname} from 'node:path'
import {formatMs} from '../core/duration.js'
import {archiveName, lockDecision, parseLockPid, pruneDecision} from '../core/housekeeping.js'
import type {Action, Check, Verdict} from '../core/verdict.js'
import {moveNoClobber, removeJudged} from '../sys/file-gate.js'
import {isDir, openers, readText, walkFiles} from '../sys/files.js'
import type {ProcessDeps} from './deps.js'

export interface LocksInput {
  dir: string
  maxAgeMs: number
  dryRun: boolean
}

type Deps = Pick<ProcessDeps, 'clock' | 'procs' | 'log' | 'progress'>

const wd = (deps: Deps, line: string) => {
  deps.log.line(`[WATCHDOG] ${line}`)
  deps.progress(`[WATCHDOG] ${line}`)
}

/**
 * `medic locks clean`: a `*.lock` goes only when it is older than --max-age AND the pid
 * inside is dead (identity: a zombie is dead; the pid is looked up in medic's own pid
 * namespace, so locks written from the host need a host-side run).
 */
export function locksClean(input: LocksInput, deps: Deps): Verdict {
  const actions: Action[] = []
  const details: string[] = []
  const t0 = deps.clock.now()
  const now = deps.clock.wall().getTime()
  let removed = 0
  const unparsable: string[] = []
  const there = isDir(input.dir)
  const files = there ? walkFiles(input.dir, (n) => n.endsWith('.lock')) : []
  for (const {path, stat} of files) {
    const pid = parseLockPid(readText(path, 4096) ?? '')
    const st = pid ? deps.procs.stat(pid) : null
    const pidAlive = !!st && st.state !== 'Z' && st.state !== 'X'
    const ageMs = now - stat.mtimeMs
    const d = lockDecision(ageMs, input.maxAgeMs, pid, pidAlive)
    details.push(`${path}: pid ${pid ?? '?'}${pid ? (pidAlive ? ' alive' : ' dead') : ''}, age ${formatMs(ageMs)} → ${d}`)
    if (d === 'keep-unparsable') {
      unparsable.push(path)
      wd(deps, `Keeping unparsable lock: ${path} (age: ${Math.round(ageMs / 1000)}s)`)
    }
    if (d !== 'remove') continue
    if (!input.dryRun) {
      try {
        removeJudged(path, stat, input.dir) // still the file judged, still inside --dir
      } catch (e) {
        details.push(`not removed: ${(e as Error).message}`)
        continue
      }
    }
    removed++
    wd(deps, `${input.dryRun ? 'Would remove' : 'Removing'} orphan lock: ${path} (PID ${pid} is dead, age: ${Math.round(ageMs / 1000)}s)`)
    actions.push({action: input.dryRun ? 'would-remove' : 'remove', target: path, result: `pid ${pid} dead, age ${formatMs(ageMs)}`, ms: Math.round(deps.clock.now() - t0)})
  }
  const checks: Check[] = [{name: 'locks', status: unparsable.length ? 'ALERT' : removed ? 'RECOVERED' : 'OK', detail: `${files.length} lock(s) in ${input.dir}${there ? '' : ' (no such directory)'}; ${removed} orphan(s) ${input.dryRun ? 'would be ' : ''}removed; ${unparsable.length} unparsable kept`}]
  const status = unparsable.length ? 'ALERT' : removed && !input.dryRun ? 'RECOVERED' : removed ? 'ALERT' : 'OK'
  const summary = unparsable.length
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
  const actions: Action[] = []
  const details: string[] = []
  const t0 = deps.clock.now()
  const now = deps.clock.wall()
  const there = isDir(input.dir)
  const big = (there ? walkFiles(input.dir, (n) => n.endsWith('.jsonl')) : []).filter((f) => f.stat.size > input.maxBytes)
  const held = openers(big.map((f) => f.path))
  let archived = 0
  let pruned = 0
  const failed: string[] = []
  for (const {path, stat} of big) {
    const mb = (stat.size / 1024 / 1024).toFixed(1)
    const holders = held.get(path)
    if (holders) {
      details.push(`${path}: ${mb}MiB, held open by pid ${holders.join(', ')}: kept`)
      continue
    }
    if (now.getTime() - stat.mtimeMs < input.quietMs) {
      details.push(`${path}: ${mb}MiB, written ${formatMs(now.getTime() - stat.mtimeMs)} ago: kept until quiet for ${formatMs(input.quietMs)}`)
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
    wd(deps, `${input.dryRun ? 'Would archive' : 'Archiving'} large session: ${path} (${mb}MB) → ${basename(target)}`)
    actions.push({action: input.dryRun ? 'would-archive' : 'archive', target: path, result: `→ ${target} (${mb}MiB)`, ms: Math.round(deps.clock.now() - t0)})
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
