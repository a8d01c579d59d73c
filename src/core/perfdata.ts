/**
 * Nagios/Icinga performance data (`--perfdata`), after ` | ` on line 1, per the
 * monitoring-plugins development guidelines:
 *
 *   'label'=value[UOM];[warn];[crit];[min];[max]
 *
 * space separated; UOM one of s, ms, us, %, B (KB, MB…), c (a continuous counter) or
 * none; no scientific notation; a label with spaces or quotes is single-quoted, a quote
 * inside it doubled. Trailing empty fields are left out.
 */
import type {Action, Verdict} from './verdict.js'

/** Signals that end or stop a process; SIGCONT (a resume) is not a kill. */
export const KILL_SIGNALS = new Set(['SIGTERM', 'SIGKILL', 'SIGINT', 'SIGQUIT', 'SIGHUP', 'SIGABRT', 'SIGUSR1', 'SIGUSR2', 'SIGSTOP'])

/** Signals medic delivered in this run (actions `SIGTERM` … with result `sent`). */
export function killsIn(actions: Action[]): number {
  return actions.filter((a) => KILL_SIGNALS.has(a.action.split('+')[0]) && a.result === 'sent').length
}

export type Uom = '' | 's' | 'ms' | 'us' | '%' | 'B' | 'c'

export interface PerfDatum {
  label: string
  value: number
  uom?: Uom
  /** Threshold ranges in the guidelines' syntax (`10`, `10:`, `~:10`, `@10:20`) or plain numbers. */
  warn?: string | number
  crit?: string | number
  min?: number
  max?: number
}

/** A decimal without exponent: 1e-7 → 0.0000001, at most 6 decimals. */
export function plainNumber(v: number): string {
  if (!Number.isFinite(v) || Math.abs(v) >= 1e21) return ''
  if (Number.isInteger(v) && Math.abs(v) < 1e21) return v.toFixed(0)
  const s = v.toFixed(6).replace(/0+$/, '').replace(/\.$/, '')
  return s === '-0' ? '0' : s
}

function quoteLabel(label: string): string {
  const flat = label.replace(/[\r\n|=]/g, '_')
  return /[\s']/.test(flat) ? `'${flat.replace(/'/g, "''")}'` : flat
}

function field(v: string | number | undefined): string {
  if (v === undefined) return ''
  return typeof v === 'number' ? plainNumber(v) : v
}

export function renderPerfdata(data: PerfDatum[]): string {
  return data
    .filter((d) => Number.isFinite(d.value))
    .map((d) => {
      const fields = [`${plainNumber(d.value)}${d.uom ?? ''}`, field(d.warn), field(d.crit), field(d.min), field(d.max)]
      while (fields.length > 1 && fields[fields.length - 1] === '') fields.pop()
      return `${quoteLabel(d.label)}=${fields.join(';')}`
    })
    .join(' ')
}

/**
 * The performance data of a verdict: how long medic took (critical at --timeout), the
 * signals it delivered and its problems, then what the command itself measured (`perf`).
 */
export function verdictPerfdata(v: Pick<Verdict, 'actions' | 'checks' | 'perf'>, durationMs: number, timeoutMs: number | null): PerfDatum[] {
  const alerting = v.checks.filter((c) => c.status === 'ALERT').length
  return [
    {label: 'duration', value: Math.round(durationMs) / 1000, uom: 's', ...(timeoutMs !== null ? {crit: timeoutMs / 1000} : {}), min: 0},
    {label: 'checks_alert', value: alerting, warn: 0, min: 0, max: v.checks.length},
    {label: 'signals', value: killsIn(v.actions), min: 0},
    ...(v.perf ?? []),
  ]
}

/** Line 1 with perfdata: the summary may not hold the `|` that starts it. */
export function withPerfdata(line1: string, perf: string): string {
  return perf ? `${line1.replace(/\|/g, '/')} | ${perf}` : line1
}

/** The text form with perfdata on line 1 (and only there). */
export function perfText(text: string, perf: string): string {
  const nl = text.indexOf('\n')
  return withPerfdata(nl < 0 ? text : text.slice(0, nl), perf) + (nl < 0 ? '' : text.slice(nl))
}
