import {splitArgv} from '../core/argv.js'
import {formatMs, timerMs} from '../core/duration.js'
import {nameProblem} from '../core/names.js'
import {monotonicMs} from '../sys/clock.js'
import {writeFd} from '../sys/stdio.js'
import {exitCodeFor, Refusal, toJson, toSubject, toText, usageVerdict, type ExitCodeMode, type Status, type Verdict} from '../core/verdict.js'
import {setDeadline, waitingOn} from '../sys/deadline.js'
import {parseCommandArgv, UsageError} from './parse.js'
import {progressSink, tokenPainter} from './progress.js'
import {holdUntilExit, whenUnhandled} from '../sys/signal-hub.js'
import {stopInFlight} from '../sys/in-flight.js'
import type {CommandSpec, Parsed} from './spec.js'
import type {Observer} from '../ops/observe.js'
import {commonValues, observed} from './common-flags.js'

/**
 * After `--timeout`: every wait on the outside world is cut at the deadline (sys/deadline),
 * so an op normally ends by itself with the service's ALERT. Should it still be waiting on
 * a service SERVICE_GRACE_MS later, the runner ends it with ALERT naming what hung; should
 * it still be busy HUNG_GRACE_MS later with nothing outside to blame, medic itself hung:
 * UNKNOWN (docs/contract.md §2).
 */
const SERVICE_GRACE_MS = 200
const HUNG_GRACE_MS = 2000

interface Output {
  json: boolean
  verbose: number
  mode: ExitCodeMode
}

/**
 * Runs one command: parse → op → render, and returns the exit code. Every path ends in
 * exactly one verdict on stdout: a usage error, a thrown exception and a hung op too.
 */
export interface Io {
  stdout: (text: string) => void
  stderr: (text: string) => void
}

const processIo: Io = {stdout: (t) => writeFd(1, t), stderr: (t) => writeFd(2, t)}

