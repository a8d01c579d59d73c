import {execFile, spawn} from 'node:child_process'
import {closeSync} from 'node:fs'
import {serviceWait, timeLeft} from './deadline.js'
import {openAppend, PRIVATE_MODE} from './file-gate.js'
import {track} from './in-flight.js'

export interface ExecResult {
  argv: string[]
  code: number | null
  signal: string | null
  stdout: string
  stderr: string
  timedOut: boolean
  /** The program does not exist (ENOENT) or cannot be run (EACCES). */
  missing: boolean
  ms: number
}


/**
 * Every external command: an argument vector (never a shell), a timeout, SIGKILL when it
 * runs out. Results are data; nothing throws.
 */
export function run(argv: string[], opts: {timeoutMs: number; env?: NodeJS.ProcessEnv; input?: string}): Promise<ExecResult> {
  const t0 = Date.now()
  const limit = timeLeft(opts.timeoutMs) // never past the command's --timeout; never 0 (execFile: no timeout)
  // node:child_process (and node:net, which it loads) only once a command runs: a healthy run spawns nothing (~2.5 ms).
  return serviceWait(argv.join(' ').slice(0, 120), () => import('node:child_process').then(({execFile}) => new Promise<ExecResult>((resolve) => {
    const child = execFile(argv[0], argv.slice(1), {timeout: limit, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024, env: opts.env ?? process.env, encoding: 'utf8'}, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & {killed?: boolean; signal?: string; code?: number | string}) | null
      const missing = e?.code === 'ENOENT' || e?.code === 'EACCES'
      resolve({
        argv,
        code: e ? (typeof e.code === 'number' ? e.code : null) : 0,
        signal: e?.signal ?? null,
        stdout: String(stdout ?? ''),
        stderr: String(stderr ?? '') || (missing ? `${argv[0]}: ${e?.code}` : ''),
        timedOut: Boolean(e?.killed && e.signal === 'SIGKILL'),
        missing,
        ms: Date.now() - t0,
      })
    })
    track(child, false)
    if (opts.input !== undefined) child.stdin?.end(opts.input)
  })))
}

/**
 * A start/stop command that "returns when done" (like systemd's ExecStart of a forking
 * service): it runs in its own process group, its output goes to a log file (not a pipe
 * — a daemon it leaves behind would hold a pipe open forever), and only its exit is
 * awaited.
 */
export function runDetached(argv: string[], opts: {timeoutMs: number; logFile?: string; env?: NodeJS.ProcessEnv; input?: string; signal?: AbortSignal}): Promise<ExecResult> {
  const t0 = Date.now()
  const limit = timeLeft(opts.timeoutMs)
  return serviceWait(argv.join(' ').slice(0, 120), () => import('node:child_process').then(({spawn}) => new Promise<ExecResult>((resolve) => {
    let fd: number | 'ignore' = 'ignore'
    if (opts.logFile) {
      try {
        fd = openAppend(opts.logFile, PRIVATE_MODE) // the gate: no symlink followed, 0600
      } catch {}
    }
    const child = spawn(argv[0], argv.slice(1), {stdio: [opts.input === undefined ? 'ignore' : 'pipe', fd, fd], detached: true, env: opts.env ?? process.env})
    if (typeof fd === 'number') closeSync(fd)
    track(child, true)
    // A command that never reads its input (or exits first) must not fail medic: EPIPE is ignored.
    child.stdin?.on('error', () => {})
    if (opts.input !== undefined) child.stdin?.end(opts.input)
    let timedOut = false
    // The one signal outside the signal gate (sys/signal-gate.ts says why): the timed-out
    // command's process group. Its leader is this process's own child, not yet reaped (the
    // timer is cleared on its exit), so its pid — the group id — cannot have been reused.
    const killGroup = () => {
      try {
        process.kill(-child.pid!, 'SIGKILL')
      } catch {}
    }
    const timer = setTimeout(() => {
      timedOut = true
      killGroup()
    }, limit)
    // Given up by the caller (medic stopped): the same kill, at once.
    const abandon = () => {
      clearTimeout(timer)
      if (child.pid !== undefined) killGroup()
    }
    opts.signal?.addEventListener('abort', abandon, {once: true})
    if (opts.signal?.aborted) abandon()
    child.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      opts.signal?.removeEventListener('abort', abandon)
      resolve({argv, code: null, signal: null, stdout: '', stderr: `${argv[0]}: ${e.code}`, timedOut: false, missing: true, ms: Date.now() - t0})
    })
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      opts.signal?.removeEventListener('abort', abandon)
      resolve({argv, code, signal, stdout: '', stderr: '', timedOut, missing: false, ms: Date.now() - t0})
    })
  })))
}

export function describeExec(r: ExecResult): string {
  if (r.missing) return `${r.argv[0]} not found`
  if (r.timedOut) return `timed out after ${r.ms}ms`
  if (r.signal) return `killed by ${r.signal}`
  const err = r.stderr.trim().split('\n').filter(Boolean).at(-1)
  return r.code === 0 ? `ok in ${r.ms}ms` : `exit ${r.code}${err ? `: ${err.slice(0, 160)}` : ''}`
}
