import {splitCommandLine} from '../core/command-line.js'
import {DRILL_KINDS, type DrillKind} from '../core/drill.js'
import {formatMs, parseDuration} from '../core/duration.js'
import type {LogSourceSpec} from '../core/log-match.js'
import {nameProblem, unitNameProblem} from '../core/names.js'
import {UsageError} from './parse.js'

/**
 * Validation and derivation of flag values that one flag's type cannot express: pure
 * functions of the parsed values (no fs, no process.*), each throwing the usage error
 * the command prints (UNKNOWN, exit 3). The specs' run() only wires their results to ops.
 */

const quote = (text: string) => JSON.stringify(text)
const why = (e: unknown) => (e instanceof Error ? e.message : String(e))

/** `--unit`: a systemd unit name. */
export function unitName(unit: string): string {
  const bad = unitNameProblem(unit)
  if (bad) throw new UsageError(`--unit ${quote(unit)}: ${bad}`)
  return unit
}

/** A unit sent over ssh: a unit name without a backslash, and a word the remote shell reads as itself. */
export function remoteUnitName(unit: string, safeRemoteWord: (w: string) => boolean): string {
  if (unitNameProblem(unit) || unit.includes('\\') || !safeRemoteWord(unit)) throw new UsageError(`--unit ${quote(unit)}: not a unit name that can be sent over ssh (letters, digits, @ . _ : -)`)
  return unit
}

/** A service or job name given as the first argument (`medic health gateway`), else the --name flag's. */
export function serviceName(positional: string | undefined, flag: string): string {
  const name = positional ?? flag
  const bad = nameProblem(name)
  if (bad) throw new UsageError(`service name ${quote(name.slice(0, 40))}: ${bad}`)
  return name
}

/** A command line split like ExecStart= (`--start-cmd`); undefined when not given. */
export function commandLine(flag: string, text: string | undefined): string[] | undefined {
  if (text === undefined) return undefined
  let argv: string[]
  try {
    argv = splitCommandLine(text)
  } catch (e) {
    throw new UsageError(`--${flag}: ${why(e)}`)
  }
  if (argv.length === 0) throw new UsageError(`--${flag}: empty command`)
  return argv
}

/** An http(s) URL (`--url`, `--health-url`). */
export function httpUrl(flag: string, url: string): string {
  let protocol: string
  try {
    protocol = new URL(url).protocol
  } catch (e) {
    throw new UsageError(`--${flag} ${quote(url)}: ${why(e)}`)
  }
  if (!/^https?:$/.test(protocol)) throw new UsageError(`--${flag} ${quote(url)}: only http and https`)
  return url
}

/** `--healthy-status`: `lo-hi` or one code. */
export function statusRange(text: string): [number, number] {
  const m = /^\s*(\d{3})\s*(?:-\s*(\d{3}))?\s*$/.exec(text)
  if (!m) throw new UsageError(`--healthy-status ${quote(text)}: expected a range such as 200-399`)
  const lo = Number(m[1])
  const hi = Number(m[2] ?? m[1])
  if (lo > hi) throw new UsageError(`--healthy-status ${text}: empty range`)
  return [lo, hi]
}

/**
 * supervise: the child's environment — the parent's whole (--inherit-env), else PATH=path
 * and the parent's HOME, USER, LOGNAME, LANG, LC_ALL, TZ — then each `--env KEY=VALUE`.
 */
export function childEnv(pairs: readonly string[], inherit: boolean, parent: Record<string, string | undefined>, path: string): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = inherit ? {...parent} : {PATH: path}
  if (!inherit) for (const k of ['HOME', 'USER', 'LOGNAME', 'LANG', 'LC_ALL', 'TZ']) if (parent[k]) env[k] = parent[k]
  for (const kv of pairs) {
    const eq = kv.indexOf('=')
    if (eq <= 0) throw new UsageError(`--env ${quote(kv)}: expected KEY=VALUE`)
    env[kv.slice(0, eq)] = kv.slice(eq + 1)
  }
  return env
}

