import {exitCodeFor, token, type Verdict} from '../core/verdict.js'
import {stateLayout} from './state-layout.js'
import {readJson, writeFileAtomic} from './state-store.js'

/**
 * The last verdict of each command and subject, `<state-dir>/last/<command-id>.<SUBJECT>.json`,
 * written by the runner after every verdict (atomically, best effort: it never changes the
 * verdict). medic verify reads it to say what the installed run last said; notify-on-change
 * can read it too.
 */
export interface LastVerdict {
  version: 1
  command: string
  subject: string
  token: string
  status: Verdict['status']
  /** The nagios-mode exit code. */
  exitCode: number
  summary: string
  /** ISO-8601 wall time the verdict was emitted. */
  at: string
  durationMs: number
  pid: number
  /** The install whose unit or cron line ran it (MEDIC_INSTALL_NAME), when one did. */
  install?: string
}

/**
 * Writes the command-and-subject record and, when an install ran it (`install`, from
 * MEDIC_INSTALL_NAME), that install's own record too: verify judges an install by its own runs.
 *
 * Renamed into place but not fsynced (0.3–2 ms on a quiet disk, ~10 ms on a busy one, before
 * every run can exit: docs/startup.md). The record is advisory and rewritten by every run: a
 * power cut can only lose the newest one — readers then see the previous record (its `at`
 * says how old) or, on a filesystem that does not order data before the rename, an empty
 * or torn file, which readLastVerdict reads as no record. verify says "no run recorded" or
 * names the older run; notify-on-change uses it only until a channel keeps its own record
 * (core/notify.ts), which is written durably. Nothing decides a kill or a repair on it.
 */
export function writeLastVerdict(stateDir: string | undefined, commandId: string, v: Verdict, at: Date, durationMs: number, install?: string): void {
  const rec: LastVerdict = {
    version: 1, command: commandId, subject: v.subject, token: token(v.subject, v.status), status: v.status,
    exitCode: exitCodeFor(v, 'nagios'), summary: v.summary.slice(0, 1000), at: at.toISOString(), durationMs: Math.round(durationMs), pid: process.pid,
    ...(install ? {install} : {}),
  }
  const layout = stateLayout(stateDir)
  for (const path of [layout.lastVerdict(commandId, v.subject), ...(install ? [layout.installLastVerdict(install)] : [])]) {
    try {
      writeFileAtomic(path, JSON.stringify(rec) + '\n', 0o644, {durable: false})
    } catch {
      // Best effort: an unwritable state dir must not change the verdict already printed.
    }
  }
}

/**
 * The last verdict of a command and subject; with `install`, only that install's own record,
 * and only if it is of that command and subject (another run never vouches for it).
 */
export function readLastVerdict(stateDir: string, commandId: string, subject: string, install?: string): LastVerdict | null {
  const layout = stateLayout(stateDir)
  const r = readJson<LastVerdict>(install ? layout.installLastVerdict(install) : layout.lastVerdict(commandId, subject))
  if (!r || r.version !== 1 || typeof r.at !== 'string') return null
  if (install && (r.install !== install || r.command !== commandId || r.subject !== subject)) return null
  return r
}
