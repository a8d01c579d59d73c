import {accessSync, closeSync, constants, lstatSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, realpathSync, rmSync, unlinkSync, writeSync, existsSync} from 'node:fs'
import {homedir, tmpdir} from 'node:os'
import {basename, dirname, join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'
import type {Manifest, OnDisk} from '../core/units-manifest.js'
import type {HostFacts} from '../core/units-plan.js'
import {SANE_PATH} from '../core/units.js'
import {StateLayout} from './state-layout.js'
import {readJson, writeFileAtomic} from './state-store.js'
import {FileError, makeDirs, refusedPlace, removeEmptyDir, removeExact, writeExact} from './file-gate.js'
import {describeExec, run, type ExecResult} from './exec.js'
import type {ProcessTable} from './proc-table.js'

/**
 * The files medic install writes and removes, through the file gate (sys/file-gate.ts):
 * as root each folder is walked from / and held by its fd, so another user's symlink or
 * folder on the path is refused; never through a symlink at the last component; written
 * atomically (temporary file in the same directory, fsync, link or rename), and only over
 * exactly the bytes the caller says medic wrote there before. One implementation; the ownership
 * rules themselves are core/units-manifest.ts.
 */
export interface InstallFiles {
  read(path: string): OnDisk
  /** `expect`: null = the path must not exist; a string = it must hold exactly that. */
  write(path: string, text: string, mode: number, expect: string | null): {ok: true; createdDirs: string[]} | {ok: false; detail: string}
  /** Removes the file only while it holds exactly `expect`. */
  remove(path: string, expect: string): {ok: boolean; detail: string}
  mkdirs(path: string): {ok: true; created: string[]} | {ok: false; detail: string}
  /** Why medic must not write at `path`: as root, a folder on its path another user controls (the file gate's walk), or null. */
  refused(path: string, isDir?: boolean): string | null
  /** rmdir: only an empty directory goes. */
  rmdirIfEmpty(path: string): boolean
  mtimeMs(path: string): number | null
  /** Can this process append to `path` (or create it in its directory)? Never through a symlink. */
  writable(path: string): {ok: boolean; detail: string}
  readIfFile(path: string): string | null
  list(dir: string): string[]
}

const flagsNoFollow = constants.O_RDONLY | constants.O_NOFOLLOW

function readDisk(path: string): OnDisk {
  let st
  try {
    st = lstatSync(path)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return {kind: 'missing'}
    return {kind: 'error', detail: code ?? (e as Error).message}
  }
  if (st.isSymbolicLink()) return {kind: 'symlink'}
  if (!st.isFile()) return {kind: 'other', what: st.isDirectory() ? 'a directory' : 'not a regular file'}
  let fd: number | undefined
  try {
    fd = openSync(path, flagsNoFollow)
    return {kind: 'file', text: readFileSync(fd, 'utf8'), mode: st.mode & 0o7777, uid: st.uid}
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    return code === 'ELOOP' ? {kind: 'symlink'} : {kind: 'error', detail: code ?? (e as Error).message}
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}

function mkdirs(path: string): {ok: true; created: string[]} | {ok: false; detail: string} {
  try {
    return {ok: true, created: makeDirs(path)}
  } catch (e) {
    return {ok: false, detail: e instanceof FileError ? e.message : `cannot create ${path}: ${(e as Error).message}`}
  }
}

export const installFiles: InstallFiles = {
  read: readDisk,
  write(path, text, mode, expect) {
    const d = readDisk(path)
    if (expect === null ? d.kind !== 'missing' : d.kind !== 'file' || d.text !== expect) {
      return {ok: false, detail: `${path} ${expect === null ? 'appeared' : 'changed'} while medic was writing it; not overwriting`}
    }
    try {
      return {ok: true, createdDirs: writeExact(path, text, mode, expect)}
    } catch (e) {
      return {ok: false, detail: e instanceof FileError ? e.message : `cannot write ${path}: ${(e as Error).message}`}
    }
  },
  remove(path, expect) {
    try {
      return removeExact(path, expect) ? {ok: true, detail: `removed ${path}`} : {ok: true, detail: `${path} was already gone`}
    } catch (e) {
      return {ok: false, detail: e instanceof FileError ? e.message : `cannot remove ${path}: ${(e as Error).message}`}
    }
  },
  refused: refusedPlace,
  mkdirs,
  rmdirIfEmpty: removeEmptyDir,
  mtimeMs(path) {
    try {
      return lstatSync(path).mtimeMs
    } catch {
      return null
    }
  },
  writable(path) {
    const d = readDisk(path)
    if (d.kind === 'symlink') return {ok: false, detail: `${path} is a symlink (medic never appends through one)`}
    if (d.kind === 'other' || d.kind === 'error') return {ok: false, detail: `${path}: ${d.kind === 'other' ? d.what : d.detail}`}
    let dir = d.kind === 'missing' ? dirname(path) : path
    // A missing log is created with its directory: the nearest existing ancestor must be writable.
    while (d.kind === 'missing' && !existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir)
    try {
      accessSync(dir, constants.W_OK)
      return {ok: true, detail: d.kind === 'missing' ? `${path} not written yet; ${dir} is writable` : `${path} is writable`}
    } catch (e) {
      return {ok: false, detail: `${d.kind === 'missing' ? dir : path} is not writable: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`}
    }
  },
  readIfFile(path) {
    const d = readDisk(path)
    return d.kind === 'file' ? d.text : null
  },
  list(dir) {
    try {
      return readdirSync(dir)
    } catch {
      return []
    }
  },
}

/** systemctl and systemd-analyze, for the system manager or the caller's user manager. */
export interface SystemdCtl {
  systemctl(args: string[], user: boolean, timeoutMs?: number): Promise<ExecResult>
  /**
   * `systemd-analyze verify` on units before they are installed: copies in a private temp
   * dir (the hardening drop-in next to a copy of the unit it hardens), so nothing is written
   * where systemd looks until they pass.
   */
  analyze(files: {name: string; text: string}[], user: boolean): Promise<{ok: boolean; detail: string}>
}

export const systemdCtl: SystemdCtl = {
  systemctl(args, user, timeoutMs = 30_000) {
    return run(['systemctl', ...(user ? ['--user'] : []), ...args], {timeoutMs})
  },
  async analyze(files, user) {
    const dir = mkdtempSync(join(tmpdir(), 'medic-analyze-'))
    try {
      const tops: string[] = []
      for (const f of files) {
        const p = join(dir, f.name)
        mkdirSync(dirname(p), {recursive: true})
        const fd = openSync(p, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644)
        writeSync(fd, f.text)
        closeSync(fd)
        if (!f.name.includes('/')) tops.push(p)
      }
      const r = await run(['systemd-analyze', ...(user ? ['--user'] : []), 'verify', ...tops], {timeoutMs: 30_000})
      const out = `${r.stderr}${r.stdout}`.split(dir + '/').join('').trim()
      // Warnings (an unknown key, a missing executable) are failures too: medic wrote them.
      if (r.missing) return {ok: false, detail: 'systemd-analyze not found'}
      return {ok: r.code === 0 && !r.timedOut && out === '', detail: out === '' ? describeExec(r) : out.split('\n').slice(0, 4).join('; ')}
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  },
}

/** The caller's own crontab (`crontab -l` / `crontab -`), for a non-root cron install. */
export interface UserCrontab {
  read(): Promise<{ok: true; text: string} | {ok: false; detail: string}>
  write(text: string): Promise<{ok: boolean; detail: string}>
}

export const userCrontab: UserCrontab = {
  async read() {
    const r = await run(['crontab', '-l'], {timeoutMs: 10_000})
    if (r.missing) return {ok: false, detail: 'crontab not found (install cron)'}
    if (r.code === 0) return {ok: true, text: r.stdout}
    if (/no crontab for/i.test(r.stderr)) return {ok: true, text: ''}
    return {ok: false, detail: `crontab -l: ${describeExec(r)}`}
  },
  async write(text) {
    const r = await run(['crontab', '-'], {timeoutMs: 10_000, input: text})
    return {ok: r.code === 0 && !r.timedOut, detail: `crontab -: ${describeExec(r)}`}
  },
}

/** Facts about this machine the plan needs. */
export function hostFacts(stateDir: string, wslConf = '/etc/wsl.conf', env: NodeJS.ProcessEnv = process.env): HostFacts {
  const runJs = realpathSync(fileURLToPath(new URL('../../bin/run.js', import.meta.url)))
  return {
    medic: [realpathSync(process.execPath), runJs],
    root: (process.getuid?.() ?? 0) === 0,
    uid: process.geteuid?.() ?? 0,
    hasSystemd: existsSync('/run/systemd/system'),
    stateDir,
    systemUnitDir: '/etc/systemd/system',
    userUnitDir: join(env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config'), 'systemd', 'user'),
    cronDir: '/etc/cron.d',
    wslConf,
    installLog: (dir, name) => new StateLayout(dir).installLog(name),
    recordDirs: (dir) => [new StateLayout(dir).installDir, new StateLayout(dir).lastDir],
    real: realOrNull,
  }
}

/** Where `path` really leads: its nearest existing folder resolved (realpath), the rest appended; null if that fails. */
export function realOrNull(path: string): string | null {
  const rest: string[] = []
  for (let p = resolve(path); ; p = dirname(p)) {
    try {
      return join(realpathSync(p), ...rest)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(p) === p) return null
      rest.unshift(basename(p))
    }
  }
}

/** A command line run once as cron would run it: no shell, a sane PATH and the given environment. */
export async function runOnce(argv: string[], env: Record<string, string>, timeoutMs: number): Promise<{ok: boolean; detail: string}> {
  const r = await run(argv, {timeoutMs, env: {PATH: SANE_PATH, HOME: process.env.HOME ?? '/', LANG: 'C.UTF-8', ...env}})
  return {ok: !r.missing && !r.timedOut && r.code !== null, detail: `${basename(argv[1] ?? argv[0])} … ${describeExec(r)}`}
}

/** Is a cron daemon running (cron, crond, cronie, busybox crond)? */
export function cronRunning(procs: ProcessTable): boolean {
  return procs.list().some((pid) => /^(cron|crond)$/.test(procs.stat(pid)?.comm ?? ''))
}

/** The manifests of medic install, one per name: `<state-dir>/install/<name>.json`. */
export interface ManifestStore {
  read(name: string): Manifest | null
  write(m: Manifest): {ok: boolean; detail: string}
  remove(name: string): void
  names(): string[]
  path(name: string): string
}

export function manifestStore(layout: StateLayout): ManifestStore {
  return {
    read(name) {
      const m = readJson<Manifest>(layout.installManifest(name))
      return m && m.version === 1 && m.name === name ? m : null
    },
    write(m) {
      try {
        writeFileAtomic(layout.installManifest(m.name), JSON.stringify(m, null, 2) + '\n', 0o600)
        return {ok: true, detail: `manifest ${layout.installManifest(m.name)}`}
      } catch (e) {
        return {ok: false, detail: `cannot write the manifest ${layout.installManifest(m.name)}: ${(e as Error).message}`}
      }
    },
    remove(name) {
      try {
        unlinkSync(layout.installManifest(name))
      } catch {}
    },
    names() {
      try {
        return readdirSync(layout.installDir).filter((n) => /^[A-Za-z0-9][A-Za-z0-9_-]*\.json$/.test(n)).map((n) => n.slice(0, -5)).sort()
      } catch {
        return []
      }
    },
    path: (name) => layout.installManifest(name),
  }
}
