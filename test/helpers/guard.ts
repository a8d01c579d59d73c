import {spawn, type ChildProcess} from 'node:child_process'
import {chmodSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {BIN, Janitor, ROOT, until, waitReady} from './procs.js'

export const HOG = join(ROOT, 'test/fixtures/proc/hog.mjs')

/** A word no other process on the host carries: the guard's --match in tests, so it never looks at anyone else's process. */
export function tag(): string {
  return `guardtest${process.pid}x${Math.random().toString(36).slice(2, 8)}`
}

/** A per-test host registry (MEDIC_PROTECTED_DIR), its parent reachable by every user. */
export function registryEnv(j: Janitor): NodeJS.ProcessEnv {
  const d = j.tmp()
  chmodSync(d, 0o755)
  return {MEDIC_PROTECTED_DIR: join(d, 'protected')}
}

export interface Hog {
  pid: number
  child: number | null
  proc: ChildProcess
}

/** The hog fixture, in its own process group, ready once its memory is held and its handlers installed. */
export async function startHog(j: Janitor, args: string[], opts: {uid?: number} = {}): Promise<Hog> {
  const dir = j.tmp()
  if (opts.uid !== undefined) chmodSync(dir, 0o777)
  const ready = join(dir, 'ready.json')
  const proc = spawn(process.execPath, [HOG, ...args, '--ready', ready], {stdio: 'ignore', detached: true, ...(opts.uid !== undefined ? {uid: opts.uid, gid: opts.uid} : {})})
  j.child(proc)
  const r = (await waitReady(ready, `hog ${args.join(' ')}`, () => true, 60_000)) as unknown as {pid: number; child: number | null}
  if (r.child) j.track(r.child)
  return {pid: r.pid, child: r.child, proc}
}

export interface DevJob {
  wrapper: ChildProcess
  pid: number
  child: number | null
  stderr: () => string
}

/** `medic run-dev-safe -- hog ARGS`: the protected job (and, with --child, its setsid'd child). */
export async function startDevJob(j: Janitor, args: string[], env: NodeJS.ProcessEnv, extra: string[] = []): Promise<DevJob> {
  const dir = j.tmp()
  const ready = join(dir, 'ready.json')
  let err = ''
  const wrapper = spawn(process.execPath, [BIN, 'run-dev-safe', '--state-dir', dir, '--no-trace', ...extra, '--', process.execPath, HOG, ...args, '--ready', ready], {stdio: ['ignore', 'ignore', 'pipe'], detached: true, env: {...process.env, NO_COLOR: '1', ...env}})
  wrapper.stderr!.on('data', (d) => (err += d))
  j.child(wrapper)
  const r = (await waitReady(ready, `dev job ${args.join(' ')}`, () => true, 60_000)) as unknown as {pid: number; child: number | null}
  j.track(r.pid)
  if (r.child) j.track(r.child)
  return {wrapper, pid: r.pid, child: r.child, stderr: () => err}
}

/** Field 19 of /proc/<pid>/stat (of one of its threads: /proc/<pid>/task/<tid>/stat). */
export function niceOf(pid: number, of?: number): number {
  const st = readFileSync(of === undefined ? `/proc/${pid}/stat` : `/proc/${of}/task/${pid}/stat`, 'latin1')
  return Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[16])
}

export function oomAdjOf(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/oom_score_adj`, 'utf8').trim())
}

/** `medic guard --watch …` in the background; stop() sends SIGTERM and resolves with its output. */
export function watchGuard(args: string[], env: NodeJS.ProcessEnv, opts: {uid?: number} = {}): {proc: ChildProcess; stop: () => Promise<{code: number | null; stdout: string; stderr: string}>} {
  let stdout = ''
  let stderr = ''
  const proc = spawn(process.execPath, [BIN, 'guard', ...args], {stdio: ['ignore', 'pipe', 'pipe'], env: {...process.env, NO_COLOR: '1', ...env}, ...(opts.uid !== undefined ? {uid: opts.uid, gid: opts.uid} : {})})
  proc.stdout!.on('data', (d) => (stdout += d))
  proc.stderr!.on('data', (d) => (stderr += d))
  const done = new Promise<number | null>((r) => proc.once('exit', (c) => r(c)))
  return {
    proc,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM')
      const code = await done
      return {code, stdout, stderr}
    },
  }
}

/** The guard's action records. */
export function actions(stateDir: string): {action: string; victim: {pid: number}; reason: string; result: string; resource: string}[] {
  try {
    return readFileSync(join(stateDir, 'guard', 'actions.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l))
  } catch {
    return []
  }
}

/** Skips the test, printing why, when `why` is a reason (the rule: no skip without a printed reason). */
export function skipWhen(ctx: {skip: () => void}, why: string | null): boolean {
  if (!why) return false
  console.log(`skipped: ${why}`)
  ctx.skip()
  return true
}

/** Waits for `cond` while a guard runs; on time-out the guard is stopped and its output is in the error. */
export async function untilWhileGuard(g: ReturnType<typeof watchGuard>, what: string, cond: () => boolean, ms = 60_000): Promise<void> {
  try {
    await until(what, cond, ms)
  } catch (e) {
    const out = await g.stop()
    throw new Error(`${(e as Error).message}\n--- guard stdout:\n${out.stdout}\n--- guard stderr:\n${out.stderr}`)
  }
}
