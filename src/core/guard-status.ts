import type {Reading} from './guard-ladder.js'
import type {Resource} from './guard-rank.js'

/**
 * resource_protector.py's get_resource_status(): cpu, memory and disk, each with current,
 * limit and status — "🔴 CRÍTICO" over the limit, "⚠️  ELEVADO" over 80 % of it, "✅ OK"
 * (the seed's strings, kept byte for byte in JSON and on a UTF-8 terminal; plain words
 * elsewhere, where a cron mail or a Latin-1 console would mangle them).
 */

export type Level = 'critical' | 'elevated' | 'ok' | 'unknown'

export const SEED_STATUS: Record<Level, string> = {critical: '🔴 CRÍTICO', elevated: '⚠️  ELEVADO', ok: '✅ OK', unknown: '❔ DESCONHECIDO'}
export const PLAIN_STATUS: Record<Level, string> = {critical: 'CRITICAL', elevated: 'ELEVATED', ok: 'OK', unknown: 'UNKNOWN'}

export function level(current: number | null, limit: number, over: boolean): Level {
  if (over) return 'critical'
  if (current === null) return 'unknown'
  if (current > 0.8 * limit) return 'elevated'
  return 'ok'
}

export interface ResourceStatus {
  current: number | null
  limit: number
  status: string
  level: Level
  why: string
}

export type StatusShape = Record<Resource, ResourceStatus>

export function resourceStatus(readings: Reading[]): StatusShape {
  const out = {} as StatusShape
  for (const r of readings) {
    const l = level(r.value, r.limit, r.over)
    out[r.resource] = {current: r.value === null ? null : Math.round(r.value * 10) / 10, limit: r.limit, status: SEED_STATUS[l], level: l, why: r.why}
  }
  return out
}

/** The table `medic guard status` prints under its token line. */
export function statusLines(s: StatusShape, fancy: boolean): string[] {
  return (['cpu', 'memory', 'disk'] as const).map((r) => {
    const x = s[r]
    const cur = x.current === null ? '?' : `${x.current.toFixed(1)}%`
    return `${r.padEnd(7)} ${cur.padStart(6)}  limit ${String(x.limit).padStart(3)}%  ${fancy ? SEED_STATUS[x.level] : PLAIN_STATUS[x.level]}`
  })
}
