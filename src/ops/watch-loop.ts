import {toText, type Verdict} from '../core/verdict.js'

/**
 * The loop of every long-running check (`watchdog`, `ollama frozen-check --watch`,
 * `ollama metrics --watch`): a pass every interval, a verdict line only when the status
 * changes, and a clean stop on SIGTERM or SIGINT — even in the middle of a wait.
 */
export async function watchLoop(pass: (n: number) => Promise<Verdict>, o: {announce: (line: string) => void; intervalMs: number; startupDelayMs?: number; subject: string}): Promise<Verdict> {
  let stop = false
  let wake: (() => void) | null = null
  const onSignal = () => {
    stop = true
    wake?.()
  }
  process.on('SIGTERM', onSignal)
  process.on('SIGINT', onSignal)
  const sleep = (ms: number) => new Promise<void>((r) => {
    const t = setTimeout(r, ms)
    wake = () => {
      clearTimeout(t)
      r()
    }
  })
  if (o.startupDelayMs) await sleep(o.startupDelayMs)
  let last: string | null = null
  let n = 0
  while (!stop) {
    const v = await pass(n++)
    if (v.status !== last) o.announce(toText(v, 0).trimEnd())
    last = v.status
    if (!stop) await sleep(o.intervalMs)
  }
  process.off('SIGTERM', onSignal)
  process.off('SIGINT', onSignal)
  return {subject: o.subject, status: 'OK', summary: `stopped after ${n} passes`, checks: [], actions: []}
}
