import {existsSync, linkSync, readFileSync, unlinkSync} from 'node:fs'
import {basename} from 'node:path'
import {formatMs} from '../core/duration.js'
import {archiveName, lockDecision, parseLockPid} from '../core/housekeeping.js'
import type {Action, Check, Verdict} from '../core/verdict.js'
import {openers, walkFiles} from '../sys/files.js'
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
  const files = existsSync(input.dir) ? walkFiles(input.dir, (n) => n.endsWith('.lock')) : []
  for (const {path, stat} of files) {
    let text = ''
    try {
      text = readFileSync(path, 'utf8')
    } catch {}
    const pid = parseLockPid(text)
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
        unlinkSync(path)
      } catch (e) {
        details.push(`${path}: ${(e as Error).message}`)
        continue
      }
    }
    removed++
    wd(deps, `${input.dryRun ? 'Would remove' : 'Removing'} orphan lock: ${path} (PID ${pid} is dead, age: ${Math.round(ageMs / 1000)}s)`)
    actions.push({action: input.dryRun ? 'would-remove' : 'remove', target: path, result: `pid ${pid} dead, age ${formatMs(ageMs)}`, ms: Math.round(deps.clock.now() - t0)})
  }
  const checks: Check[] = [{name: 'locks', status: unparsable.length ? 'ALERT' : removed ? 'RECOVERED' : 'OK', detail: `${files.length} lock(s) in ${input.dir}${existsSync(input.dir) ? '' : ' (no such directory)'}; ${removed} orphan(s) ${input.dryRun ? 'would be ' : ''}removed; ${unparsable.length} unparsable kept`}]
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
 * not written in the last --quiet is moved to `<name>.<UTC stamp>.old` — link then unlink,
 * so an existing archive is never overwritten. Only --prune-older-than deletes, and only
 * `.old` files.
 */
export function sessionsArchive(input: SessionsInput, deps: Deps): Verdict {
  const actions: Action[] = []
  const details: string[] = []
  const t0 = deps.clock.now()
  const now = deps.clock.wall()
  const big = (existsSync(input.dir) ? walkFiles(input.dir, (n) => n.endsWith('.jsonl')) : []).filter((f) => f.stat.size > input.maxBytes)
  const held = openers(big.map((f) => f.path))
  let archived = 0
  let pruned = 0
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
    const target = archiveName(path, now, existsSync)
    if (!input.dryRun) {
      try {
        linkSync(path, target) // fails rather than overwrite
        unlinkSync(path)
      } catch (e) {
        details.push(`${path}: ${(e as Error).message}`)
        continue
      }
    }
    archived++
    wd(deps, `${input.dryRun ? 'Would archive' : 'Archiving'} large session: ${path} (${mb}MB) → ${basename(target)}`)
    actions.push({action: input.dryRun ? 'would-archive' : 'archive', target: path, result: `→ ${target} (${mb}MiB)`, ms: Math.round(deps.clock.now() - t0)})
  }
  if (input.pruneOlderThanMs !== null) {
    for (const {path, stat} of existsSync(input.dir) ? walkFiles(input.dir, (n) => n.endsWith('.old')) : []) {
      if (now.getTime() - stat.mtimeMs <= input.pruneOlderThanMs) continue
      if (!input.dryRun) {
        try {
          unlinkSync(path)
        } catch {
          continue
        }
      }
      pruned++
      wd(deps, `${input.dryRun ? 'Would prune' : 'Pruning'} old archive: ${path}`)
      actions.push({action: input.dryRun ? 'would-prune' : 'prune', target: path, result: `older than ${formatMs(input.pruneOlderThanMs)}`, ms: Math.round(deps.clock.now() - t0)})
    }
  }
  const did = archived + pruned
  const status = did === 0 ? 'OK' : input.dryRun ? 'ALERT' : 'RECOVERED'
  const summary = did === 0
    ? `no session to archive in ${input.dir}${big.length ? ` (${big.length} oversized, in use)` : ''}`
    : `${input.dryRun ? 'would archive' : 'archived'} ${archived} oversized session(s)${pruned ? `, ${input.dryRun ? 'would prune' : 'pruned'} ${pruned} old archive(s)` : ''} in ${input.dir}`
  return {subject: 'WATCHDOG', status, summary, checks: [{name: 'sessions', status, detail: summary}], actions, details}
}
