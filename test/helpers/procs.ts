import {spawn, type ChildProcess} from 'node:child_process'
import {mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))
export const SERVICE = join(ROOT, 'test/fixtures/proc/service.mjs')
export const LAUNCH = join(ROOT, 'test/fixtures/proc/launch.mjs')
export const BIN = join(ROOT, 'bin/run.js')

export interface Ready {
  pid: number
  port: number
  [k: string]: unknown
}

/**
 * Records every process group a test starts and kills each of them — by its own pgid,
 * never by name — when the test ends.
 */
export class Janitor {
  private groups = new Set<number>()
  private dirs: string[] = []
  private children: ChildProcess[] = []
  private pidFiles: string[] = []
  private lookups: (() => number[])[] = []

  /** Pids known only at the end (a supervisor's current child, from its state file). */
  later(find: () => number[]): void {
    this.lookups.push(find)
  }

  /** A service some command started (by pid file): killed by that pid's group at cleanup. */
  pidFile(path: string): void {
    this.pidFiles.push(path)
  }

  track(pgid: number): void {
    this.groups.add(pgid)
  }

  child(c: ChildProcess): void {
    this.children.push(c)
    if (c.pid) this.track(c.pid)
  }

  tmp(): string {
    const d = mkdtempSync(join(tmpdir(), 'medic-test-'))
    this.dirs.push(d)
    return d
  }

  async cleanup(): Promise<void> {
    for (const f of this.pidFiles) {
      try {
        const pid = Number(readFileSync(f, 'utf8').trim())
        if (pid > 1) this.groups.add(pid)
      } catch {}
    }
    this.pidFiles = []
    for (const find of this.lookups) {
      try {
        for (const pid of find()) if (pid > 1) this.groups.add(pid)
      } catch {}
    }
    this.lookups = []
    for (const g of this.groups) {
      if (g === process.pid || g === process.ppid) continue // a state file may name the test runner itself
      try {
        process.kill(-g, 'SIGKILL')
      } catch {}
      try {
        process.kill(g, 'SIGKILL')
      } catch {}
    }
    await Promise.all(this.children.map((c) => (c.exitCode !== null || c.signalCode !== null ? undefined : new Promise((r) => c.once('exit', r)))))
    await removeCgroupsOf(this.groups)
    this.groups.clear()
    this.children = []
    for (const d of this.dirs) rmSync(d, {recursive: true, force: true})
    this.dirs = []
  }
}

/**
 * The cgroups medic made (`medic-<kind>-…-<pid>-<starttime>`, below the test runner's
 * own cgroup) for a medic this test started and killed: whatever is left in them is
 * killed and they are removed. Others' cgroups are never touched.
 */
async function removeCgroupsOf(pids: ReadonlySet<number>): Promise<void> {
  let parent: string | null = null
  try {
    const mount = readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')).find((f) => f[2] === 'cgroup2')?.[1]
    const own = /^0::(\S*)$/m.exec(readFileSync('/proc/self/cgroup', 'utf8'))?.[1]
    if (mount && own !== undefined) parent = join(mount, own)
  } catch {}
  if (!parent) return
  let names: string[] = []
  try {
    names = readdirSync(parent).filter((n) => {
      const m = /^medic-[a-z]+-(?:.*-)?(\d+)-\d+$/.exec(n)
      return m !== null && pids.has(Number(m[1])) && !alive(Number(m[1]))
    })
  } catch {}
  for (const n of names) {
    const dir = join(parent, n)
    try {
      writeFileSync(join(dir, 'cgroup.kill'), '1')
    } catch {}
    const rm = (d: string): boolean => {
      try {
        for (const e of readdirSync(d, {withFileTypes: true})) if (e.isDirectory()) rm(join(d, e.name))
        rmdirSync(d)
        return true
      } catch (e) {
        return (e as NodeJS.ErrnoException).code === 'ENOENT'
      }
    }
    await until(`cgroup ${dir} removed`, () => rm(dir), 5000)
  }
  // And the empty ones any medic left when it died (what medic's own next run would collect).
  const {collectStale} = await import('../../src/sys/cgroup.js')
  const {procTable} = await import('../../src/sys/proc-table.js')
  collectStale(parent, (pid, st) => procTable.liveness(pid, st) === 'alive')
}

/** Waits for a ready file written by a fixture after its handlers are installed. */
export async function waitReady(file: string, what: string, pred: (r: Ready) => boolean = () => true, timeoutMs = 10_000): Promise<Ready> {
  const until = Date.now() + timeoutMs
  for (;;) {
    try {
      const r = JSON.parse(readFileSync(file, 'utf8')) as Ready
      if (pred(r)) return r
    } catch {}
    if (Date.now() > until) throw new Error(`${what}: not ready within ${timeoutMs}ms (${file})`)
    await new Promise((r) => setTimeout(r, 5))
  }
}

