/**
 * `medic verify`'s judgements, pure: is a unit loaded, enabled and active; did the check
 * run recently and what did it say; is a textfile fresh and valid; is what is on disk what
 * medic wrote, and what it would write now. Each returns one check; the op gathers them.
 */
import {formatMs} from './duration.js'
import {lintExposition} from './prom.js'
import {attrsProblem, type FileAttrs, type OnDisk} from './units-manifest.js'
import type {Check, Status} from './verdict.js'

/** `systemctl show UNIT -p LoadState,UnitFileState,ActiveState,SubState,NeedDaemonReload`. */
export function judgeUnit(unit: string, props: Record<string, string>, wantActive: 'running' | 'waiting' | 'any'): Check {
  const fail = (detail: string): Check => ({name: unit, status: 'ALERT', detail})
  if (props.LoadState !== 'loaded') return fail(`${unit} is ${props.LoadState || 'unknown'} (not loaded)`)
  if (props.NeedDaemonReload === 'yes') return fail(`${unit} changed on disk but systemd was not reloaded (daemon-reload)`)
  const enabled = ['enabled', 'enabled-runtime', 'static', 'generated'].includes(props.UnitFileState ?? '')
  const state = `${props.ActiveState ?? '?'}${props.SubState ? ` (${props.SubState})` : ''}`
  if (!enabled) return fail(`${unit} is not enabled (${props.UnitFileState || 'unknown'}), ${state}`)
  if (props.ActiveState !== 'active' || (wantActive !== 'any' && props.SubState !== wantActive)) return fail(`${unit} is ${state}, not active`)
  return {name: unit, status: 'OK', detail: `loaded, ${props.UnitFileState}, ${state}`}
}

export interface LastRecord {
  token: string
  status: Status
  summary: string
  at: string
}

/**
 * A time more than this in the future is no evidence of a recent run (a clock stepped back,
 * or a forged record): it would count as fresh forever.
 */
const CLOCK_SKEW_MS = 60_000
const FUTURE = 'the clock was set back, or the record is not a real run; not evidence of a recent run'

/** A periodic check must have recorded a verdict within 2 × its interval, and not ALERT/UNKNOWN. */
export function judgeLastRun(what: string, rec: LastRecord | null, nowMs: number, everyMs: number): Check {
  const name = `last run of ${what}`
  if (!rec) return {name, status: 'ALERT', detail: `${what} never recorded a verdict`}
  const age = nowMs - Date.parse(rec.at)
  const said = `${rec.token}: ${rec.summary}`.slice(0, 200)
  if (!Number.isFinite(age)) return {name, status: 'ALERT', detail: `unreadable time in its last verdict record (${rec.at})`}
  if (age < -CLOCK_SKEW_MS) return {name, status: 'ALERT', detail: `last verdict dated ${formatMs(-age)} in the future: ${FUTURE} (${said})`}
  if (age > 2 * everyMs) return {name, status: 'ALERT', detail: `last verdict ${formatMs(age)} ago, more than 2 × ${formatMs(everyMs)} (${said})`}
  if (rec.status === 'ALERT' || rec.status === 'UNKNOWN') return {name, status: 'ALERT', detail: `it said ${said} (${formatMs(Math.max(0, age))} ago)`}
  return {name, status: 'OK', detail: `${said} (${formatMs(Math.max(0, age))} ago)`}
}

/** A pass may take this long on top of its interval (its probes' timeouts) before its loop counts as frozen. */
export const HEARTBEAT_GRACE_MS = 30_000

/**
 * A long-running loop's heartbeat: its install's last-verdict record, refreshed every pass,
 * must be younger than 2 × its interval + HEARTBEAT_GRACE_MS. A service that started recently
 * (`startedMs`, systemd's ActiveEnterTimestamp) may not have passed yet: its startup delay
 * and that same bound. A record from before the start is a previous run's.
 */
