import {spawn, type ChildProcess, type StdioOptions} from 'node:child_process'
import {accessSync, closeSync, constants, statSync} from 'node:fs'
import {delimiter, join} from 'node:path'
import type {Readable} from 'node:stream'
import {cgroupShim, ENV_EXEC, envCarriers, envCommand, type Cgroup} from './cgroup.js'
import {FileError, LOG_MODE, openAppend} from './file-gate.js'

/**
 * Finds a program the way execvp(3) does (a name with a slash is a path; otherwise the
 * first executable regular file named so in PATH), so a command that cannot start is
 * known before anything is spawned — also when it is started through the cgroup shim,
 * whose `exec` would only report it as an exit code 127.
 */
export function resolveProgram(name: string, pathEnv: string | undefined): {ok: true; path: string} | {ok: false; code: 'ENOENT' | 'EACCES'; reason: string} {
  const check = (p: string): 'ok' | 'ENOENT' | 'EACCES' => {
    try {
      if (!statSync(p).isFile()) return 'EACCES'
      accessSync(p, constants.X_OK)
      return 'ok'
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR' ? 'ENOENT' : 'EACCES'
    }
  }
  if (name === '' || name.startsWith('-')) return {ok: false, code: 'ENOENT', reason: `${JSON.stringify(name)}: not a program name`}
  if (name.includes('/')) {
    const r = check(name)
    return r === 'ok' ? {ok: true, path: name} : {ok: false, code: r, reason: `${name}: ${r === 'ENOENT' ? 'no such file' : 'not an executable file'} (${r})`}
  }
  let denied = false
  for (const dir of (pathEnv ?? '/usr/local/bin:/usr/bin:/bin').split(delimiter)) {
    const p = join(dir || '.', name)
    const r = check(p)
    if (r === 'ok') return {ok: true, path: p}
    if (r === 'EACCES') denied = true
  }
  return denied ? {ok: false, code: 'EACCES', reason: `${name}: found in PATH but not executable (EACCES)`} : {ok: false, code: 'ENOENT', reason: `${name}: not found in PATH (ENOENT)`}
}

/**
 * Starts a job in its own session and process group (detached), inside `cgroup` and the
 * `limits` cgroups (their cgroup.procs files) when given — through the constant shim, so it
 * is a member before it can fork. The argv is
 * an argument vector, never a shell string.
 */
export function spawnJob(o: {argv: string[]; env: NodeJS.ProcessEnv; cwd?: string; cgroup: Cgroup | null; stdio: StdioOptions; limits?: string[]; token?: string}): ChildProcess {
  const run = o.cgroup || o.limits?.length ? cgroupShim(o.cgroup, o.argv, o.env, o.limits, o.token) : {argv: o.argv, env: o.env}
  return spawn(run.argv[0], run.argv.slice(1), {detached: true, stdio: o.stdio, env: run.env, cwd: o.cwd})
}

/** What a started job reports, each at most once except `output`. */
export interface JobEvents {
  /** The kernel made the process: its pid. */
  spawned(pid: number): void
  /** It could not be started at all (no process exists): node's spawn error. */
  failed(error: {code?: string; message: string}): void
  /** A chunk of its stdout or stderr, in arrival order (only with `output: true`). */
  output?(chunk: Buffer): void
  /** It ended (after `spawned`; node may also report it after `failed`). */
  exited(code: number | null, signal: NodeJS.Signals | null): void
}

/** What an op sees of a child it started (a node ChildProcess is one; a test's fake is another). */
export interface Child {
  /** Undefined when it could not be started. */
  readonly pid?: number
  readonly exitCode: number | null
  readonly signalCode: NodeJS.Signals | null
  readonly stdout: Readable | null
  readonly stderr: Readable | null
  once(event: 'exit', listener: (code: number | null, signal: NodeJS.Signals | null) => void): unknown
  unref(): void
}

/** One stdio slot: a pipe to medic, medic's own (inherit), nothing, or an open fd of medic's (2: its stderr). */
export type Stdio = 'pipe' | 'inherit' | 'ignore' | number

export interface JobSpec {
  /** An argument vector, never a shell string. */
  argv: string[]
  env?: NodeJS.ProcessEnv
  cwd?: string
  /** Started inside it (a member before it can fork), when given. */
  cgroup?: Cgroup | null
  /** The cgroup.procs files of limit cgroups it is started in too (run-dev-safe --memory-max, isolate). */
  limits?: string[]
  /** Names the job in the shim's refusal line when it cannot join its cgroups. */
  token?: string
  stdio: [Stdio, Stdio, Stdio]
}

/**
 * The seam ops start processes through: execvp's lookup, spawnJob's start with the child's
 * events as callbacks (supervise: no ChildProcess, no stream, in ops), a child held as a
 * `Child` (kill-trace, run-dev-safe), a detached daemon (boot). One real implementation;
 * tests hand ops a recording fake whose children start and die on cue.
 */
