import {budgetOf, checkFamilies, countNotify, countVerdict, newCounters, problemsOf, validCounters, type CheckCounters} from '../core/metrics-check.js'
import {afterAttempt, decideNotify, notifyRequest, previousText, readNotifyRecord, redactUrl, type Channel, type NotifyEvent, type NotifyFormat, type NotifyRecord} from '../core/notify.js'
import {toJson, type Status, type Verdict} from '../core/verdict.js'
import type {Family} from '../core/prom.js'
import type {HubSignal, SignalHub} from '../sys/signal-hub.js'

/**
 * What a verdict command does after its verdict when asked to be observed (issue 13):
 * write its Prometheus textfile (--metrics-file / $MEDIC_TEXTFILE_DIR) and tell people of
 * a change of status (--notify / --notify-url). After the verdict is printed, never
 * changing it: every failure here is a line on stderr (and the log), and a count.
 * Long-running commands call pass() once per pass; passes are handled one at a time, in
 * order, without holding up the loop that made them. SIGTERM or SIGINT (from the first pass
 * or from end() on) abandons what is pending at once: a delivery under way is cut (its hook
 * killed with its group, its request hung up), none is started after, and end() returns.
 */
export interface ObserveConfig {
  /** The command id (`health`, `ollama frozen-check`) and the verdict's subject. */
  command: string
  subject: string
  metricsFile: string | null
  notify: {
    argv: string[] | null
    url: string | null
    format: NotifyFormat
    /** Attempts per hour per channel. */
    limit: number
    timeoutMs: number
  } | null
}

export interface SendResult {
  ok: boolean
  detail: string
}

export interface ObserveDeps {
  /** Wall clock (timestamps, the rate limit). */
  wall(): Date
  host: string
  /** The status the previous run of this command and subject recorded (the last-verdict record), or null. */
  previousRun(): Status | null
  counters: {read(): unknown; write(c: CheckCounters): void}
  notifyRecord: {read(): unknown; write(r: NotifyRecord): void}
  /** Replaces this check's series in the textfile (the others' stay); throws on failure. */
  writeMetrics(path: string, families: Family[]): Promise<void>
  /** Deliveries; each ends at once (a failure) when `abandon` aborts. */
  runCommand(argv: string[], input: string, timeoutMs: number, abandon: AbortSignal): Promise<SendResult>
  post(url: string, body: {contentType: string; body: string; headers?: Record<string, string>}, timeoutMs: number, abandon: AbortSignal): Promise<SendResult>
  /** A line for stderr and the log file. */
  log(line: string): void
  /** Milliseconds left before the run's --timeout deadline (Infinity without one). */
  remainingMs(): number
  /** Resolves at the run's --timeout deadline, plus a short grace for cut deliveries to report (never, without one). */
  untilDeadline(): Promise<void>
  /** SIGTERM/SIGINT to medic: pending deliveries are abandoned. */
  interrupts: SignalHub
  /** A short wait (the grace for abandoned deliveries to report). */
  sleep(ms: number): Promise<void>
}

/** How long end() lets abandoned deliveries report (logged, counted) after SIGTERM/SIGINT. */
const ABANDON_GRACE_MS = 300

export interface Observer {
  /** One pass of a long-running command (its verdict and, when known, how long it took). */
  pass(v: Verdict, durationMs?: number): Promise<void>
  /**
   * The run's verdict: observed unless passes were (a long-running command's closing
   * verdict says it stopped, not how the service is); then waits for every pass under way.
   */
  end(v: Verdict, durationMs: number): Promise<void>
}