export function judgeHeartbeat(what: string, rec: LastRecord | null, nowMs: number, intervalMs: number, startedMs: number | null, startupMs: number): Check {
  const name = `heartbeat of ${what}`
  const limit = 2 * intervalMs + HEARTBEAT_GRACE_MS
  const bound = `2 × ${formatMs(intervalMs)} + ${formatMs(HEARTBEAT_GRACE_MS)}`
  const at = rec ? Date.parse(rec.at) : NaN
  if (!rec || !Number.isFinite(at) || (startedMs !== null && at < startedMs - CLOCK_SKEW_MS)) {
    const up = startedMs === null ? null : nowMs - startedMs
    if (up !== null && up <= startupMs + limit) return {name, status: 'OK', detail: `started ${formatMs(Math.max(0, up))} ago; its first pass is due`}
    return {name, status: 'ALERT', detail: `${what} recorded no pass ${up === null ? 'at all' : `since it started ${formatMs(up)} ago`}: its loop is frozen (stopped, or stuck before a pass ends)`}
  }
  const age = nowMs - at
  if (age < -CLOCK_SKEW_MS) return {name, status: 'ALERT', detail: `its last pass is dated ${formatMs(-age)} in the future: ${FUTURE}`}
  if (age > limit) return {name, status: 'ALERT', detail: `${what}'s last pass was ${formatMs(age)} ago, more than ${bound}: its loop is frozen (stopped, or a pass that never ends)`}
  return {name, status: 'OK', detail: `last pass ${rec.token} ${formatMs(Math.max(0, age))} ago (every ${formatMs(intervalMs)})`}
}

/** A Prometheus textfile: refreshed within 2 × its interval and valid exposition text. */
export function judgeTextfile(path: string, mtimeMs: number | null, text: string | null, nowMs: number, intervalMs: number): Check {
  const name = `textfile ${path}`
  if (mtimeMs === null || text === null) return {name, status: 'ALERT', detail: `${path} does not exist (nothing writes the metrics)`}
  const age = nowMs - mtimeMs
  if (age < -CLOCK_SKEW_MS) return {name, status: 'ALERT', detail: `${path} last written ${formatMs(-age)} in the future: ${FUTURE}`}
  if (age > 2 * intervalMs) return {name, status: 'ALERT', detail: `${path} last written ${formatMs(age)} ago, more than 2 × ${formatMs(intervalMs)}: stale`}
  const problems = lintExposition(text)
  if (problems.length) return {name, status: 'ALERT', detail: `${path} is not valid exposition text: ${problems.slice(0, 2).join('; ')}`}
  return {name, status: 'OK', detail: `written ${formatMs(Math.max(0, age))} ago, valid`}
}

/**
 * Drift: the file on disk against what medic wrote (a hand edit) and against what medic
 * install would write now (medic moved, upgraded, or the host changed).
 */
export function judgeFile(path: string, disk: OnDisk, written: string, wouldWrite: string | null, want?: FileAttrs): Check {
  const name = `file ${path}`
  if (disk.kind === 'missing') return {name, status: 'ALERT', detail: `${path} is gone`}
  if (disk.kind !== 'file') return {name, status: 'ALERT', detail: `${path} is ${disk.kind === 'other' ? disk.what : disk.kind === 'symlink' ? 'now a symlink' : disk.detail}`}
  if (disk.text !== written) return {name, status: 'ALERT', detail: `${path} was changed since medic wrote it (${firstDifference(written, disk.text)})`}
  const attrs = want ? attrsProblem(path, disk, want) : null
  if (attrs) return {name, status: 'ALERT', detail: `${attrs}: install again to put medic’s back`}
  if (wouldWrite === null) return {name, status: 'ALERT', detail: `${path} is no longer part of what medic install would write for it: install again`}
  if (wouldWrite !== written) return {name, status: 'ALERT', detail: `${path} differs from what medic install would write now (${firstDifference(written, wouldWrite)}): run the install again`}
  return {name, status: 'OK', detail: 'as medic wrote it, and as it would write it now'}
}

function firstDifference(a: string, b: string): string {
  const x = a.split('\n')
  const y = b.split('\n')
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    if (x[i] !== y[i]) return `line ${i + 1}: ${JSON.stringify((x[i] ?? '').slice(0, 60))} → ${JSON.stringify((y[i] ?? '').slice(0, 60))}`
  }
  return 'same lines'
}

/** The verdict over every item: OK only when each is OK; ALERT names each failing one. */
export function verifyVerdict(checks: Check[], what: string): {status: Status; summary: string} {
  const bad = checks.filter((c) => c.status === 'ALERT')
  const unknown = checks.filter((c) => c.status === 'UNKNOWN')
  if (bad.length) return {status: 'ALERT', summary: bad.map((c) => c.detail).join('; ')}
  if (unknown.length) return {status: 'UNKNOWN', summary: `cannot tell: ${unknown.map((c) => c.detail).join('; ')}`}
  return {status: 'OK', summary: what}
}