export async function runCommand(spec: CommandSpec, argv: string[], env: NodeJS.ProcessEnv = process.env, io: Io = processIo): Promise<number> {
  const t0 = monotonicMs()
  // Until argv is parsed, a usage error is all there is to print: in JSON if --json is
  // among the words. It exits 3 in either exit-code mode (USAGE_EXIT_CODE), so the mode
  // need not be known before the parse.
  const out: Output = {json: splitArgv(argv).words.includes('--json'), verbose: 0, mode: 'nagios'}
  let emitted = false
  let perf: typeof import('../core/perfdata.js') | null = null
  let observer: Observer | null = null
  let timeoutMs: number | null = null
  let paint: ((text: string, status: Status) => string) | null = null
  /** Where the verdict's line goes: stderr when stdout carries something else (a document, a wrapped job's output). */
  const verdictFd = (v: Pick<Verdict, 'data' | 'wrapper' | 'usageError'>): 1 | 2 => ((v.data !== undefined && !out.json) || v.wrapper || (spec.wrapper && !v.usageError) ? 2 : 1)
  const emit = (v: Verdict): number => {
    const code = exitCodeFor(v, out.mode)
    if (emitted) return code
    emitted = true
    const ms = monotonicMs() - t0
    const pd = perf ? perf.renderPerfdata(perf.verdictPerfdata(v, ms, timeoutMs)) : null
    let text = out.json ? JSON.stringify({...toJson(v, out.mode, ms), ...(pd !== null ? {perfdata: pd} : {})}) + '\n' : pd !== null ? perf!.perfText(toText(v, out.verbose), pd) : toText(v, out.verbose)
    if (paint) text = paint(text, v.status)
    if (v.data !== undefined && !out.json) io.stdout(v.data)
    if (verdictFd(v) === 2) io.stderr(text)
    else io.stdout(text)
    return code
  }

  let parsed: Parsed
  try {
    parsed = parseCommandArgv(spec, argv, env)
  } catch (e) {
    if (!(e instanceof UsageError)) throw e
    io.stderr(`medic ${spec.id}: ${e.message}\nusage: see 'medic ${spec.id} --help'\n`)
    return emit(usageVerdict(subjectFor(spec, argv), e.message))
  }
  // Settings from outside argv (a config entry) before any flag is read; their error is
  // reported where run()'s would be, after the observer is set up.
  let settingsError: unknown = null
  if (spec.settings) {
    try {
      parsed = await spec.settings(parsed)
    } catch (e) {
      settingsError = e
    }
  }
  const subject = subjectOf(spec, parsed)
  const common = commonValues(parsed.flags)
  out.json = common.json
  out.verbose = common.verbose
  out.mode = common['exit-codes']
  if (common.perfdata) perf = await import('../core/perfdata.js')
  // After the verdict is printed: the textfile and notifications (issue 13), then the last-verdict record.
  const finish = async (v: Verdict): Promise<number> => {
    const code = emit(v)
    if (observer) await observer.end(v, monotonicMs() - t0)
    await recordLast(spec, parsed, v, t0, env)
    return code
  }

  timeoutMs = common.timeout ?? null
  const deadlineMs = timeoutMs
  const deadlineAt = deadlineMs === null ? null : t0 + deadlineMs
  setDeadline(deadlineAt, deadlineMs ?? 0)
  const timers: NodeJS.Timeout[] = []
  const untrap: (() => void)[] = []
  const after = (ms: number, f: () => void) => {
    const t = setTimeout(f, timerMs(ms))
    t.unref()
    timers.push(t)
  }
  const hungVerdict = new Promise<Verdict>((resolve) => {
    if (deadlineMs === null) return
    after(deadlineMs + SERVICE_GRACE_MS, () => {
      const what = waitingOn()
      if (what) resolve({subject, status: 'ALERT', checks: [], actions: [], summary: `${what}: no answer within --timeout ${formatMs(deadlineMs)}`})
    })
    after(deadlineMs + HUNG_GRACE_MS, () => resolve({
      subject, status: 'UNKNOWN', checks: [], actions: [],
      summary: `medic did not finish within --timeout ${formatMs(deadlineMs)} (+${formatMs(HUNG_GRACE_MS)} grace)`,
    }))
  })
  const progress = progressSink((l) => io.stderr(`${l}\n`), env, {json: out.json})
  // The live display (a person at a terminal) ends before the verdict, whose token it colours.
  const settle = async (v: Pick<Verdict, 'data' | 'wrapper' | 'usageError'>) => {
    await progress.close()
    // The colour is decided by the stream the line goes to (a document on a terminal, its verdict to a file: no colour).
    if (io === processIo) paint = await tokenPainter(verdictFd(v), env, out.json)
  }
  try {
    if (observed(parsed.flags, env, spec) && parsed.flags['dry-run'] !== true) {
      const o = (await import('./observe.js')).observerFor(spec, parsed, env, subject, io.stderr, deadlineAt)
      if ('usage' in o) throw new UsageError(o.usage)
      observer = o.observer
    }
    if (settingsError !== null) throw settingsError
    const beat = await heartbeat(spec, parsed, env)
    const pass = observer || beat ? (v: Verdict, ms?: number) => (observer?.pass(v, ms), beat?.(v, ms ?? 0)) : null
    const work = spec.run({parsed, t0, deadlineAt, stderr: progress, ...(pass ? {observe: pass} : {})})
    const v = await Promise.race([work, hungVerdict, ...(io === processIo ? [interrupted(subject, progress.current, untrap)] : [])])
    await settle(v)
    return await finish({...v, subject: v.usageError ? v.subject : subject})
  } catch (e) {
    const err = e as Error
    await settle({})
    if (e instanceof UsageError) {
      io.stderr(`medic ${spec.id}: ${err.message}\nusage: see 'medic ${spec.id} --help'\n`)
      return finish(usageVerdict(subject, err.message))
    }
    if (e instanceof Refusal) {
      io.stderr(`medic ${spec.id}: ${err.message}\n`)
      return emit({subject, status: e.status, summary: err.message, checks: [], actions: []})
    }
    io.stderr(`medic ${spec.id}: internal error: ${env.MEDIC_DEBUG ? err.stack : err.message}\n`)
    return finish({subject, status: 'UNKNOWN', summary: `internal error: ${err.message}`, checks: [], actions: []})
  } finally {
    for (const t of timers) clearTimeout(t)
    for (const u of untrap) u()
  }
}

