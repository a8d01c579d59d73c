/**
 * "Did you mean": the candidate nearest to what was typed, or null when none is near.
 * Written here rather than taken from @oclif/plugin-not-found: that plugin needs oclif
 * loaded (~50 ms) and, at a terminal, asks "Did you mean …? (y/n)" and runs the answer —
 * a prompt a cron line or a heartbeat agent would hang on, and a command nobody typed.
 * A usage error must end in one token line and exit 3, wherever it was typed.
 */
export function didYouMean(typed: string, candidates: readonly string[]): string | null {
  const t = typed.toLowerCase()
  let best: string | null = null
  let bestScore = Infinity
  for (const c of candidates) {
    const l = c.toLowerCase()
    // A prefix of a candidate (`frozen`, `--gra`) or a candidate the typo starts with.
    const d = l.startsWith(t) && t.length >= 2 ? 0.5 : editDistance(t, l)
    if (d < bestScore) {
      best = c
      bestScore = d
    }
  }
  const allowed = Math.max(1, Math.floor(Math.max(t.length, 3) / 3))
  return best !== null && bestScore <= allowed ? best : null
}

/** Optimal string alignment distance: insertions, deletions, substitutions, adjacent swaps. */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({length: a.length + 1}, (_, i) => [i, ...new Array<number>(b.length).fill(0)])
  for (let j = 1; j <= b.length; j++) d[0][j] = j
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1)
    }
  }
  return d[a.length][b.length]
}

/** `; did you mean "x"?` or nothing. */
export function suggestion(typed: string, candidates: readonly string[], quote = true): string {
  const s = didYouMean(typed, candidates)
  return s === null ? '' : `; did you mean ${quote ? `"${s}"` : s}?`
}
