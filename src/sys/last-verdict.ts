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
}

export function writeLastVerdict(stateDir: string | undefined, commandId: string, v: Verdict, at: Date, durationMs: number): void {
  try {
    const rec: LastVerdict = {
      version: 1, command: commandId, subject: v.subject, token: token(v.subject, v.status), status: v.status,
      exitCode: exitCodeFor(v, 'nagios'), summary: v.summary.slice(0, 1000), at: at.toISOString(), durationMs: Math.round(durationMs), pid: process.pid,
    }
    writeFileAtomic(stateLayout(stateDir).lastVerdict(commandId, v.subject), JSON.stringify(rec) + '\n')
  } catch {
    // Best effort: an unwritable state dir must not change the verdict already printed.
  }
}

export function readLastVerdict(stateDir: string, commandId: string, subject: string): LastVerdict | null {
  const r = readJson<LastVerdict>(stateLayout(stateDir).lastVerdict(commandId, subject))
  return r && r.version === 1 && typeof r.at === 'string' ? r : null
}
