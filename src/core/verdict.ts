import type {PerfDatum} from './perfdata.js'

/**
 * The verdict contract (docs/contract.md §1), defined here and nowhere else.
 * Every command ends in one Verdict; the renderer turns it into line 1 of stdout
 * (or one JSON object) and the exit code.
 */

export const STATUSES = ['OK', 'RECOVERED', 'ALERT', 'UNKNOWN'] as const
export type Status = (typeof STATUSES)[number]

export type ExitCodeMode = 'nagios' | 'binary'
export const EXIT_CODE_MODES: readonly ExitCodeMode[] = ['nagios', 'binary']

/** Exhaustive by type: a new status fails to compile until it has a code in both modes. */
export const EXIT_CODES: Record<ExitCodeMode, Record<Status, number>> = {
  nagios: {OK: 0, RECOVERED: 1, ALERT: 2, UNKNOWN: 3},
  binary: {OK: 0, RECOVERED: 0, ALERT: 1, UNKNOWN: 1},
}

export const STATUS_MEANING: Record<Status, string> = {
  OK: 'healthy; nothing was done',
  RECOVERED: 'something was wrong and medic fixed it; verified afterwards',
  ALERT: 'something is wrong and is not fixed (repair off, failed, refused, over budget)',
  UNKNOWN: 'medic could not tell: bad input, missing permission or tool, internal error',
}

/**
 * A usage error (bad flag, missing argument, unknown command) exits 3 in either mode:
 * it is found before the mode is known for sure (`--exit-codes bogus`), and 3 is a
 * failure to binary callers too.
 */
export const USAGE_EXIT_CODE = 3

export interface Check {
  name: string
  status: Status
  detail: string
}

export interface Action {
  action: string
  target: string
  result: string
  ms: number
}

export interface Verdict {
  subject: string
  status: Status
  summary: string
  checks: Check[]
  actions: Action[]
  /** Detail lines for `-v`, in order. */
  details?: string[]
  /** Print `details` even without `-v`. */
  printDetails?: boolean
  /**
   * What stdout carries instead of the verdict (`ollama metrics --stdout`: a Prometheus
   * exposition, valid on its own): printed as is, and the verdict line goes to stderr.
   * With --json, stdout is the one JSON object as ever.
   */
  data?: string
  /** Command-specific fields merged into the JSON object. */
  extra?: Record<string, unknown>
  /** Set for usage errors: exit 3 in both modes. */
  usageError?: boolean
  /**
   * A wrapper's verdict (`run-dev-safe`): printed on stderr, because stdout belongs to the
   * job, and the process exits with the job's own status.
   */
  wrapper?: {exitCode: number}
  /**
   * A mode whose exit code its seed fixed, whatever the status (`ollama frozen-check --test`:
   * 0, as ollama_frozen_monitor.sh --test; the token still says what it saw).
   */
  fixedExit?: number
  /** Measurements for `--perfdata` (Nagios performance data after ` | ` on line 1). */
  perf?: PerfDatum[]
}

/** Bad input (a flag, an argument, a pid that is not there): `<SUBJECT>_UNKNOWN: …`, exit 3, no stack trace. */
export class UsageError extends Error {}

/**
 * Thrown when medic refuses to go on, before it has acted — an unsafe state dir, state
 * it cannot write: the verdict is `status` (ALERT by default) with this message.
 */
export class Refusal extends Error {
  constructor(message: string, readonly status: Status = 'ALERT') {
    super(message)
  }
}

const RANK: Record<Status, number> = {OK: 0, RECOVERED: 1, UNKNOWN: 2, ALERT: 3}

/** The status that dominates a set: ALERT over UNKNOWN over RECOVERED over OK. */
export function worstOf(statuses: Iterable<Status>): Status {
  let worst: Status = 'OK'
  for (const s of statuses) if (RANK[s] > RANK[worst]) worst = s
  return worst
}

/** `--name whatsapp` → `WHATSAPP`; anything outside [A-Z0-9_] becomes `_`. */
export function toSubject(name: string): string {
  const s = name.toUpperCase().replace(/[^A-Z0-9_]+/g, '_').replace(/^_+|_+$/g, '')
  return s === '' ? 'MEDIC' : s
}

export function token(subject: string, status: Status): string {
  return `${subject}_${status}`
}

export function exitCodeFor(v: Pick<Verdict, 'status' | 'usageError' | 'wrapper' | 'fixedExit'>, mode: ExitCodeMode): number {
  if (v.wrapper) return v.wrapper.exitCode
  if (v.fixedExit !== undefined && !v.usageError) return v.fixedExit
  return v.usageError ? USAGE_EXIT_CODE : EXIT_CODES[mode][v.status]
}

const TOKEN_RE = /([A-Za-z0-9])_(OK|RECOVERED|ALERT|UNKNOWN)(?![A-Za-z0-9])/g

/**
 * Callers match tokens by substring, so no byte of stdout but the token itself may
 * look like one: a process named `GATEWAY_ALERT` in a summary becomes `GATEWAY-ALERT`.
 */
export function defang(text: string): string {
  return text.replace(TOKEN_RE, '$1-$2')
}

/**
 * Line 1 carries the whole summary: what happened comes first and is never cut (cron
 * mail, Nagios and a person read only that line). This cap only guards against a runaway
 * summary (a list of thousands of pids); an op keeps its own lists short.
 */
export const SUMMARY_MAX = 4000

/** One line, no tokens, at most SUMMARY_MAX characters. */
export function oneLine(text: string, max = SUMMARY_MAX): string {
  const flat = defang(text.replace(/\s*[\r\n]+\s*/g, '; ').trim())
  return flat.length <= max ? flat : flat.slice(0, max - 1) + '…'
}

export interface VerdictJson {
  token: string
  status: Status
  exitCode: number
  subject: string
  summary: string
  checks: Check[]
  actions: Action[]
  durationMs: number
  [k: string]: unknown
}

export function toJson(v: Verdict, mode: ExitCodeMode, durationMs: number): VerdictJson {
  return {
    token: token(v.subject, v.status),
    status: v.status,
    exitCode: exitCodeFor(v, mode),
    subject: v.subject,
    summary: oneLine(v.summary),
    checks: v.checks,
    actions: v.actions,
    durationMs: Math.round(durationMs),
    ...Object.fromEntries(Object.entries(v.extra ?? {}).filter(([k]) => !CORE_KEYS.has(k))),
  }
}

const CORE_KEYS = new Set(['token', 'status', 'exitCode', 'subject', 'summary', 'checks', 'actions', 'durationMs'])

/** The text form: line 1 is the token and summary; `-v` adds token-free detail lines. */
export function toText(v: Verdict, verbose: number): string {
  const lines = [`${token(v.subject, v.status)}: ${oneLine(v.summary)}`]
  if (verbose === 0 && v.printDetails) for (const d of v.details ?? []) lines.push(defang(d))
  if (verbose > 0) {
    for (const c of v.checks) lines.push(defang(`  check ${c.name}: ${c.status.toLowerCase()} - ${c.detail}`))
    for (const a of v.actions) lines.push(defang(`  action ${a.action} ${a.target}: ${a.result} (+${a.ms}ms)`))
    for (const d of v.details ?? []) lines.push(defang(`  ${d}`))
  }
  return lines.map((l, i) => (i === 0 ? l : l.replace(/[\r\n]+/g, ' '))).join('\n') + '\n'
}

export function usageVerdict(subject: string, message: string): Verdict {
  return {subject, status: 'UNKNOWN', summary: message, checks: [], actions: [], usageError: true}
}
