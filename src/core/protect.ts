/**
 * Who must never be signalled (docs/contract.md §3.3), as a pure decision over facts
 * the caller gathered: pid 1 and below, medic itself and its ancestors, processes
 * registered by `run-dev-safe` (and their descendants), anything matching `--protect`,
 * and — when `--match` is given — anything that does not match it.
 */

export interface ProcFacts {
  pid: number
  startTime: string
  comm: string
  cmdline: string[]
}

/** One file per job in `<state-dir>/protected/`, written by `run-dev-safe` (format v1). */
export interface ProtectedEntry {
  version: 1
  pid: number
  startTime: string
  name: string
  cmdline: string[]
  /** Descendants of the registered process are protected too. */
  descendants: boolean
  registeredAt: string
}

export interface ProtectionContext {
  selfPid: number
  /** medic's own ancestors, pids. */
  ancestors: ReadonlySet<number>
  protect: RegExp[]
  match: RegExp | null
  registry: ProtectedEntry[]
}

export type Refusal =
  | {kind: 'init'; reason: string}
  | {kind: 'self'; reason: string}
  | {kind: 'ancestor'; reason: string}
  | {kind: 'registered'; reason: string}
  | {kind: 'protected'; reason: string}
  | {kind: 'unmatched'; reason: string}

export function describeProc(p: Pick<ProcFacts, 'comm' | 'cmdline'>): string {
  return p.cmdline.length > 0 ? p.cmdline.join(' ') : p.comm
}

/**
 * @param chain the target's ancestors, nearest first (parent, grandparent …), so a
 *   descendant of a registered job is recognised.
 */
export function refusalFor(target: ProcFacts, chain: ProcFacts[], ctx: ProtectionContext): Refusal | null {
  if (target.pid <= 1) return {kind: 'init', reason: `pid ${target.pid} is never signalled`}
  if (target.pid === ctx.selfPid) return {kind: 'self', reason: 'it is medic itself'}
  if (ctx.ancestors.has(target.pid)) return {kind: 'ancestor', reason: 'it is an ancestor of medic'}
  for (const e of ctx.registry) {
    if (e.pid === target.pid && e.startTime === target.startTime) {
      return {kind: 'registered', reason: `protected by run-dev-safe (job "${e.name}")`}
    }
    if (e.descendants && chain.some((a) => a.pid === e.pid && a.startTime === e.startTime)) {
      return {kind: 'registered', reason: `descendant of run-dev-safe job "${e.name}" (pid ${e.pid})`}
    }
  }
  const text = `${target.comm} ${target.cmdline.join(' ')}`
  const hit = ctx.protect.find((re) => re.test(text))
  if (hit) return {kind: 'protected', reason: `matches --protect ${hit.source}`}
  if (ctx.match && !ctx.match.test(text)) return {kind: 'unmatched', reason: `does not match --match ${ctx.match.source}`}
  return null
}

export function parseProtectedEntry(text: string): ProtectedEntry | null {
  try {
    const o = JSON.parse(text) as Partial<ProtectedEntry>
    if (o.version !== 1 || !Number.isInteger(o.pid) || typeof o.startTime !== 'string') return null
    return {
      version: 1,
      pid: o.pid as number,
      startTime: o.startTime,
      name: typeof o.name === 'string' ? o.name : String(o.pid),
      cmdline: Array.isArray(o.cmdline) ? o.cmdline.map(String) : [],
      descendants: o.descendants !== false,
      registeredAt: typeof o.registeredAt === 'string' ? o.registeredAt : '',
    }
  } catch {
    return null
  }
}
