import {readdirSync, readFileSync, rmdirSync, mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

/**
 * A cgroup v2 made for one job (a supervised service, a run-dev-safe job): the systemd
 * KillMode=control-group idea without systemd. Membership is inherited by every fork and
 * survives setsid, double-fork and reparenting; only a process with write access to a
 * common ancestor's cgroup.procs (root, or the owner of a delegated subtree) can leave.
 * No controller is enabled: membership, `cgroup.freeze` and `cgroup.procs` are core files
 * that work without one.
 *
 * It is made below medic's own cgroup, so the job stays inside whatever slice, scope or
 * service medic runs in (its limits and accounting still apply). Where that cannot be
 * done (not root and no delegated subtree, no cgroup2 mounted) the job runs without one.
 */
export interface Cgroup {
  /** The cgroup's path in the v2 hierarchy, as /proc/<pid>/cgroup shows it (`/…/medic-…`). */
  path: string
  /** Its directory in the mounted hierarchy. */
  dir: string
}

let mount: string | null | undefined

/** Where cgroup2 is mounted: /sys/fs/cgroup (unified) or /sys/fs/cgroup/unified (hybrid). */
export function cgroup2Mount(): string | null {
  if (mount !== undefined) return mount
  mount = null
  try {
    for (const line of readFileSync('/proc/self/mounts', 'utf8').split('\n')) {
      const f = line.split(' ')
      if (f[2] === 'cgroup2') {
        mount = f[1].replace(/\\040/g, ' ')
        break
      }
    }
  } catch {}
  return mount
}

function ownPath(): string | null {
  try {
    const m = /^0::(\S*)$/m.exec(readFileSync('/proc/self/cgroup', 'utf8'))
    return m ? m[1] : null
  } catch {
    return null
  }
}

/** medic's cgroups end in the identity of the medic that made them: `medic-<kind>-…-<pid>-<starttime>`. */
const OURS = /^medic-[a-z]+-(?:.*-)?(\d+)-(\d+)$/

/**
 * Makes `<medic's own cgroup>/medic-<kind>-<label>-<pid>-<starttime>` for the running
 * medic (`self` is its identity); the reason when it cannot. Empty cgroups left by a
 * medic that died without removing its own (SIGKILL) are removed first.
 */
export function makeCgroup(kind: string, label: string, self: {pid: number; startTime: string}, isAlive: (pid: number, startTime: string) => boolean): {ok: true; cgroup: Cgroup} | {ok: false; reason: string} {
  const name = `medic-${kind}-${label ? `${label}-` : ''}${self.pid}-${self.startTime}`
  if (!/^[a-z]+$/.test(kind) || !/^[A-Za-z0-9@._-]{0,100}$/.test(label)) return {ok: false, reason: `bad cgroup name ${JSON.stringify(name)}`}
  const root = cgroup2Mount()
  if (!root) return {ok: false, reason: 'no cgroup2 hierarchy is mounted'}
  const own = ownPath()
  if (own === null) return {ok: false, reason: 'medic is in no cgroup2 cgroup (/proc/self/cgroup has no 0:: line)'}
  collectStale(join(root, own), isAlive)
  const path = `${own === '/' ? '' : own}/${name}`
  const dir = join(root, path)
  try {
    mkdirSync(dir)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code !== 'EEXIST') return {ok: false, reason: `cannot make cgroup ${dir}: ${code}`}
  }
  return {ok: true, cgroup: {path, dir}}
}

/** Removes the empty cgroups (never one with a process: rmdir refuses) that a dead medic made below `parent`. */
export function collectStale(parent: string, isAlive: (pid: number, startTime: string) => boolean): number {
  let removed = 0
  let names: string[] = []
  try {
    names = readdirSync(parent)
  } catch {}
  for (const n of names) {
    const m = OURS.exec(n)
    if (!m || isAlive(Number(m[1]), m[2])) continue
    try {
      rmdirSync(join(parent, n))
      removed++
    } catch {}
  }
  return removed
}

/** Every process in the cgroup and its sub-cgroups. */
export function cgroupPids(cg: Cgroup): number[] {
  const out: number[] = []
  const walk = (dir: string, depth: number) => {
    try {
      for (const l of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n')) if (l) out.push(Number(l))
    } catch {}
    if (depth > 16) return
    try {
      for (const d of readdirSync(dir, {withFileTypes: true})) if (d.isDirectory()) walk(join(dir, d.name), depth + 1)
    } catch {}
  }
  walk(cg.dir, 0)
  return out
}

/** Moves a process into the cgroup (idempotent); false when it cannot. */
export function joinCgroup(cg: Cgroup, pid: number): boolean {
  try {
    writeFileSync(join(cg.dir, 'cgroup.procs'), String(pid))
    return true
  } catch {
    return false
  }
}

/** Freezes (or thaws) every process in it: a frozen process cannot fork, and SIGKILL still ends it. */
export function freezeCgroup(cg: Cgroup, on: boolean): boolean {
  try {
    writeFileSync(join(cg.dir, 'cgroup.freeze'), on ? '1' : '0')
    return true
  } catch {
    return false
  }
}

/** Removes it, with any sub-cgroups, when no process is left in them; false otherwise. */
export function removeCgroup(cg: Cgroup): boolean {
  const rm = (dir: string): boolean => {
    try {
      for (const d of readdirSync(dir, {withFileTypes: true})) if (d.isDirectory()) rm(join(dir, d.name))
      rmdirSync(dir)
      return true
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === 'ENOENT'
    }
  }
  return rm(cg.dir)
}

/**
 * removeCgroup, waiting (`sleep`, at most ~1 s) while no live process is listed but the
 * kernel has not yet released the ones killed a moment ago (the cgroup is still busy).
 */
export async function removeCgroupReleased(cg: Cgroup, sleep: (ms: number) => Promise<void>): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if (removeCgroup(cg)) return true
    if (cgroupPids(cg).length > 0) return false
    await sleep(10)
  }
  return false
}

/**
 * The constant shim a job is started through so it is in its cgroup before its first
 * instruction (and so before it can fork): the shell writes its own pid into
 * cgroup.procs and execs the argument vector. The script is a constant; the cgroup file
 * and the job's argv are positional parameters, never part of the script text. If the
 * write fails the job still starts, and says so on its stderr. The shell exports PWD; it
 * is taken out again unless the job's environment had it (`env` says which).
 */
export function cgroupShim(cg: Cgroup, argv: string[], env: NodeJS.ProcessEnv): string[] {
  const script = 'echo $$ > "$1" 2>/dev/null || echo "medic: could not join cgroup $1" >&2; [ "$2" = keep ] || unset PWD; shift 2; exec "$@"'
  return ['/bin/sh', '-c', script, 'medic-cgroup-shim', join(cg.dir, 'cgroup.procs'), env.PWD === undefined ? 'drop' : 'keep', ...argv]
}

/** The cgroups a job runs in, as a seam for ops (supervise): made for it, removed once released. */
export interface JobCgroups {
  make: typeof makeCgroup
  removeReleased: typeof removeCgroupReleased
}

export const jobCgroups: JobCgroups = {make: makeCgroup, removeReleased: removeCgroupReleased}