const SEED_ARGS = ['threshold', 'interval', 'max-restarts', 'cooldown'] as const
type SeedArgs = {threshold?: number; interval?: number; 'max-restarts'?: number; cooldown?: number}

/**
 * `medic ollama frozen-check 180 15 3 60`: the seed monitor's $1..$4, each also a flag
 * (--threshold --interval --max-restarts --cooldown); a value given both ways is an error.
 */
export function seedMonitorArgs(positionals: readonly string[], given: ReadonlySet<string>): SeedArgs {
  const out: SeedArgs = {}
  positionals.forEach((text, i) => {
    const name = SEED_ARGS[i]
    if (given.has(name)) throw new UsageError(`${name} given twice: as argument ${i + 1} (${text}) and as --${name}`)
    if (name === 'max-restarts') {
      if (!/^\d+$/.test(text) || Number(text) < 1) throw new UsageError(`argument 3 (max restarts per hour) ${quote(text)}: expected a whole number, at least 1`)
      out[name] = Number(text)
    } else {
      const ms = parseDuration(text)
      if (ms === null) throw new UsageError(`argument ${i + 1} (${name}) ${quote(text)}: expected a duration such as 180, 15s, 5m`)
      if (name === 'interval' && ms < 10) throw new UsageError(`argument 2 (interval) ${quote(text)}: must be at least 10ms`)
      out[name] = ms
    }
  })
  return out
}

/** Modes of one command that exclude each other: the names of those given, at most one. */
export function oneMode(modes: ReadonlyArray<string | false>): void {
  const given = modes.filter((m) => m !== false)
  if (given.length > 1) throw new UsageError(`${given.join(' and ')} do not go together`)
}

/**
 * `ollama metrics`: the refresh interval, from --watch or the seed's `--daemon [N]`
 * (default 15s); undefined for one collection. --test/--stdout print one collection.
 */
export function exporterInterval(f: {watch: number | undefined; daemon: boolean; test: boolean; stdout: boolean}, positionals: readonly string[]): number | undefined {
  let intervalMs = f.watch
  if (positionals.length && !f.daemon) throw new UsageError(`unexpected argument: ${positionals[0]} (an interval goes with --daemon)`)
  if (f.daemon) {
    if (intervalMs !== undefined) throw new UsageError('--daemon and --watch do not go together (--daemon N is --watch N)')
    const text = positionals[0] ?? '15'
    const ms = parseDuration(text)
    if (ms === null || ms < 10) throw new UsageError(`--daemon ${quote(text)}: expected an interval such as 15 or 15s`)
    intervalMs = ms
  }
  if ((f.test || f.stdout) && intervalMs !== undefined) throw new UsageError('--test/--stdout print one collection; they do not go with --watch/--daemon')
  return intervalMs
}

/** health: what it probes — the URL (--url, default http://127.0.0.1:<port>/health; none with --tcp) — and which HTTP statuses count as healthy. */
export function healthProbe(f: {tcp: boolean; url: string | undefined; port: number; 'healthy-status': string}): {url: string | null; healthy: [number, number]} {
  const healthy = statusRange(f['healthy-status'])
  const url = f.tcp ? null : httpUrl('url', f.url ?? `http://127.0.0.1:${f.port}/health`)
  return {url, healthy}
}

/** health: how long a concurrent run waits for the running one (default verify-timeout + 2 × grace + 10s). */
export function healthLockWaitMs(f: {'lock-wait': number | undefined; 'verify-timeout': number; grace: number}): number {
  return f['lock-wait'] ?? f['verify-timeout'] + 2 * f.grace + 10_000
}

type LogFlags = {'log-pattern': RegExp | undefined; 'log-source': string | undefined; 'log-threshold': number; 'repair-on-log': boolean; 'command-timeout': number; unit: string; container: string | undefined}

