import {dirname, join} from 'node:path'
import {splitCommandLine} from '../core/command-line.js'
import {notifyUrlProblem, type NotifyFormat} from '../core/notify.js'
import {makeObserver, type Observer} from '../ops/observe.js'
import {monotonicMs, systemClock} from '../sys/clock.js'
import {readLastVerdict} from '../sys/last-verdict.js'
import {LockManager} from '../sys/lock.js'
import {LogFile} from '../sys/log-file.js'
import {writeCheckMetrics} from '../sys/metrics-file.js'
import {hostName, notifyCommand, notifyPost} from '../sys/notify.js'
import {procTable} from '../sys/proc-table.js'
import {processSignalHub} from '../sys/signal-hub.js'
import {stateLayout} from '../sys/state-layout.js'
import {readJson, writeFileAtomic} from '../sys/state-store.js'
import {commonValues, ownsMetricsFlag} from './common-flags.js'
import {UsageError} from './parse.js'
import type {CommandSpec, Parsed} from './spec.js'

/**
 * The observer of one run (--metrics-file, $MEDIC_TEXTFILE_DIR, --notify, --notify-url),
 * wired to the real sys/ implementations. Loaded only when one of them is asked for (its
 * own bundle on the run path, scripts/build-run.mjs). Bad values are usage errors
 * (UNKNOWN, exit 3), found before the command runs: returned as `usage`, since this
 * bundle's UsageError is not the runner's.
 */
export function observerFor(spec: CommandSpec, parsed: Parsed, env: NodeJS.ProcessEnv, subject: string, stderr: (text: string) => void, deadlineAt: number | null = null): {observer: Observer} | {usage: string} {
  try {
    return {observer: build(spec, parsed, env, subject, stderr, deadlineAt)}
  } catch (e) {
    if (e instanceof UsageError) return {usage: e.message}
    throw e
  }
}

function build(spec: CommandSpec, parsed: Parsed, env: NodeJS.ProcessEnv, subject: string, stderr: (text: string) => void, deadlineAt: number | null): Observer {
  const f = commonValues(parsed.flags)
  const command = spec.id
  let argv: string[] | null = null
  if (typeof f.notify === 'string') {
    try {
      argv = splitCommandLine(f.notify)
    } catch (e) {
      throw new UsageError(`--notify: ${(e as Error).message}`)
    }
    if (argv.length === 0) throw new UsageError('--notify: an empty command')
  }
  const url = typeof f['notify-url'] === 'string' ? f['notify-url'] : null
  const format: NotifyFormat = f['notify-format']
  if (url) {
    const why = notifyUrlProblem(format, url)
    if (why) throw new UsageError(`--notify-url: ${why}`)
  }
  const dir = env.MEDIC_TEXTFILE_DIR
  const metricsFile = typeof f['metrics-file'] === 'string' && !ownsMetricsFlag(spec) ? f['metrics-file'] : dir && spec.observable !== false ? join(dir, textfileName(command, subject)) : null
  if (metricsFile === '') throw new UsageError('--metrics-file: an empty path')

  const layout = stateLayout(f['state-dir'])
  const logFile = typeof f['log-file'] === 'string' ? new LogFile(f['log-file']) : null
  const countersPath = layout.metricsCounters(command, subject)
  const recordPath = layout.notifyRecord(command, subject)
  // One lock per textfile directory: a check's series move between its files under it.
  const lockName = `metrics-${metricsFile ? dirname(metricsFile) : ''}`
  return makeObserver({
    command, subject, metricsFile,
    notify: argv || url ? {argv, url, format, limit: f['notify-limit'], timeoutMs: f['notify-timeout']} : null,
  }, {
    wall: () => new Date(),
    host: hostName(),
    previousRun: () => readLastVerdict(layout.dir, command, subject)?.status ?? null,
    counters: {read: () => readJson(countersPath), write: (c) => writeFileAtomic(countersPath, JSON.stringify(c) + '\n', 0o600)},
    notifyRecord: {read: () => readJson(recordPath), write: (r) => writeFileAtomic(recordPath, JSON.stringify(r) + '\n', 0o600)},
    writeMetrics: (path, families) => writeCheckMetrics(path, families, {command, subject}, async () => {
      let r
      try {
        r = await new LockManager(layout, procTable, systemClock).acquire(lockName, 30_000, 'metrics')
      } catch {
        return () => {} // no writable state dir: no lock, the last writer wins
      }
      if (r.acquired) return r.release
      if ('error' in r && r.error) return () => {} // the same: the lock cannot be written
      // Held by a live writer past the wait (a loaded host): writing unlocked would lose its series or ours.
      throw new Error(`the textfile directory's lock is held${r.owner ? ` by pid ${r.owner.pid}` : ''}: not written`)
    }),
    runCommand: (a, input, timeoutMs, abandon) => notifyCommand(a, input, timeoutMs, abandon),
    post: (u, body, timeoutMs, abandon) => notifyPost(u, body, timeoutMs, abandon),
    interrupts: processSignalHub,
    sleep: (ms) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref()),
    log: (line) => {
      stderr(`medic ${command}: ${line}\n`)
      logFile?.line(line)
    },
    remainingMs: () => (deadlineAt === null ? Infinity : deadlineAt - monotonicMs()),
    untilDeadline: () => new Promise<void>((resolve) => {
      // A short grace past it: a delivery cut at the deadline reports its failure (logged, counted, retried next run).
      if (deadlineAt !== null) setTimeout(resolve, Math.max(0, deadlineAt - monotonicMs()) + REPORT_GRACE_MS).unref()
    }),
  })
}

const REPORT_GRACE_MS = 1000

/** `$MEDIC_TEXTFILE_DIR`'s file of a check: medic-health-gateway.prom, medic-ollama-frozen-check-ollama.prom. */
export function textfileName(command: string, subject: string): string {
  return `medic-${command.replace(/ /g, '-')}-${subject.toLowerCase()}.prom`
}
