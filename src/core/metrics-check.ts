/**
 * The metrics every verdict command writes with `--metrics-file` (or into
 * `$MEDIC_TEXTFILE_DIR`), for node_exporter's textfile collector. Pure: the counters that
 * must survive across runs come in as data (kept in the state dir by ops/observe.ts).
 *
 * Every series carries `command` and `subject`: two checks never write the same series, so
 * any number of medic files can sit in one textfile directory (node_exporter rejects a
 * series that two files both carry), and one file may hold several checks — a writer
 * replaces only its own command+subject's series (mergeExposition). Every family's HELP
 * and TYPE is fixed here, so two files that share a family always agree on them (the other
 * thing node_exporter rejects).
 */
import {renderFamilies, type Family, type Sample} from './prom.js'
import {KILL_SIGNALS, killsIn} from './perfdata.js'
import type {Action, Status, Verdict} from './verdict.js'

export {killsIn}

/** medic_check_status: the nagios exit code of the status. */
export const STATUS_VALUE: Record<Status, number> = {OK: 0, RECOVERED: 1, ALERT: 2, UNKNOWN: 3}

/** Every problem code `medic health` can report, each a 0/1 gauge so a cleared one reads 0, not absent. */
export const HEALTH_PROBLEMS = ['RESTART_LOOP', 'ORPHAN_PROCESS', 'GATEWAY_DEAD', 'UNRESPONSIVE', 'HUNG', 'ZOMBIE', 'LOG_PATTERN'] as const

export const NOTIFY_RESULTS = ['sent', 'failed', 'held'] as const
export type NotifyResult = (typeof NOTIFY_RESULTS)[number]

/** Totals kept in `<state-dir>/metrics/<command>.<SUBJECT>.json` between runs. */
export interface CheckCounters {
  version: 1
  repairs: {recovered: number; failed: number}
  kills: number
  /** supervise: restarts of the child, summed over every supervisor run. */
  restarts: number
  /** supervise: the supervisor run whose starts are already counted (pid:starttime) and how many. */
  supervisor?: {id: string; starts: number}
  notify: Record<NotifyResult, number>
}

export function newCounters(): CheckCounters {
  return {version: 1, repairs: {recovered: 0, failed: 0}, kills: 0, restarts: 0, notify: {sent: 0, failed: 0, held: 0}}
}

/** A counters record read back from disk, or a fresh one when it is missing or not ours. */
export function validCounters(x: unknown): CheckCounters {
  const c = x as CheckCounters | null
  const n = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.floor(v) : 0)
  if (!c || c.version !== 1 || typeof c !== 'object') return newCounters()
  return {
    version: 1,
    repairs: {recovered: n(c.repairs?.recovered), failed: n(c.repairs?.failed)},
    kills: n(c.kills),
    restarts: n(c.restarts),
    ...(c.supervisor && typeof c.supervisor.id === 'string' ? {supervisor: {id: c.supervisor.id, starts: n(c.supervisor.starts)}} : {}),
    notify: {sent: n(c.notify?.sent), failed: n(c.notify?.failed), held: n(c.notify?.held)},
  }
}

/** Actions that change the service: a repair was attempted when one of them was taken. */
function repairAction(a: Action): boolean {
  return ['stop', 'start', 'restart', 'selfheal'].includes(a.action) || (KILL_SIGNALS.has(a.action.split('+')[0]) && a.result === 'sent')
}

/**
 * Whether this verdict was a repair, and how it went: RECOVERED is a repair that worked;
 * ALERT or UNKNOWN after a stop, start, restart or a signal delivered is one that failed.
 * A drill injects its faults on purpose: its signals are kills, never repairs.
 */
export function repairOf(command: string, v: Pick<Verdict, 'status' | 'actions'>): 'recovered' | 'failed' | null {
  if (command === 'drill') return null
  if (v.status === 'RECOVERED') return 'recovered'
  if ((v.status === 'ALERT' || v.status === 'UNKNOWN') && v.actions.some(repairAction)) return 'failed'
  return null
}

