import {formatMs} from '../core/duration.js'
import {budgetUsed, loadFrozenState, resetFrozenState} from '../core/ollama/freeze.js'
import type {Verdict} from '../core/verdict.js'
import {readGpus} from '../sys/nvidia-smi.js'
import {readJson, writeFileAtomic} from '../sys/state-store.js'
import {canary} from './ollama-canary.js'
import {frozenCheck, type OllamaDeps, type OllamaInput, type Persisted} from './ollama-check.js'
import {observeOllama} from './ollama-observe.js'
import {changesOnly, watchLoop} from './watch-loop.js'

const lockName = (input: OllamaInput) => `ollama-${new URL(input.url).host}`

/** One pass at a time per Ollama: cron and a --watch service never both act on one freeze. */
async function locked(input: OllamaInput, deps: OllamaDeps, waitMs: number, what: string, body: () => Promise<Verdict>): Promise<Verdict> {
  const lock = await deps.locks.acquire(lockName(input), waitMs, what)
  // A lock that cannot be written (read-only or full state dir): nothing it guards is done (fail closed).
  if (!lock.acquired && lock.error) return {subject: 'OLLAMA', status: 'ALERT', summary: `${what} not run: ${lock.error}`, checks: [], actions: []}
  if (!lock.acquired) return {subject: 'OLLAMA', status: 'UNKNOWN', summary: `another medic (pid ${lock.owner?.pid ?? '?'}) is checking ${input.url}; ${what} skipped`, checks: [], actions: []}
  try {
    return await body()
  } finally {
    lock.release()
  }
}

export function frozenPass(input: OllamaInput, deps: OllamaDeps): Promise<Verdict> {
  return locked(input, deps, 0, 'frozen-check', () => frozenCheck(input, deps))
}

/**
 * `--watch`, and the seed's positional form (`frozen-check 180 15 3 60` was a daemon): a
 * pass every interval, a verdict line when the status changes, until SIGTERM.
 */
export function frozenWatch(input: OllamaInput, deps: OllamaDeps & {announce: (line: string) => void; observe?: (v: Verdict, ms: number) => void}, intervalMs: number, render?: (v: Verdict) => string): Promise<Verdict> {
  const progress = changesOnly(deps.progress)
  const quiet = {...deps, progress}
  return watchLoop(() => {
    progress.nextPass()
    return frozenPass(input, quiet)
  }, {announce: deps.announce, intervalMs, subject: 'OLLAMA', render, clock: deps.clock, observe: deps.observe})
}

/**
 * `--test`, as ollama_frozen_monitor.sh --test: one look — the API, and a 1-token canary
 * when a model is loaded (the seed's /api/tags alone could not see seed 004) — and the GPU;
 * one line, responsive or frozen, `GPU: N%`; exit 0 whatever it saw (the seed's contract:
 * install checklists run it to prove the monitor works). The monitor's state is untouched.
 */
export async function frozenTest(input: OllamaInput, deps: OllamaDeps): Promise<Verdict> {
  const now = deps.clock.wall().getTime()
  const [o, g] = await Promise.all([observeOllama({...input, visible: false}, deps, null, now), readGpus(input.nvidiaTimeoutMs)])
  const utils = g.kind === 'ok' ? g.gpus.map((x) => x.util).filter((u): u is number => u !== null) : []
  const gpuText = g.kind === 'ok' ? (utils.length ? `GPU: ${Math.max(...utils)}%${g.gpus.length > 1 ? ` (max of ${g.gpus.length})` : ''}` : 'GPU: N/A') : g.kind === 'missing' ? 'GPU: none (no nvidia-smi)' : `GPU: ${g.detail}`
  const loaded = o.models ?? []
  let frozen: string | null = null
  // The API answers but its models could not be listed: no canary possible, not proven responsive.
  let blind: string | null = null
  let how = 'API up, nothing loaded'
  if (!o.obs.up.ok) frozen = `API not answering (${o.upDetail})`
  else if (loaded.length) {
    const c = await canary(input.url, loaded[0], input.canaryTimeoutMs)
    if (c.ok) how = c.detail
    else frozen = c.detail
  } else if (!o.models) blind = `/api/ps ${o.ps?.kind === 'ok' ? `HTTP ${o.ps.status}` : o.ps?.detail ?? 'not asked'}`
  const status = frozen ? 'ALERT' : blind ? 'UNKNOWN' : 'OK'
  return {
    subject: 'OLLAMA', status, fixedExit: 0,
    summary: frozen ? `Ollama frozen: ${frozen}; ${gpuText}` : blind ? `Ollama answers, inference not checked: ${blind}; ${gpuText}` : `Ollama responsive (${how}); ${gpuText}`,
    checks: [{name: 'api', status, detail: frozen ?? blind ?? how}, {name: 'gpu', status: g.kind === 'hang' || g.kind === 'failed' ? 'ALERT' : 'OK', detail: gpuText}],
    actions: [], extra: {test: true, url: input.url},
  }
}

/**
 * `--reset`, as the seed's (its "Contadores resetados"): forget the suspicion, the budget
 * window and the cooldown. restarts_total stays a counter.
 */
export async function frozenReset(input: OllamaInput, deps: OllamaDeps): Promise<Verdict> {
  return locked(input, deps, input.config.cooldownMs + input.canaryTimeoutMs + 30_000, 'reset', async () => {
    const now = deps.clock.wall().getTime()
    const saved = readJson<Persisted>(input.statePath)
    const {state, firstPass} = loadFrozenState(saved?.frozen, now)
    const used = budgetUsed(state, now, input.config)
    const what = `${used} restart(s) in the window, ${state.suspectSince === null ? 'no suspicion' : `a ${state.suspect} suspected for ${formatMs(now - state.suspectSince)}`}, ${state.failures} failure(s)`
    if (firstPass) return {subject: 'OLLAMA', status: 'OK', summary: `reset: no state for ${input.url} yet; nothing to clear`, checks: [], actions: []}
    if (input.dryRun) return {subject: 'OLLAMA', status: 'OK', summary: `dry run: would clear ${what} for ${input.url}`, checks: [], actions: []}
    try {
      writeFileAtomic(input.statePath, JSON.stringify({frozen: resetFrozenState(state, now), samples: {}, vramMiB: {}} satisfies Persisted) + '\n')
    } catch (e) {
      return {subject: 'OLLAMA', status: 'UNKNOWN', summary: `cannot reset: ${(e as Error).message}`, checks: [], actions: []}
    }
    deps.log.line(`[ollama] reset: cleared ${what}`)
    return {subject: 'OLLAMA', status: 'OK', summary: `reset: cleared ${what}; ${state.restartsTotal} restarts in all (a counter, kept)`, checks: [], actions: [{action: 'reset', target: input.statePath, result: 'ok', ms: 0}]}
  })
}
