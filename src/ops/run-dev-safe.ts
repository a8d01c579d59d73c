import {formatMs} from '../core/duration.js'
import {entryKey, MARK_ENV, type ProtectedEntry} from '../core/protect.js'
import {SIGNALS, type GuardAction} from '../core/trace.js'
import type {Check, Status, Verdict} from '../core/verdict.js'
import {isoLocal} from '../sys/log-file.js'
import {formatBytes, hasLimits, type JobLimits} from '../core/cgroup-limits.js'
import {applyLimits, limitsCheckEnv, makeCgroup, removeCgroup, removeCgroupReleased, removeLimitCgroups, shimRefusal, systemProgram, type LimitCgroups} from '../sys/cgroup.js'
import type {Clock} from '../sys/clock.js'
import {setOomScoreAdj} from '../sys/proc-files.js'
import type {ProcessTable} from '../sys/proc-table.js'
import {registerProtected, unregisterProtected, type Registration, type RegistryPlaces} from '../sys/protected-registry.js'
import type {SignalGate} from '../sys/signal-gate.js'
import type {SignalHub} from '../sys/signal-hub.js'
import type {Child, Spawner} from '../sys/spawn-job.js'
import type {Tracer} from '../sys/tracer.js'
import {appendCapped, PRIVATE_MODE} from '../sys/file-gate.js'
import {writeFileAtomic} from '../sys/state-store.js'
import {traceReport} from './kill-trace.js'
import {traceSignals, type TraceResult} from './signal-trace.js'

export interface DevRunInput {
  name: string
  command: string[]
  cwd: string | undefined
  nice: number
  oomScoreAdj: number
  logFile: string
  trace: boolean
  stateDir: string
  jsonReport: string | null
  /** --memory-max / --cpu-weight: the job's own cgroup limits (the kernel enforces them). */
  limits?: JobLimits
  /** false for `medic isolate`: the same wrapper without the protected registry. */
  register?: boolean
  /** The seed's emoji and box rule: only for a UTF-8 terminal; logs, pipes and other terminals get plain text. */
  emoji?: boolean
}

/** The report's lines without the seed's emoji (✅ ⚠️ 🛑 ❌), for anything but a UTF-8 terminal. */
export function plainText(line: string): string {
  return line.replace(/(\p{Extended_Pictographic}\u{FE0F}?) +/gu, '').replace(/\u2550/g, '=')
}

const RULE = '═'.repeat(60)

/** earlyoom and systemd-oomd: would they pick this job? */
function outsideKillers(procs: ProcessTable, job: {comm: string; cmdline: string}): string[] {
  const warnings: string[] = []
  for (const pid of procs.list()) {
    const p = procs.get(pid)
    if (!p) continue
    if (p.comm === 'earlyoom') {
      const arg = (k: string) => {
        const i = p.cmdline.indexOf(k)
        return i >= 0 ? p.cmdline[i + 1] : undefined
      }
      const prefer = arg('--prefer')
      const avoid = arg('--avoid')
      const test = (re?: string) => {
        try {
          return re ? new RegExp(re).test(job.comm) : false
        } catch {
          return false
        }
      }
      if (test(prefer)) warnings.push(`earlyoom (pid ${pid}) runs with --prefer ${prefer}, which matches this job: it will be killed first under memory pressure`)
      else if (!test(avoid)) warnings.push(`earlyoom (pid ${pid}) runs and this job is not in its --avoid list: it picks the largest oom_score, and a long test run is often that`)
    }
    if (p.comm === 'systemd-oomd') warnings.push(`systemd-oomd (pid ${pid}) runs: it kills whole cgroups under memory pressure; run the job in a scope with: systemd-run --user --scope -p ManagedOOMPreference=avoid -- medic run-dev-safe …`)
  }
  return warnings
}