/** The counters after one verdict (and, for supervise, its supervisor's start count). */
export function countVerdict(c: CheckCounters, command: string, v: Pick<Verdict, 'status' | 'actions'>, supervisor?: {id: string; starts: number}): CheckCounters {
  const next: CheckCounters = {...c, repairs: {...c.repairs}, notify: {...c.notify}}
  const r = repairOf(command, v)
  if (r) next.repairs[r]++
  next.kills += killsIn(v.actions)
  if (supervisor) {
    // Restarts = starts after the first, counted once per supervisor run, whatever the pass cadence.
    const seen = c.supervisor?.id === supervisor.id ? c.supervisor.starts : 1
    next.restarts += Math.max(0, supervisor.starts - seen)
    next.supervisor = {id: supervisor.id, starts: Math.max(seen, supervisor.starts)}
  }
  return next
}

export function countNotify(c: CheckCounters, result: NotifyResult, n = 1): CheckCounters {
  return {...c, notify: {...c.notify, [result]: c.notify[result] + n}}
}

export interface CheckSnapshot {
  command: string
  subject: string
  status: Status
  /** Wall seconds (Unix) of the verdict. */
  at: number
  durationS: number
  counters: CheckCounters
  /** health: the problem codes found this run. */
  problems?: string[]
  /** Commands with a repair or restart budget: is it spent? null when the command has none. */
  budgetExhausted?: boolean | null
  /** supervise: it is a supervisor (restarts are written). */
  supervisor?: boolean
  /** Notifications are configured (their counters are written, 0 included). */
  notifying?: boolean
}

export const FAMILY_HELP = {
  medic_check_status: 'Status of the last medic check: 0 OK, 1 RECOVERED, 2 ALERT, 3 UNKNOWN (the nagios exit code).',
  medic_check_last_run_timestamp_seconds: 'Unix time the last medic check of this command and subject ended.',
  medic_check_duration_seconds: 'How long the last medic check took.',
  medic_repairs_total: 'Repairs medic attempted (restart, stop/start, signals to free a port), by result: recovered or failed.',
  medic_kills_total: 'Signals medic delivered to end or stop a process (SIGTERM, SIGKILL ...).',
  medic_repair_budget_exhausted: '1 while the repair (or restart) budget of this check is spent and medic no longer acts.',
  medic_health_problem: '1 while medic health finds this problem, else 0.',
  medic_supervise_restarts_total: 'Restarts of the supervised child by medic supervise.',
  medic_notifications_total: 'Notifications on a change of status, by result: sent, failed (delivery failed or timed out) or held (rate limit).',
} as const

export type CheckFamily = keyof typeof FAMILY_HELP

/** The families of one check, every sample labelled with its command and subject. */
export function checkFamilies(s: CheckSnapshot): Family[] {
  const id = {command: s.command, subject: s.subject}
  const fam = (name: CheckFamily, type: 'gauge' | 'counter', samples: Sample[]): Family => ({name, help: FAMILY_HELP[name], type, samples: samples.map((x) => ({...x, labels: {...id, ...x.labels}}))})
  const families: Family[] = [
    fam('medic_check_status', 'gauge', [{value: STATUS_VALUE[s.status]}]),
    fam('medic_check_last_run_timestamp_seconds', 'gauge', [{value: Math.round(s.at * 1000) / 1000}]),
    fam('medic_check_duration_seconds', 'gauge', [{value: Math.round(s.durationS * 1000) / 1000}]),
    fam('medic_repairs_total', 'counter', [{labels: {result: 'recovered'}, value: s.counters.repairs.recovered}, {labels: {result: 'failed'}, value: s.counters.repairs.failed}]),
    fam('medic_kills_total', 'counter', [{value: s.counters.kills}]),
  ]
  if (s.budgetExhausted !== undefined && s.budgetExhausted !== null) families.push(fam('medic_repair_budget_exhausted', 'gauge', [{value: s.budgetExhausted ? 1 : 0}]))
  if (s.problems) families.push(fam('medic_health_problem', 'gauge', HEALTH_PROBLEMS.map((p) => ({labels: {problem: p}, value: s.problems!.includes(p) ? 1 : 0}))))
  if (s.supervisor) families.push(fam('medic_supervise_restarts_total', 'counter', [{value: s.counters.restarts}]))
  const n = s.counters.notify
  if (s.notifying || n.sent + n.failed + n.held > 0) families.push(fam('medic_notifications_total', 'counter', NOTIFY_RESULTS.map((r) => ({labels: {result: r}, value: n[r]}))))
  return families
}