export function makeObserver(cfg: ObserveConfig, deps: ObserveDeps): Observer {
  let queue = Promise.resolve()
  let passes = 0
  let previous: Status | null | undefined
  // SIGTERM/SIGINT: listened to from the first pass (a loop's own handler stops the loop;
  // this one gives up its deliveries) or from end() — never before, so a one-shot command
  // keeps node's default until its verdict is out.
  const abandon = new AbortController()
  let stoppedBy: HubSignal | null = null
  let wakeStopped: () => void = () => {}
  const stopped = new Promise<void>((resolve) => (wakeStopped = resolve))
  let unsubscribe: (() => void) | null = null
  const listen = () => {
    unsubscribe ??= deps.interrupts.subscribe((sig) => {
      if (stoppedBy) return
      stoppedBy = sig
      abandon.abort()
      wakeStopped()
    }, ['SIGTERM', 'SIGINT'])
  }
  const pass = (v: Verdict, durationMs = 0): Promise<void> => {
    listen()
    const seq = ++passes
    const run = queue.then(() => observeOne(v, durationMs, seq !== passes)).catch((e) => deps.log(`observe: internal error: ${(e as Error).message}`))
    queue = run
    return run
  }
  const self: Observer = {
    pass,
    async end(v, durationMs) {
      // --timeout bounds the run, notifications included: what is not done by then is given up
      // (each delivery's own timeout is cut to the deadline, so its hook is killed, not left behind).
      // SIGTERM/SIGINT gives the abandoned deliveries a moment to report, no more.
      listen()
      if (passes === 0) void pass(v, durationMs)
      await Promise.race([queue, deps.untilDeadline(), stopped.then(() => Promise.race([queue, deps.sleep(ABANDON_GRACE_MS)]))])
      unsubscribe?.()
    },
  }

  /** `superseded`: a newer pass was queued while this one waited; its change is not sent (the newer status is). */
  async function observeOne(v: Verdict, durationMs: number, superseded: boolean): Promise<void> {
    const at = deps.wall()
    const prev = previous === undefined ? safe(() => deps.previousRun(), null) : previous
    previous = v.status
    const sup = supervisorOf(v)
    let counters = countVerdict(validCounters(safe(() => deps.counters.read(), null) ?? newCounters()), cfg.command, v, sup)
    saveCounters(counters)
    const snapshot = (c: CheckCounters) => checkFamilies({
      command: cfg.command, subject: v.subject, status: v.status, at: at.getTime() / 1000, durationS: durationMs / 1000, counters: c,
      problems: problemsOf(v), budgetExhausted: budgetOf(v), supervisor: sup !== undefined, notifying: cfg.notify !== null,
    })
    if (cfg.metricsFile) await writeMetrics(snapshot(counters))
    if (!cfg.notify || superseded || stoppedBy) return
    const before = counters
    counters = await notify(v, prev, at, durationMs, counters)
    if (counters !== before) {
      saveCounters(counters)
      if (cfg.metricsFile) await writeMetrics(snapshot(counters))
    }
  }

  async function writeMetrics(families: Family[]): Promise<void> {
    try {
      await deps.writeMetrics(cfg.metricsFile!, families)
    } catch (e) {
      deps.log(`metrics: not written to ${cfg.metricsFile}: ${(e as Error).message}`)
    }
  }

  function saveCounters(c: CheckCounters): void {
    try {
      deps.counters.write(c)
    } catch (e) {
      deps.log(`metrics: counters not saved (${(e as Error).message}); totals may restart`)
    }
  }

  async function notify(v: Verdict, prev: Status | null, at: Date, durationMs: number, counters: CheckCounters): Promise<CheckCounters> {
    const n = cfg.notify!
    const channels: [Channel, string][] = []
    if (n.argv) channels.push(['command', n.argv.join(' ')])
    if (n.url) channels.push(['url', redactUrl(n.url)])
    const record = readNotifyRecord(safe(() => deps.notifyRecord.read(), null))
    const now = at.getTime()
    let c = counters
    let dirty = false
    for (const [channel, label] of channels) {
      if (stoppedBy) break // not started: a later run sends it
      const d = decideNotify(record.channels[channel], v.status, prev, now, n.limit)
      if (!d.send) {
        if (d.why === 'rate-limited') {
          record.channels[channel] = d.record
          dirty = true
          if (d.newlyHeld) {
            c = countNotify(c, 'held')
            deps.log(`notify: ${v.subject} ${v.status} held back by the rate limit (${n.limit} an hour) for ${label}; sent when the hour allows`)
          }
        }
        continue
      }
      const event: NotifyEvent = {command: cfg.command, subject: v.subject, status: v.status, previous: d.from, host: deps.host, at: at.toISOString(), held: d.held, verdict: toJson(v, 'nagios', durationMs)}
      let r: SendResult
      const left = Math.floor(deps.remainingMs())
      const timeoutMs = Math.min(n.timeoutMs, left)
      const cut = timeoutMs < n.timeoutMs
      try {
        r = timeoutMs <= 0
          ? {ok: false, detail: 'not sent: the run\'s --timeout was reached'}
          : channel === 'command'
            ? await deps.runCommand(n.argv!, JSON.stringify({...event.verdict, command: cfg.command, host: deps.host, at: event.at, previousStatus: event.previous, heldChanges: event.held}) + '\n', timeoutMs, abandon.signal)
            : await deps.post(n.url!, notifyRequest(n.format, event, n.url!), timeoutMs, abandon.signal)
      } catch (e) {
        r = {ok: false, detail: (e as Error).message}
      }
      if (!r.ok && stoppedBy) r = {ok: false, detail: `abandoned: medic was stopped (${stoppedBy})`}
      if (!r.ok && cut && timeoutMs > 0) r = {ok: false, detail: `${r.detail} (cut at the run's --timeout)`}
      record.channels[channel] = afterAttempt(record.channels[channel], v.status, now, r.ok, d.believed)
      dirty = true
      c = countNotify(c, r.ok ? 'sent' : 'failed')
      if (!r.ok) deps.log(`notify: ${v.subject} ${previousText(d.believed)} → ${v.status} via ${label} failed: ${r.detail}; retried on a later run`)
    }
    if (dirty) {
      try {
        deps.notifyRecord.write(record)
      } catch (e) {
        deps.log(`notify: record not saved (${(e as Error).message}): a change may be sent twice`)
      }
    }
    return c
  }

  return self
}

function safe<T>(f: () => T, fallback: T): T {
  try {
    return f()
  } catch {
    return fallback
  }
}

/** supervise passes carry their supervisor's identity and start count. */
function supervisorOf(v: Verdict): {id: string; starts: number} | undefined {
  const s = v.extra?.supervisor as {id?: unknown; starts?: unknown} | undefined
  return s && typeof s.id === 'string' && typeof s.starts === 'number' ? {id: s.id, starts: s.starts} : undefined
}
