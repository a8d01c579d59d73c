/** Durations: `250ms`, `10s`, `5m`, `1h`, `7d`, or a bare number of seconds. Sizes: `10MB`, `512KiB`, bytes. */

const DURATION_UNITS: Record<string, number> = {ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000}

export function parseDuration(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/i.exec(text)
  if (!m) return null
  const unit = (m[2] ?? 's').toLowerCase()
  const ms = Number(m[1]) * DURATION_UNITS[unit]
  return Number.isFinite(ms) ? Math.round(ms) : null
}

export function formatMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)}s`
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)}m`
  return `${(ms / 3_600_000).toFixed(1)}h`
}

const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3, mb: 1e6, gb: 1e9,
  k: 1024, m: 1024 ** 2, g: 1024 ** 3,
  kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3,
}

export function parseSize(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text)
  if (!m) return null
  const unit = (m[2] || 'b').toLowerCase()
  const factor = SIZE_UNITS[unit]
  return factor === undefined ? null : Math.round(Number(m[1]) * factor)
}

/**
 * Node's timers hold at most 2^31-1 ms (about 24.8 days); a longer delay fires after
 * 1 ms instead (`watchdog --interval 30d` ran 98 passes in 5 s). Every timer medic sets
 * takes its delay through here: clamped to that limit, never below 0.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1

export function timerMs(ms: number): number {
  return Number.isFinite(ms) ? Math.min(MAX_TIMER_MS, Math.max(0, Math.ceil(ms))) : ms > 0 ? MAX_TIMER_MS : 0
}