/** What a verdict says of its budget: a check named `… budget` (health, supervise), else `extra.budgetExhausted`. */
export function budgetOf(v: Pick<Verdict, 'checks' | 'extra'>): boolean | null {
  const c = v.checks.find((x) => /\bbudget\b/.test(x.name))
  if (c) return c.status === 'ALERT'
  const e = v.extra?.budgetExhausted
  return typeof e === 'boolean' ? e : null
}

/** health's problem codes, from the verdict's `extra.problems`. */
export function problemsOf(v: Pick<Verdict, 'extra'>): string[] | undefined {
  const p = v.extra?.problems
  if (!Array.isArray(p)) return undefined
  return p.map((x) => (x && typeof x === 'object' ? String((x as {code?: unknown}).code) : String(x)))
}

// ---------------------------------------------------------------------------------------
// One file, several checks: replace only our own series.

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[^"}]|"(?:[^"\\]|\\.)*")*\})?\s+(\S+)\s*$/
const LABEL_PAIR = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g

const unesc = (v: string) => v.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c))

export interface ParsedSample {
  name: string
  labels: Record<string, string>
  value: number
}

/**
 * The samples of a textfile medic wrote, or why it is not one (a file that holds anything
 * but medic's own families is someone else's: it is never rewritten).
 */
export function parseMedicExposition(text: string): {samples: ParsedSample[]} | {foreign: string} {
  const samples: ParsedSample[] = []
  for (const [i, line] of text.split('\n').entries()) {
    if (line === '' || line.startsWith('#')) {
      const meta = /^# (?:HELP|TYPE) (\S+)/.exec(line)
      if (meta && !(meta[1] in FAMILY_HELP)) return {foreign: `line ${i + 1}: ${meta[1]} is not a medic check metric`}
      continue
    }
    const m = SAMPLE.exec(line)
    if (!m) return {foreign: `line ${i + 1}: not a sample`}
    if (!(m[1] in FAMILY_HELP)) return {foreign: `line ${i + 1}: ${m[1]} is not a medic check metric`}
    const labels: Record<string, string> = {}
    for (const [, k, v] of (m[2] ?? '').matchAll(LABEL_PAIR)) labels[k] = unesc(v)
    const value = Number(m[3])
    if (!Number.isFinite(value)) return {foreign: `line ${i + 1}: bad value`}
    samples.push({name: m[1], labels, value})
  }
  return {samples}
}

/**
 * The file's new text: the other checks' series as they were, this check's replaced by
 * `families`. Families stay grouped, each with its one HELP and TYPE.
 */
export function mergeExposition(existing: ParsedSample[], families: Family[], own: {command: string; subject: string}): string {
  const merged = new Map<string, Family>()
  const family = (name: string): Family => {
    let f = merged.get(name)
    if (!f) {
      const known = families.find((x) => x.name === name)
      f = {name, help: FAMILY_HELP[name as CheckFamily], type: known?.type ?? (name.endsWith('_total') ? 'counter' : 'gauge'), samples: []}
      merged.set(name, f)
    }
    return f
  }
  for (const s of existing) {
    if (s.labels.command === own.command && s.labels.subject === own.subject) continue
    family(s.name).samples.push({labels: s.labels, value: s.value})
  }
  for (const f of families) family(f.name).samples.push(...f.samples)
  // The fixed order of FAMILY_HELP, each family's samples by command and subject: the file is stable.
  const order = Object.keys(FAMILY_HELP)
  const key = (s: Sample) => `${s.labels?.command}\u0000${s.labels?.subject}\u0000${JSON.stringify(s.labels)}`
  return renderFamilies([...merged.values()].sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name)).map((f) => ({...f, samples: [...f.samples].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0))})))
}