function report(code: number, trace: TraceResult | null, forwarded: string | null): string[] {
  const who = trace?.explanation.fatal ? ` — sent by ${trace.explanation.headline.split('; sent by ')[1]}` : ''
  const causes = trace?.explanation.causes.length ? trace.explanation.causes.map((c) => `   cause: ${c}`) : []
  if (code === 0) return ['✅ DEV SCRIPT COMPLETED (exit code: 0)']
  if (code === 130) return ['🛑 DEV SCRIPT INTERRUPTED BY USER (Ctrl+C, exit code: 130)']
  // The trace sees medic (or, for a node job, the job's own re-raise) send what medic passed on: not the culprit.
  if (forwarded) return [`🛑 DEV SCRIPT INTERRUPTED BY ${forwarded} (exit code: ${code}): medic received ${forwarded} and passed it on`]
  if (code === 143) return [`⚠️  DEV SCRIPT INTERRUPTED BY SIGTERM (exit code: 143)${who}`, ...causes]
  if (code === 137) {
    return [
      `❌ DEV SCRIPT KILLED BY SIGKILL (exit code: 137)${who}`,
      ...causes,
      ...(trace ? [] : ['   suspects (not traced): the kernel OOM killer, a protector using kill() instead of terminate(), a supervisor stop timeout']),
    ]
  }
  return [`⚠️  DEV SCRIPT FAILED (exit code: ${code})${who}`, ...causes]
}

export interface DevRunDeps {
  clock: Clock
  procs: ProcessTable
  gate: SignalGate
  places: RegistryPlaces
  /** SIGINT, SIGTERM, SIGHUP to the wrapper (forwarded to the job). */
  signals: SignalHub
  spawner: Pick<Spawner, 'job'>
  /** --trace: tracefs or strace. */
  tracer: Tracer
  stderr: (l: string) => void
  /** The uid medic runs as (oom_score_adj is set only as root). */
  uid: number
  /** medic guard's action records since a moment, so a kill by the guard is explained by its reason. */
  guardActions?: (sinceMs: number) => GuardAction[]
}

/**
 * `medic run-dev-safe`: run a long dev job at low priority, registered as protected for as
 * long as it runs, with its output also in a log that survives its death, and its end
 * explained. Exits with the job's status.
 *
 * Registered BEFORE it starts, or not started: the wrapper registers itself (with its
 * descendants, the MEDIC_PROTECTED mark and, where one can be made, a cgroup) before it
 * spawns anything; a job medic could not register is never started (DEVRUN_UNKNOWN on
 * stderr, exit 3). Once running, the job is registered too (so it stays protected if the
 * wrapper is killed), with its session.
 */