/**
 * A signal that stops medic (Ctrl+C, `timeout`'s SIGTERM, a closed terminal) ends the run
 * with a verdict that says so and what medic was waiting on — never with nothing on stdout.
 * A command that handles the signal itself (supervise, run-dev-safe, kill-trace, drill, the
 * --watch loops) gets it instead (sys/signal-hub.ts whenUnhandled).
 */
function interrupted(subject: string, current: () => string | undefined, untrap: (() => void)[]): Promise<Verdict> {
  return new Promise((resolve) => {
    untrap.push(whenUnhandled((sig) => {
      // medic exits right after the verdict: a second signal must not kill it first (the code
      // would be lost), and the commands it was waiting on must not run on without it.
      holdUntilExit()
      const during = current()
      const stopped = stopInFlight()
      const also = stopped.length ? `; SIGTERM sent to the command${stopped.length > 1 ? 's' : ''} still running (pid ${stopped.join(', ')})` : ''
      resolve({subject, status: 'UNKNOWN', checks: [], actions: [], summary: `interrupted by ${sig}${during ? ` while ${during}` : ''}${also}; what medic did until then is on stderr`})
    }))
  })
}

/** A command's token subject: from its name (`--name`, or the service positional) where it takes one. */
export function subjectOf(spec: CommandSpec, parsed: Parsed): string {
  const nameArg = parsed.positionals[0] ?? parsed.flags.name
  return spec.subjectFromName && typeof nameArg === 'string' && !nameProblem(nameArg) ? toSubject(nameArg) : spec.subject
}

/**
 * After every verdict (not a usage error, not a dry run): the last-verdict record medic
 * verify reads, `<state-dir>/last/<command-id>.<SUBJECT>.json`. Best effort, after the
 * verdict is printed: it never changes it.
 */
async function recordLast(spec: CommandSpec, parsed: Parsed, v: Verdict, t0: number, env: NodeJS.ProcessEnv): Promise<void> {
  if (v.usageError || parsed.flags['dry-run'] === true) return
  const {writeLastVerdict} = await import('../sys/last-verdict.js')
  // An installed run (its unit or cron line sets MEDIC_INSTALL_NAME) also records under its install's name.
  const install = env.MEDIC_INSTALL_NAME && !nameProblem(env.MEDIC_INSTALL_NAME) ? env.MEDIC_INSTALL_NAME : undefined
  writeLastVerdict(commonValues(parsed.flags)['state-dir'], spec.id, v, new Date(), monotonicMs() - t0, install)
}

/**
 * An installed run (MEDIC_INSTALL_NAME) of a long-running command refreshes its install's
 * last-verdict record every pass: its heartbeat, which medic verify judges against the loop's
 * interval (a stopped or stuck loop stops it). Null for any other run.
 */
async function heartbeat(spec: CommandSpec, parsed: Parsed, env: NodeJS.ProcessEnv): Promise<((v: Verdict, ms: number) => void) | null> {
  const install = env.MEDIC_INSTALL_NAME && !nameProblem(env.MEDIC_INSTALL_NAME) ? env.MEDIC_INSTALL_NAME : undefined
  if (!install || parsed.flags['dry-run'] === true) return null
  const {writeLastVerdict} = await import('../sys/last-verdict.js')
  return (v, ms) => writeLastVerdict(commonValues(parsed.flags)['state-dir'], spec.id, v, new Date(), ms, install)
}

/** The subject of a usage error, before a full parse: from `--name` where the command takes its subject from it. */
function subjectFor(spec: CommandSpec, argv: string[]): string {
  if (spec.subjectFromName) {
    const {words} = splitArgv(argv)
    for (let i = 0; i < words.length; i++) {
      const name = words[i] === '--name' && words[i + 1] && !words[i + 1].startsWith('-') ? words[i + 1] : words[i].startsWith('--name=') ? words[i].slice(7) : null
      if (name !== null) return nameProblem(name) ? spec.subject : toSubject(name)
    }
  }
  return spec.subject
}