export interface Spawner {
  resolve(name: string, pathEnv: string | undefined): ReturnType<typeof resolveProgram>
  start(o: StartSpec, on: JobEvents): void
  /**
   * A spare of `start`'s job (supervise's next child): forked now, in its own session and
   * in its cgroup (the migration, which waits out an RCU grace period, paid ahead of need),
   * then held in a shell before the exec of argv. `release()` execs argv; `discard()` — or
   * medic's own end, which closes the pipe — ends it (exit 0) without ever running argv.
   * `on` reports the shell's pid at once and the command's exit after a release.
   */
  hold(o: StartSpec, on: JobEvents): Held
  /** A child ops hold on to (kill-trace, run-dev-safe): in its own session and process group (detached). */
  job(spec: JobSpec): Child
  /**
   * A process that outlives medic (boot's supervisor): stdin closed, stdout and stderr
   * appended to `outputFile` through the file gate — or dropped when the gate will not
   * open it, said in `outputError` — and not waited for (unref).
   */
  daemon(argv: string[], outputFile: string): {child: Child; outputError: string | null}
}

/** What supervise starts: its child, or a held spare of it. */
export interface StartSpec {
  argv: string[]
  env: NodeJS.ProcessEnv
  cwd?: string
  cgroup: Cgroup | null
  output: boolean
}

export interface Held {
  /** The held shell's pid (undefined when it could not be started: `failed` says why). */
  pid: number | undefined
  release(): void
  discard(): void
}

/**
 * The spare's shell: waits for one line on its stdin (the release) and execs the command
 * with stdin from /dev/null, as `start` gives it; end of file (a discard, medic gone) ends
 * it. The command comes in the environment (MEDIC_SPARE_<i>), not in the shell's
 * arguments: `pgrep -f <service>` and the like must not find a spare that is not the
 * service. It reaches the exec through the positional parameters (`set --`). The exec is
 * ENV_EXEC's (cgroup.ts): the shell's environment is only these and the carriers of the
 * job's, and env(1) starts the command with exactly the environment a plain start gives it
 * — `_`, `a1`, `MEDIC_SPARE_1`, `spring.profiles.active` or OPTIND of its own included
 * (attack-spare F3).
 */
function holdShell(argv: string[], env: NodeJS.ProcessEnv): {argv: string[]; env: NodeJS.ProcessEnv} {
  const cmd = envCommand(argv)
  const names = cmd.map((_, i) => `MEDIC_SPARE_${i}`)
  const script = `read -r go || exit 0; set -- ${names.map((n) => `"$${n}"`).join(' ')}; ${ENV_EXEC} </dev/null`
  return {argv: ['/bin/sh', '-c', script, 'medic-spare'], env: {...envCarriers(env), ...Object.fromEntries(names.map((n, i) => [n, cmd[i]]))}}
}

/**
 * node's spawn throws, instead of reporting, what the kernel refuses at the exec itself
 * (E2BIG: arguments plus environment over ARG_MAX, or one argument over MAX_ARG_STRLEN),
 * and so do the shims for an environment they cannot carry (envCarriers: a name with `=`):
 * reported as `failed`, after the caller has its handle, as node reports ENOENT.
 */
function spawnOrFail(start: () => ChildProcess, on: JobEvents): ChildProcess | null {
  try {
    return start()
  } catch (e) {
    const err = e as NodeJS.ErrnoException
    queueMicrotask(() => on.failed({code: err.code, message: err.message}))
    return null
  }
}

function wire(c: ChildProcess, o: StartSpec, on: JobEvents): void {
  if (o.output && on.output) {
    c.stdout?.on('data', on.output)
    c.stderr?.on('data', on.output)
  }
  c.once('spawn', () => on.spawned(c.pid!))
  c.once('error', (err: NodeJS.ErrnoException) => {
    if (c.pid === undefined) on.failed(err)
  })
  c.once('exit', (code, signal) => on.exited(code, signal))
}

export const jobSpawner: Spawner = {
  resolve: resolveProgram,
  start(o, on) {
    const c = spawnOrFail(() => spawnJob({argv: o.argv, env: o.env, cwd: o.cwd, cgroup: o.cgroup, stdio: ['ignore', o.output ? 'pipe' : 'ignore', o.output ? 'pipe' : 'ignore']}), on)
    if (c) wire(c, o, on)
  },
  hold(o, on) {
    // The hold script grows with the command (~19 bytes an argument): past ~6,600 arguments
    // it is one exec argument longer than MAX_ARG_STRLEN, and there is no spare (`failed`).
    const c = spawnOrFail(() => {
      const h = holdShell(o.argv, o.env)
      return spawnJob({argv: h.argv, env: h.env, cwd: o.cwd, cgroup: o.cgroup, stdio: ['pipe', o.output ? 'pipe' : 'ignore', o.output ? 'pipe' : 'ignore']})
    }, on)
    if (!c) return {pid: undefined, release() {}, discard() {}}
    wire(c, o, on)
    c.stdin!.on('error', () => {}) // EPIPE: the spare is gone, its exit says so
    return {pid: c.pid, release: () => void c.stdin!.end('\n'), discard: () => void c.stdin!.end()}
  },
  job: (s) => spawnJob({argv: s.argv, env: s.env ?? process.env, cwd: s.cwd, cgroup: s.cgroup ?? null, stdio: s.stdio, limits: s.limits, token: s.token}),
  daemon(argv, outputFile) {
    let fd: number | 'ignore' = 'ignore'
    let outputError: string | null = null
    try {
      fd = openAppend(outputFile, LOG_MODE)
    } catch (e) {
      if (!(e instanceof FileError)) throw e
      outputError = e.message
    }
    try {
      const child = spawnJob({argv, env: process.env, cgroup: null, stdio: ['ignore', fd, fd]})
      child.unref()
      return {child, outputError}
    } finally {
      if (typeof fd === 'number') closeSync(fd)
    }
  },
}
