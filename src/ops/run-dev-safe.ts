import {spawn, type ChildProcess} from 'node:child_process'
import {readFileSync, writeFileSync} from 'node:fs'
import {formatMs} from '../core/duration.js'
import {SIGNALS} from '../core/trace.js'
import type {Check, Status, Verdict} from '../core/verdict.js'
import {isoLocal} from '../sys/log-file.js'
import type {ProcessTable} from '../sys/proc-table.js'
import {registerProtected, unregisterProtected} from '../sys/protected-registry.js'
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

function report(code: number, trace: TraceResult | null): string[] {
  const who = trace?.explanation.fatal ? ` — sent by ${trace.explanation.headline.split('; sent by ')[1]}` : ''
  const causes = trace?.explanation.causes.length ? trace.explanation.causes.map((c) => `   cause: ${c}`) : []
  if (code === 0) return ['✅ DEV SCRIPT COMPLETED (exit code: 0)']
  if (code === 143) return [`⚠️  DEV SCRIPT INTERRUPTED BY SIGTERM (exit code: 143)${who}`, ...causes]
  if (code === 130) return ['🛑 DEV SCRIPT INTERRUPTED BY USER (Ctrl+C, exit code: 130)']
  if (code === 137) {
    return [
      `❌ DEV SCRIPT KILLED BY SIGKILL (exit code: 137)${who}`,
      ...causes,
      ...(trace ? [] : ['   suspects (not traced): the kernel OOM killer, a protector using kill() instead of terminate(), a supervisor stop timeout']),
    ]
  }
  return [`⚠️  DEV SCRIPT FAILED (exit code: ${code})${who}`, ...causes]
}

/**
 * `medic run-dev-safe`: run a long dev job at low priority, registered as protected for as
 * long as it runs, with its output also in a log that survives its death, and its end
 * explained. Exits with the job's status.
 */
export async function runDevSafe(input: DevRunInput, deps: {procs: ProcessTable; stderr: (l: string) => void}): Promise<Verdict> {
  const {procs} = deps
  const say = (l: string) => deps.stderr(l)
  const t0 = Date.now()
  let logFailed = false
  const log = (chunk: string) => {
    try {
      appendCapped(input.logFile, chunk, Infinity, PRIVATE_MODE) // the gate: no symlink followed, 0600
    } catch (e) {
      if (!logFailed) say(`   ⚠️  log not written: ${(e as Error).message}`)
      logFailed = true
    }
  }
  log(`[${isoLocal(new Date())}] run-dev-safe ${input.name}: ${JSON.stringify(input.command)}\n`)
  say('🛡️  DEV SCRIPT PROTECTION WRAPPER')
  say(`   job: ${input.command.join(' ')}`)
  say(`   🔐 Mode: PROTECTED (medic cleanup, health, supervise and watchdog never signal it)`)
  const env = {...process.env, OMNIMIND_DEV_SCRIPT_MODE: 'true', OMNIMIND_SCRIPT_PID: String(process.pid)}
  const checks: Check[] = []
  let registry: string | null = null
  let job: ChildProcess | null = null

  // Output passes through and is written to the log as it comes, by the wrapper.
  const pipe = (c: ChildProcess) => {
    c.stdout?.on('data', (d: Buffer) => {
      process.stdout.write(d)
      log(d.toString('utf8'))
    })
    c.stderr?.on('data', (d: Buffer) => {
      process.stderr.write(d)
      log(d.toString('utf8'))
    })
  }
  const spawnJob = (prefix: string[]) => {
    // `nice -n N -- CMD ARGS`: nice execs the job with its arguments exactly as given.
    const argv = [...prefix, 'nice', '-n', String(input.nice), '--', ...input.command]
    const c = spawn(argv[0], argv.slice(1), {stdio: ['inherit', 'pipe', 'pipe'], detached: true, env, cwd: input.cwd})
    job = c
    pipe(c)
    return c
  }
  const onStart = (pid: number) => {
    const st = procs.stat(pid)
    if (!st) return
    registry = registerProtected(input.stateDir, {version: 1, pid, startTime: st.startTime, name: input.name, cmdline: input.command, descendants: true, registeredAt: new Date().toISOString()})
    say(`   PID: ${pid} (registered in ${registry})`)
    checks.push({name: 'protected', status: 'OK', detail: `pid ${pid} and its descendants registered (${registry})`})
    if ((process.getuid?.() ?? 0) === 0) {
      try {
        writeFileSync(`/proc/${pid}/oom_score_adj`, String(input.oomScoreAdj))
        const now = readFileSync(`/proc/${pid}/oom_score_adj`, 'utf8').trim()
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
    const p = procs.get(pid)
    for (const w of outsideKillers(procs, {comm: p?.comm ?? '', cmdline: input.command.join(' ')})) {
      checks.push({name: 'outside killers', status: 'ALERT', detail: w})
      say(`   ⚠️  ${w}`)
    }
  }

  // SIGINT, SIGTERM, SIGHUP to the wrapper go to the job's whole process group.
  const forward = (sig: NodeJS.Signals) => () => {
    const j = job as ChildProcess | null
    if (!j?.pid) return
    try {
      process.kill(-j.pid, sig)
    } catch {}
  }
  const handlers: [NodeJS.Signals, () => void][] = (['SIGINT', 'SIGTERM', 'SIGHUP'] as NodeJS.Signals[]).map((s) => [s, forward(s)])
  for (const [s, h] of handlers) process.on(s, h)

  let trace: TraceResult | null = null
  let code: number
  try {
    if (input.trace) {
      trace = await traceSignals({spawnJob, durationMs: null, followChildren: true, backend: 'auto', procs, progress: () => {}, handleSignals: false, onStart})
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
      const j = job as unknown as ChildProcess
      const end = await new Promise<{code: number | null; signal: NodeJS.Signals | null}>((r) => (j.exitCode !== null || j.signalCode !== null ? r({code: j.exitCode, signal: j.signalCode}) : j.once('exit', (c, s) => r({code: c, signal: s}))))
      code = end.signal ? 128 + Number(Object.entries(SIGNALS).find(([, n]) => n === end.signal)?.[0] ?? 0) : (end.code ?? 0)
    } else {
      const e = trace.ending
      code = e.kind === 'signaled' ? 128 + (e.signal ?? 0) : e.kind === 'exited' ? (e.code ?? 0) : 1
      // Under strace the job's status is strace's: an exit of 128+N from a signalled job.
    }
  } finally {
    for (const [s, h] of handlers) process.off(s, h)
    if (registry) unregisterProtected(registry)
  }
  const took = formatMs(Date.now() - t0)
  const lines = report(code, trace)
  say(RULE)
  for (const l of lines) say(l)
  say(`   log: ${input.logFile}`)
  say(RULE)
  log(`[${isoLocal(new Date())}] ${lines.join(' | ')}\n`)
  const t = trace ? traceReport(trace) : null
  if (t) checks.push(...t.checks)
  const status: Status = code === 0 ? 'OK' : 'ALERT'
  const summary = `${input.name}: ${lines[0].replace(/^\S+\s+/, '')} after ${took}`
  const verdict: Verdict = {subject: 'DEVRUN', status, summary, checks, actions: [], details: t?.details ?? [], extra: {name: input.name, exitCode: code, log: input.logFile, ...(t?.extra ?? {})}, wrapper: {exitCode: code}}
  if (input.jsonReport) writeFileAtomic(input.jsonReport, JSON.stringify({status, exitCode: code, summary, command: input.command, log: input.logFile, checks, trace: t?.extra ?? null, durationMs: Date.now() - t0}, null, 2) + '\n')
  return verdict
}