export async function runDevSafe(input: DevRunInput, deps: DevRunDeps): Promise<Verdict> {
  const {procs, clock} = deps
  const say = (l: string) => deps.stderr(input.emoji ? l : plainText(l))
  const t0 = clock.now()
  let logFailed = false
  const log = (chunk: string) => {
    try {
      appendCapped(input.logFile, chunk, Infinity, PRIVATE_MODE) // the gate: no symlink followed, 0600
    } catch (e) {
      if (!logFailed) say(`   ⚠️  log not written: ${(e as Error).message}`)
      logFailed = true
    }
  }
  log(`[${isoLocal(clock.wall())}] run-dev-safe ${input.name}: ${JSON.stringify(input.command)}\n`)
  const register = input.register !== false
  say(register ? '🛡️  DEV SCRIPT PROTECTION WRAPPER' : '🧱 ISOLATED JOB (its own cgroup; not in the protected registry)')
  say(`   job: ${input.command.join(' ')}`)
  const checks: Check[] = []
  const self = procs.get(process.pid)
  const selfKey = self ? entryKey(self) : ''
  const isAlive = (pid: number, st: string) => procs.liveness(pid, st) === 'alive'
  const made = self ? makeCgroup(register ? 'protect' : 'isolate', '', self, isAlive) : {ok: false as const, reason: 'own /proc entry unreadable'}
  let cgroup = made.ok ? made.cgroup : null
  const notStarted = (name: string, why: string, hint: string): Verdict => {
    if (cgroup) removeCgroup(cgroup)
    say(`   ❌ NOT STARTED: ${why}`)
    say(`      ${hint}`)
    log(`[${isoLocal(clock.wall())}] not started: ${why}\n`)
    return {subject: 'DEVRUN', status: 'UNKNOWN', summary: `${input.name}: not started: ${why}`, checks: [{name, status: 'UNKNOWN', detail: why}], actions: [], extra: {name: input.name, exitCode: 3, started: false}, wrapper: {exitCode: 3}}
  }
  // Limits first: a job asked to stay under a budget the kernel cannot enforce is not started.
  let limited: LimitCgroups | null = null
  // The shims' refusal line carries this token (gone once they exec: the job cannot print it).
  const token = `${process.pid}x${Math.random().toString(36).slice(2, 10)}`
  let refused: string | null = null
  if (input.limits && hasLimits(input.limits)) {
    const l = self ? applyLimits(cgroup, register ? 'protect' : 'isolate', '', self, isAlive, input.limits, token) : {ok: false as const, reason: 'own /proc entry unreadable'}
    if (!l.ok) return notStarted('limits', `cannot give the job its own cgroup limits: ${l.reason}`, 'A job over --memory-max would otherwise take the memory of everything else on the host.')
    limited = l.cgroups
    // systemd's scope is the job's cgroup: no second one of medic's beside it.
    if (limited.hierarchy === 'systemd' && cgroup) {
      removeCgroup(cgroup)
      cgroup = null
    }
    say(`   limits: ${limited.describe} — over budget, the kernel OOM-kills inside this cgroup only`)
    checks.push({name: 'limits', status: 'OK', detail: `${limited.describe}${limited.memory ? `: over ${formatBytes(limited.memory.limit)} the kernel OOM killer acts inside this cgroup only` : ''}`})
  }
  const registry: Registration[] = []
  const entry = (pid: number, startTime: string, session: ProtectedEntry['session']): ProtectedEntry => ({
    version: 1, pid, startTime, name: input.name, cmdline: input.command, descendants: true, registeredAt: clock.wall().toISOString(),
    mark: selfKey, session, cgroup: cgroup?.path ?? null,
  })
  if (register) {
    try {
      if (!self) throw new Error('cannot read its own /proc entry')
      registry.push(registerProtected(entry(self.pid, self.startTime, self.sid === self.pid ? {sid: self.sid, startTime: self.startTime} : null), deps.places))
    } catch (e) {
      if (limited) await removeLimitCgroups(limited, (ms) => clock.sleep(ms))
      return notStarted('protected', (e as Error).message, 'A job medic cannot register would run unprotected (medic cleanup, health and supervise could kill it).')
    }
    say(`   🔐 Mode: PROTECTED (medic cleanup, health, supervise, watchdog and guard never signal it)`)
    say(`   registered: wrapper pid ${self!.pid} and its descendants (${registry[0].path}); marks: ${MARK_ENV}=${selfKey}${cgroup ? `, cgroup ${cgroup.path}` : ''}, the job's session`)
    checks.push({name: 'protected', status: 'OK', detail: `wrapper pid ${self!.pid} and its descendants registered (${registry[0].path}); marks: ${MARK_ENV} environment, the job's session${cgroup ? `, cgroup ${cgroup.path}` : ` (no cgroup: ${made.ok ? '' : made.reason})`}`})
  }
  const env: NodeJS.ProcessEnv = register ? {...process.env, OMNIMIND_DEV_SCRIPT_MODE: 'true', OMNIMIND_SCRIPT_PID: String(process.pid), [MARK_ENV]: selfKey} : {...process.env}
  // The wrapper's own capability over its job (Ctrl+C forwarding): its own registration
  // does not stop it, nor the job's (added when the job registers: under strace the job is
  // strace's child, not an adopted root, and its entry's session claim covers strace too).
  const ownKeys = [selfKey]
  const scope = deps.gate.scope({mark: register ? {name: MARK_ENV, value: selfKey} : null, cgroup, ownKeys})
  let job: Child | null = null

  // Output passes through and is written to the log as it comes, by the wrapper.
  const pipe = (c: Child) => {
    c.stdout?.on('data', (d: Buffer) => {
      process.stdout.write(d)
      log(d.toString('utf8'))
    })
    let head = ''
    c.stderr?.on('data', (d: Buffer) => {
      if (head.length < 4096) {
        head += d.toString('utf8')
        refused ??= shimRefusal(head, token)
      }
      process.stderr.write(d)
      log(d.toString('utf8'))
    })
  }
  const spawnJob = (prefix: string[]) => {
    // `nice -n N -- CMD ARGS`: nice execs the job with its arguments exactly as given. nice by
    // the absolute path medic finds, not through the job's PATH (attack-env F5).
    const argv = [...prefix, ...(limited?.prefix ?? []), systemProgram('nice') ?? '/usr/bin/nice', '-n', String(input.nice), '--', ...input.command]
    // systemd's limits check is a shell too: the job's environment reaches it in carriers only (cgroup.ts, ENV_EXEC).
    const c = deps.spawner.job({argv, env: limited?.hierarchy === 'systemd' ? limitsCheckEnv(env) : env, cwd: input.cwd, cgroup, limits: limited?.procsFiles, token, stdio: ['inherit', 'pipe', 'pipe']})
    if (c.pid) scope.adopt(c.pid)
    job = c
    pipe(c)
    return c
  }
  const onStart = (pid: number) => {
    const st = procs.stat(pid)
    if (!st) return
    if (register) {
      // The job's own entry keeps it protected if the wrapper is killed. Its session is
      // recorded when the job or the wrapper's own child (strace) leads it.
      const leader = procs.stat(st.sid)
      const session = leader && (st.sid === pid || leader.ppid === process.pid) ? {sid: st.sid, startTime: leader.startTime} : null
      ownKeys.push(entryKey({pid, startTime: st.startTime}))
      try {
        registry.push(registerProtected(entry(pid, st.startTime, session), deps.places))
        say(`   PID: ${pid} (registered in ${registry.at(-1)!.path})`)
      } catch (e) {
        say(`   PID: ${pid} (not registered on its own: ${(e as Error).message}; protected as the wrapper's descendant and by its marks)`)
        checks.push({name: 'protected job', status: 'UNKNOWN', detail: `pid ${pid} not registered on its own (${(e as Error).message}): protected through the wrapper's registration while the wrapper runs, and by its marks`})
      }
      if (deps.uid === 0) {
        try {
          const now = setOomScoreAdj(pid, input.oomScoreAdj)
          checks.push({name: 'oom_score_adj', status: 'OK', detail: `set to ${now} (the kernel OOM killer prefers others)`})
          say(`   oom_score_adj: ${now}`)
        } catch (e) {
          const why = (e as NodeJS.ErrnoException).code === 'EACCES' ? 'the kernel refused: lowering needs CAP_SYS_RESOURCE, which this root lacks (a container?)' : (e as Error).message
          checks.push({name: 'oom_score_adj', status: 'UNKNOWN', detail: `could not lower it to ${input.oomScoreAdj}: ${why}`})
          say(`   oom_score_adj: not changed (${why})`)
        }
      } else {
        const msg = 'not root: oom_score_adj can only be raised; run as root, or under systemd-run --user --scope -p ManagedOOMPreference=avoid to keep systemd-oomd away'
        checks.push({name: 'oom_score_adj', status: 'UNKNOWN', detail: msg})
        say(`   ${msg}`)
      }
    }
    const p = procs.get(pid)
    for (const w of outsideKillers(procs, {comm: p?.comm ?? '', cmdline: input.command.join(' ')})) {
      checks.push({name: 'outside killers', status: 'ALERT', detail: w})
      say(`   ⚠️  ${w}`)
    }
  }

  // SIGINT, SIGTERM, SIGHUP to the wrapper go to the job's process group, member by member through the gate.
  let forwarded: string | null = null
  const off = deps.signals.subscribe((sig) => {
    forwarded ??= sig
    void scope.signalAll(sig, {group: true})
  }, ['SIGINT', 'SIGTERM', 'SIGHUP'])

  let trace: TraceResult | null = null
  let code: number
  try {
    if (input.trace) {
      trace = await traceSignals({spawnJob, durationMs: null, followChildren: true, backend: 'auto', procs, clock, signals: deps.signals, tracer: deps.tracer, gate: deps.gate, progress: () => {}, handleSignals: false, onStart, guardActions: deps.guardActions, jobCgroup: limited?.memory ? {path: limited.memory.path, limit: limited.memory.limit, oomEvents: limited.oomEvents} : null})
      if (trace.failed) {
        checks.push({name: 'trace', status: 'UNKNOWN', detail: `no trace: ${trace.failed}`})
        trace = null
      }
    }
    if (!trace) {
      if (!job) {
        const c = spawnJob([])
        onStart(c.pid!)
      }
      const j = job as unknown as Child
      const end = await new Promise<{code: number | null; signal: NodeJS.Signals | null}>((r) => (j.exitCode !== null || j.signalCode !== null ? r({code: j.exitCode, signal: j.signalCode}) : j.once('exit', (c, s) => r({code: c, signal: s}))))
      code = end.signal ? 128 + Number(Object.entries(SIGNALS).find(([, n]) => n === end.signal)?.[0] ?? 0) : (end.code ?? 0)
    } else {
      const e = trace.ending
      code = e.kind === 'signaled' ? 128 + (e.signal ?? 0) : e.kind === 'exited' ? (e.code ?? 0) : 1
      // Under strace the job's status is strace's: an exit of 128+N from a signalled job.
    }
  } finally {
    off()
    for (const r of registry.reverse()) unregisterProtected(r)
    if (limited && !(await removeLimitCgroups(limited, (ms) => clock.sleep(ms)))) checks.push({name: 'leftovers', status: 'ALERT', detail: `processes the job left are still running in its limit cgroups (${limited.describe}); they stay limited`})
    if (cgroup && !(await removeCgroupReleased(cgroup, (ms) => clock.sleep(ms)))) checks.push({name: 'leftovers', status: 'ALERT', detail: `processes the job left are still running in cgroup ${cgroup.path}; they are no longer protected`})
  }
  // Exit 125 may be a shim's refusal: its line may still be in the pipe (bounded wait: a daemon the job left may hold it open).
  const j = job as Child | null
  if (code === 125 && !refused && j && !j.stderr?.closed) {
    const closed = new AbortController()
    await Promise.race([new Promise((r) => j.stderr?.once('close', r)), clock.sleep(1000, closed.signal)])
    closed.abort()
  }
  if (refused) {
    say(`   ❌ NOT STARTED: ${refused}`)
    log(`[${isoLocal(clock.wall())}] not started: ${refused}\n`)
    return {subject: 'DEVRUN', status: 'UNKNOWN', summary: `${input.name}: not started: ${refused}`, checks: [...checks, {name: 'limits', status: 'UNKNOWN', detail: refused}], actions: [], extra: {name: input.name, exitCode: 3, started: false}, wrapper: {exitCode: 3}}
  }
  const took = formatMs(clock.now() - t0)
  const lines = report(code, trace, forwarded)
  say(RULE)
  for (const l of lines) say(l)
  say(`   log: ${input.logFile}`)
  say(RULE)
  log(`[${isoLocal(clock.wall())}] ${plainText(lines.join(' | '))}\n`)
  const t = trace ? traceReport(trace) : null
  if (t) checks.push(...t.checks)
  let status: Status = code === 0 ? 'OK' : 'ALERT'
  let summary = `${input.name}: ${lines[0].replace(/^\S+\s+/, '')} after ${took}`
  if (input.jsonReport) {
    try {
      writeFileAtomic(input.jsonReport, JSON.stringify({status, exitCode: code, summary, command: input.command, log: input.logFile, checks, trace: t?.extra ?? null, durationMs: clock.now() - t0}, null, 2) + '\n')
    } catch (e) {
      // The job ran; its report could not be written (a refused path, a full disk): said, never OK. The exit code stays the job's.
      status = 'ALERT'
      summary = `${summary}; --json-report not written: ${(e as Error).message}`
      checks.push({name: 'report', status: 'ALERT', detail: `not written: ${(e as Error).message}`})
    }
  }
  return {subject: 'DEVRUN', status, summary, checks, actions: [], details: t?.details ?? [], extra: {name: input.name, exitCode: code, log: input.logFile, ...(t?.extra ?? {})}, wrapper: {exitCode: code}}
}
