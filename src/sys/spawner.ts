import {closeSync} from 'node:fs'
import type {Readable} from 'node:stream'
import type {Cgroup} from './cgroup.js'
import {FileError, LOG_MODE, openAppend} from './file-gate.js'
import {spawnJob} from './spawn-job.js'

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

/** How ops start processes: every child in its own session and process group (detached). */
export interface Spawner {
  job(spec: JobSpec): Child
  /**
   * A process that outlives medic (boot's supervisor): stdin closed, stdout and stderr
   * appended to `outputFile` through the file gate — or dropped when the gate will not
   * open it, said in `outputError` — and not waited for (unref).
   */
  daemon(argv: string[], outputFile: string): {child: Child; outputError: string | null}
}

export const spawner: Spawner = {
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