/**
 * health --log-pattern: where the service's log is read — --log-source FILE, else the
 * journal of a systemd unit, else the container's docker logs — and when it counts.
 */
export function healthLogWatch(f: LogFlags, managerKind: string, name: string): {source: LogSourceSpec; pattern: RegExp; threshold: number; repairOnLog: boolean; timeoutMs: number} | null {
  if (!f['log-pattern']) {
    if (f['log-source'] || f['repair-on-log']) throw new UsageError(`--${f['log-source'] ? 'log-source' : 'repair-on-log'} goes with --log-pattern`)
    return null
  }
  return {source: logSourceOf(f, managerKind, name), pattern: f['log-pattern'], threshold: f['log-threshold'], repairOnLog: f['repair-on-log'], timeoutMs: f['command-timeout']}
}

function logSourceOf(f: LogFlags, kind: string, name: string): LogSourceSpec {
  if (typeof f['log-source'] === 'string') return {kind: 'file', path: f['log-source']}
  if (kind === 'systemd' || kind === 'systemd-user') return {kind: 'journal', unit: f.unit, user: kind === 'systemd-user'}
  if (kind === 'docker') return {kind: 'docker', container: f.container ?? name}
  throw new UsageError(`--log-pattern with --manager ${kind}: say where the log is (--log-source FILE)`)
}

type DrillFlags = {kind: string[]; hold: number; within: number; name: string | undefined; pid: number | undefined; unit: string | undefined; port: number | undefined; url: string | undefined}

/**
 * drill: the fault (one of DRILL_KINDS, also the first argument) and how the service is
 * named (--port, --unit or --pid; not --pid with --unit).
 */
export function drillRequest(f: DrillFlags, given: ReadonlySet<string> = new Set()): {kind: DrillKind; name: string | null; pid: number | null; unit: string | null; port: number | null; url: string | null} {
  const kinds = f.kind
  if (kinds.length !== 1) throw new UsageError(kinds.length ? `one fault at a time, not ${kinds.join(' and ')}` : `which fault? medic drill ${DRILL_KINDS.join('|')} (--port P | --unit U | --pid N)`)
  const kind = DRILL_KINDS.find((k) => k === kinds[0])
  if (kind === undefined) throw new UsageError(`unknown fault ${quote(kinds[0])}: expected ${DRILL_KINDS.slice(0, -1).join(', ')} or ${DRILL_KINDS.at(-1)}`)
  // Exact seconds, never formatMs's rounding (90s is not "2m"); a default is named as one.
  const secs = (ms: number) => `${ms / 1000}s`
  if (kind !== 'crash-loop' && given.has('hold')) throw new UsageError(`--hold is for crash-loop only (how long every start fails); a ${kind} drill takes no --hold`)
  if (kind === 'crash-loop' && f.hold <= 0) throw new UsageError(`--hold ${secs(f.hold)}: a crash-loop makes every start fail for --hold: give more than 0 (default 5s), shorter than --within`)
  if (kind === 'crash-loop' && f.hold >= f.within) {
    throw new UsageError(`--hold ${secs(f.hold)} must be shorter than --within ${secs(f.within)}${given.has('within') ? '' : ' (the default)'}: --within counts from the fault, the hold included`)
  }
  const name = f.name ?? null
  if (name !== null && !/^[A-Za-z0-9@._-]+$/.test(name)) throw new UsageError(`--name ${quote(name)}: letters, digits, @ . _ - only`)
  const pid = f.pid ?? null
  const unit = f.unit ?? null
  const port = f.port ?? null
  if (pid === null && unit === null && port === null) throw new UsageError('name the service: --port P, --unit U or --pid N')
  if (pid !== null && unit !== null) throw new UsageError('--pid and --unit both name the target: give one')
  return {kind, name, pid, unit: unit === null ? null : unitName(unit), port, url: f.url === undefined ? null : httpUrl('url', f.url)}
}
