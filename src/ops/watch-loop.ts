import {toText, type Verdict} from '../core/verdict.js'
import {systemClock, type Clock} from '../sys/clock.js'
import {processSignalHub} from '../sys/signal-hub.js'
import type {Progress} from '../deps.js'

/**
 * Progress for a loop: a line that the previous pass printed too — the same words, only
 * its numbers moved ("down for 1.1s" … "for 2.1s") — is not printed again, so stderr says
 * what changed, as stdout does; the log file keeps every pass. `nextPass()` before each pass.
 */
export function changesOnly(progress: Progress): Progress & {nextPass(): void} {
  let previous = new Set<string>()
  let current = new Set<string>()
  // numbers and durations (`52ms`, `1.1s`, `1m30s`) are one mark
  const shape = (line: string) => line.replace(/(?:\d+(?:\.\d+)?(?:ms|s|m|h|d)?)+/g, '#')
  const out = ((line: string) => {
    const s = shape(line)
    current.add(s)
    if (!previous.has(s)) progress(line)
  }) as Progress & {nextPass(): void}
  out.step = progress.step
  out.nextPass = () => {
    previous = current
    current = new Set()
  }
  return out
}

/**
 * The loop of every long-running check (`watchdog`, `ollama frozen-check --watch`,
 * `ollama metrics --watch`): a pass every interval, a verdict line only when the status
 * changes, and a clean stop on SIGTERM or SIGINT — even in the middle of a wait.
 * The closing verdict ("stopped after N passes") goes to stderr and exits 0: stdout of a
 * long-running mode holds one verdict line per status change and nothing else.
 */
export async function watchLoop(pass: (n: number) => Promise<Verdict>, o: {announce: (line: string) => void; intervalMs: number; startupDelayMs?: number; subject: string; render?: (v: Verdict) => string; clock?: Clock; observe?: (v: Verdict, durationMs: number) => void}): Promise<Verdict> {
  let stop = false
  const wake = new AbortController()
  const off = processSignalHub.subscribe(() => {
    stop = true
    wake.abort()
  }, ['SIGTERM', 'SIGINT'])
  const clock = o.clock ?? systemClock
  const sleep = (ms: number) => clock.sleep(ms, wake.signal)
  const render = o.render ?? ((v: Verdict) => toText(v, 0).trimEnd())
  if (o.startupDelayMs) await sleep(o.startupDelayMs)
  let last: string | null = null
  let n = 0
  while (!stop) {
    const started = clock.now()
    const v = await pass(n++)
    // Every pass to --metrics-file / --notify (they keep their own memory of changes).
    o.observe?.(v, clock.now() - started)
    if (v.status !== last) o.announce(render(v))
    last = v.status
    if (!stop) await sleep(o.intervalMs)
  }
  off()
  return {subject: o.subject, status: 'OK', summary: `stopped after ${n} passes`, checks: [], actions: [], wrapper: {exitCode: 0}}
}
