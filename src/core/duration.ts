/** Durations: `250ms`, `10s`, `5m`, `1h`, `7d`, or a bare number of seconds. Sizes: `10MB`, `512KiB`, bytes. */

const DURATION_UNITS: Record<string, number> = {ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000}

export function parseDuration(text: string): number | null {
  const t = text.trim()
  const bare = /^(\d+(?:\.\d+)?)$/.exec(t)
  if (bare) return Math.round(Number(bare[1]) * 1000)
  // One unit (`90s`) or several, largest first, as formatMs writes them (`1m30s`, `1h5m`).
  if (!/^(?:\d+(?:\.\d+)?\s*(?:ms|s|m|h|d)\s*)+$/i.test(t)) return null
  let ms = 0
  for (const m of t.matchAll(/(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)/gi)) ms += Number(m[1]) * DURATION_UNITS[m[2].toLowerCase()]
  return Number.isFinite(ms) ? Math.round(ms) : null
}

/**
 * The one way medic writes a duration for people: `12ms`, `1.5s`, `42s`, `4m12s`, `1h`,
 * `1h30m`, `2d3h` — never "60m" beside "1.0h". parseDuration reads every form back.
 */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms)
  if (ms < 0) return `-${formatMs(-ms)}`
  if (ms < 1000) return `${Math.round(ms)}ms`
  if (ms < 9950) return `${Number((ms / 1000).toFixed(1))}s`
  const s = Math.round(ms / 1000)
  if (s < 60) return `${s}s`
  const two = (a: number, ua: string, b: number, ub: string) => `${a}${ua}${b ? `${b}${ub}` : ''}`
  if (s < 3600) return two(Math.floor(s / 60), 'm', s % 60, 's')
  const m = Math.round(s / 60)
  if (m < 24 * 60) return two(Math.floor(m / 60), 'h', m % 60, 'm')
  const h = Math.round(m / 60)
  return two(Math.floor(h / 24), 'd', h % 24, 'h')
}

const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3, mb: 1e6, gb: 1e9,
  k: 1024, m: 1024 ** 2, g: 1024 ** 3,
  kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3,
}

/** The one way medic writes a size for people: binary units, as the kernel and nvidia-smi count (`512B`, `10.5MiB`, `2GiB`). */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let v = bytes
  let i = 0
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return i === 0 ? `${Math.round(v)}B` : `${Number(v.toFixed(1))}${units[i]}`
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