/** The service fixture run by `medic run-dev-safe` (registered, so protected); the job leads its own group. */
export async function startProtectedService(j: Janitor, stateDir: string): Promise<Ready> {
  const ready = join(j.tmp(), 'ready.json')
  const c = spawn(process.execPath, [BIN, 'run-dev-safe', '--state-dir', stateDir, '--no-trace', '--', process.execPath, SERVICE, '--ready', ready], {stdio: 'ignore', detached: true})
  j.child(c)
  const svc = await waitReady(ready, 'protected service')
  j.track(svc.pid) // the job leads its own process group
  return svc
}

/** Starts the service fixture in its own process group and waits until it listens. */
export async function startService(j: Janitor, args: string[] = [], opts: {uid?: number} = {}): Promise<Ready & {child: ChildProcess; readyFile: string}> {
  const ready = join(j.tmp(), 'ready.json')
  const child = spawn(process.execPath, [SERVICE, '--ready', ready, ...args], {
    stdio: ['ignore', 'ignore', 'inherit'],
    detached: true,
    ...(opts.uid !== undefined ? {uid: opts.uid, gid: opts.uid} : {}),
  })
  j.child(child)
  const orphan = args.includes('--orphan')
  const share = args.includes('--share')
  const r = await waitReady(ready, `service ${args.join(' ')}`, (x) => (share ? x.sharedWith !== undefined : !orphan || x.pid !== child.pid))
  if (orphan) j.track(r.pid) // the orphan leads its own session and group
  if (share) j.track(r.sharedWith as number) // so does the child that shares the socket
  return {...r, child, readyFile: ready}
}

/** The state letter of /proc/<pid>/stat (R, S, T, Z …), or null when there is no such process. */
export function procState(pid: number): string | null {
  try {
    const st = readFileSync(`/proc/${pid}/stat`, 'latin1')
    return st.slice(st.lastIndexOf(')') + 2, st.lastIndexOf(')') + 3)
  } catch {
    return null
  }
}

export function alive(pid: number): boolean {
  const state = procState(pid)
  return state !== null && state !== 'Z' && state !== 'X'
}

export interface MedicResult {
  code: number
  stdout: string
  stderr: string
  lines: string[]
}

/** Runs the real CLI as a subprocess, as cron or systemd would. */
export function medic(args: string[], opts: {env?: NodeJS.ProcessEnv; uid?: number; cwd?: string} = {}): Promise<MedicResult> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [BIN, ...args], {
      env: {...process.env, NO_COLOR: '1', ...opts.env},
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: opts.cwd ?? ROOT,
      ...(opts.uid !== undefined ? {uid: opts.uid, gid: opts.uid} : {}),
    })
    let stdout = ''
    let stderr = ''
    c.stdout.on('data', (d) => (stdout += d))
    c.stderr.on('data', (d) => (stderr += d))
    c.on('error', reject)
    c.on('close', (code) => resolve({code: code ?? -1, stdout, stderr, lines: stdout.split('\n').filter((l) => l !== '')}))
  })
}

export const TOKEN_LINE = /^[A-Z0-9_]+_(OK|RECOVERED|ALERT|UNKNOWN): \S/
export const ANY_TOKEN = /[A-Z0-9]_(OK|RECOVERED|ALERT|UNKNOWN)\b/

/** The contract on one run: a token on line 1 and nowhere else. */
export function expectContract(r: MedicResult, token: string): void {
  if (!r.lines[0]?.startsWith(`${token}: `)) throw new Error(`expected line 1 to start with ${token}: got ${JSON.stringify(r.stdout)} (stderr ${r.stderr})`)
  for (const l of r.lines.slice(1)) if (ANY_TOKEN.test(l)) throw new Error(`a token leaked into line: ${l}`)
  if (/^\s+at /m.test(r.stderr) || /^\s+at /m.test(r.stdout)) throw new Error(`stack trace printed: ${r.stderr}`)
}

/** An ephemeral port that was free a moment ago (bind 0, read it, close). */
export async function freePort(): Promise<number> {
  const {createServer} = await import('node:net')
  return new Promise((resolve) => {
    const srv = createServer().listen(0, () => {
      const p = (srv.address() as {port: number}).port
      srv.close(() => resolve(p))
    })
  })
}

/** Polls a condition (a state file, /proc) until it holds; a bounded readiness wait, not a sleep. */
export async function until<T>(what: string, f: () => T | null | undefined | false | Promise<T | null | undefined | false>, ms = 15_000): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = await f()
    if (v) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}
