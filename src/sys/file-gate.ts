import {
  closeSync, constants, fchmodSync, fstatSync, fsyncSync, linkSync, lstatSync, mkdirSync, openSync, readFileSync, readlinkSync, readSync, realpathSync, renameSync, statSync, unlinkSync, writeSync,
  type Stats,
} from 'node:fs'
import {basename, dirname, join, resolve, sep} from 'node:path'
import {keepTail, nameVariant, unsafePath, type PathFact} from '../core/file-rules.js'

/**
 * The one gate for every file medic appends to, moves, creates beside others, or deletes.
 *
 * - Appends open with O_NOFOLLOW (a planted symlink is refused, never written through)
 *   and O_NONBLOCK (a planted FIFO cannot block medic), then must be a regular file with
 *   one link (a planted hard link is refused) and, as root, owned by root. A file medic
 *   creates gets its mode with fchmod, whatever the umask.
 * - Nothing is overwritten: moves are link() to a free name then unlink(); new files
 *   beside others are written to a temporary name and link()ed to a free name; a claim
 *   renames only to a fresh private name, then links to a free visible one.
 * - Deletes remove only the file that was judged: same device and inode, still a
 *   regular file.
 *
 * Every refusal or failure is a FileError naming the path and why.
 */

export class FileError extends Error {
  constructor(readonly path: string, readonly code: string, why: string) {
    super(`${path}: ${why}`)
  }
}

/** Logs are readable by the owner's group (adm-style readers); the child's own output only by its owner. */
export const LOG_MODE = 0o640
export const PRIVATE_MODE = 0o600

const code = (e: unknown): string => (e as NodeJS.ErrnoException).code ?? 'EIO'

function fail(path: string, e: unknown): FileError {
  if (e instanceof FileError) return e
  const c = code(e)
  const why = c === 'ELOOP' ? 'a symlink: refused (medic never writes through one)' : c === 'ENXIO' ? 'a FIFO or device with no reader: refused' : `${c}${(e as Error).message ? ` (${(e as Error).message.replace(/^[A-Z]+: /, '').split(',')[0]})` : ''}`
  return new FileError(path, c, why)
}

/**
 * mkdir -p, one component at a time: Node's own recursive mkdir spins forever where a
 * parent exists but refuses children (`--state-dir /proc/x`).
 */
export function ensureDir(dir: string): void {
  try {
    mkdirSync(dir, {mode: 0o755})
  } catch (e) {
    if (code(e) === 'EEXIST') return
    const parent = dirname(dir)
    if (code(e) !== 'ENOENT' || parent === dir) throw e
    ensureDir(parent)
    try {
      mkdirSync(dir, {mode: 0o755})
    } catch (e2) {
      if (code(e2) !== 'EEXIST') throw e2
    }
  }
}

/** The folder of `path`, created if need be; a failure names `path`. */
function mkdirFor(path: string): void {
  try {
    ensureDir(dirname(path))
  } catch (e) {
    throw new FileError(path, code(e), `cannot create its folder: ${code(e)}`)
  }
}

const euid = (): number => process.geteuid?.() ?? 0

/** A directory as the walk found it: its real path (no symlink left in it) and its identity. */
export interface WalkedDir {
  real: string
  dev: number
  ino: number
}

/**
 * The openat-like walk (Node has no openat): `dir` is resolved from / one component at a
 * time with lstat, and every component must be one no other user can change — owned by
 * root or `self`, and, if a directory, not writable by its group or others unless sticky
 * (core unsafePath with `target: false`). A symlink is followed only when root or `self`
 * owns it (it sits in a directory already judged, so no one else can re-point it); its
 * target is walked the same way. With `create`, a missing component is made (0755) and
 * judged like any other — one another user made first is refused.
 *
 * Why this closes the race between the check and the act: every directory on the real
 * path is, when judged, one only root or `self` can change, and a top-down walk judges a
 * parent before its child, so from the moment the walk ends no other user can rename,
 * replace or re-point anything on that path. The act then uses the real path (no symlink
 * left to follow), and the callers re-read the directory's device and inode after acting
 * (sameDir) and the fd's own path after an open (fdAt) as a second, cheap proof.
 */
export function walkDir(dir: string, o: {create?: boolean; self?: number; label?: string} = {}): WalkedDir {
  const self = o.self ?? euid()
  const label = o.label ?? dir
  const pending = resolve(dir).split(sep).filter(Boolean)
  let cur: string = sep
  let st = lstatSync(sep)
  const judge = (p: string, s: Stats): void => {
    const why = unsafePath([{path: p, uid: s.uid, mode: s.mode, symlink: s.isSymbolicLink(), target: false}], self)
    if (why) throw new FileError(label, 'EPERM', `refused: ${why}${p === label ? '' : ' (on its path)'}`)
  }
  judge(cur, st)
  let hops = 0
  while (pending.length) {
    const name = pending.shift()!
    if (name === '.') continue
    if (name === '..') {
      cur = dirname(cur) // cur holds no symlink: its parent is the one already walked
      st = lstatSync(cur)
      continue
    }
    const p = join(cur, name)
    let s = lstatOrNull(p)
    if (!s) {
      if (!o.create) throw new FileError(label, 'ENOENT', `${p} does not exist`)
      try {
        mkdirSync(p, {mode: 0o755})
      } catch (e) {
        if (code(e) !== 'EEXIST') throw new FileError(label, code(e), `cannot create its folder ${p}: ${code(e)}`)
      }
      s = lstatSync(p)
    }
    judge(p, s)
    if (s.isSymbolicLink()) {
      if (++hops > 40) throw new FileError(label, 'ELOOP', 'too many symlinks on its path')
      const to = readlinkSync(p)
      pending.unshift(...to.split(sep).filter(Boolean))
      if (to.startsWith(sep)) {
        cur = sep
        st = lstatSync(sep)
      }
      continue
    }
    if (!s.isDirectory()) throw new FileError(label, 'ENOTDIR', `${p} is not a directory`)
    cur = p
    st = s
  }
  return {real: cur, dev: st.dev, ino: st.ino}
}

/** Is the walked directory still the one at its real path? Throws FileError naming `label` if not. */
function sameDir(w: WalkedDir, label: string): void {
  const now = lstatOrNull(w.real)
  if (!now || !now.isDirectory() || now.dev !== w.dev || now.ino !== w.ino) throw new FileError(label, 'ESTALE', `its folder ${w.real} was replaced while medic acted: refused`)
}

/** Does the fd lead where medic opened it (its real path)? The kernel's own answer, /proc/self/fd. */
function fdAt(fd: number, at: string): boolean {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`) === at
  } catch {
    return false
  }
}

/**
 * Where medic acts on `path`: its folder (walked as root, created if `create`) and the
 * path to act on — the real one as root, so no symlink is followed between the check
 * and the act. Not root: the path as given (the folder created if need be).
 */
function place(path: string, create: boolean): {dir: WalkedDir | null; at: string} {
  if (euid() !== 0) {
    if (create) {
      try {
        ensureDir(dirname(path))
      } catch (e) {
        throw new FileError(path, code(e), `cannot create its folder: ${code(e)}`)
      }
    }
    return {dir: null, at: path}
  }
  const dir = walkDir(dirname(path), {create, label: path})
  return {dir, at: join(dir.real, basename(path))}
}

/**
 * A small file's text, read only when no other user can change it: the walk above for
 * its folder, then the file itself — not a symlink, a regular file owned by root or
 * `self`, not writable by its group or others — read from the fd that was judged.
 * For files that decide what medic runs (the config file). Throws FileError.
 */
export function readTrusted(path: string, self = euid(), maxBytes = 1024 * 1024): string {
  const dir = walkDir(dirname(path), {self, label: path})
  const at = join(dir.real, basename(path))
  let fd: number
  try {
    fd = openSync(at, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  } catch (e) {
    throw fail(path, e)
  }
  try {
    const st = fstatSync(fd)
    const why = !st.isFile() ? 'not a regular file' : unsafePath([{path, uid: st.uid, mode: st.mode, symlink: false, target: true}], self)
    if (why) throw new FileError(path, 'EPERM', `refused: ${why}`)
    if (!fdAt(fd, at)) throw new FileError(path, 'ESTALE', 'replaced while being opened: refused')
    sameDir(dir, path)
    return readFileSync(fd, 'utf8').slice(0, maxBytes)
  } catch (e) {
    throw fail(path, e)
  } finally {
    closeSync(fd)
  }
}

/** An fd open for appending to `path`, created with `mode` if absent. Throws FileError. */
export function openAppend(path: string, mode = LOG_MODE): number {
  // O_RDWR, not O_WRONLY: a capped log re-reads itself through this same fd.
  const {O_RDWR, O_APPEND, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK} = constants
  mkdirFor(path)
  for (let attempt = 0; ; attempt++) {
    let fd: number
    try {
      fd = openSync(path, O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_NOFOLLOW, mode)
      try {
        fchmodSync(fd, mode)
      } catch (e) {
        closeSync(fd)
        throw e
      }
      return fd
    } catch (e) {
      if (code(e) !== 'EEXIST') throw fail(path, e)
    }
    try {
      fd = openSync(path, O_RDWR | O_APPEND | O_NOFOLLOW | O_NONBLOCK)
    } catch (e) {
      if (code(e) === 'ENOENT' && attempt < 3) continue // removed between the two opens
      throw fail(path, e)
    }
    const st = fstatSync(fd)
    const refuse = !st.isFile() ? 'not a regular file: refused' : st.nlink !== 1 ? `has ${st.nlink} hard links: refused (one may be planted)` : euid() === 0 && st.uid !== 0 ? `owned by uid ${st.uid}, not root: refused` : null
    if (refuse) {
      closeSync(fd)
      throw new FileError(path, 'EPERM', refuse)
    }
    return fd
  }
}

/**
 * Appends `data`; past `maxBytes` the oldest part goes (keepTail), rewritten from what
 * was read through the same fd into a new file of the same mode — never a copy of what
 * a swapped path points at. Throws FileError.
 */
export function appendCapped(path: string, data: string | Uint8Array, maxBytes = Infinity, mode = LOG_MODE): void {
  const fd = openAppend(path, mode)
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data)
    const st = fstatSync(fd)
    if (st.size > maxBytes) rotate(path, fd, st, maxBytes)
  } catch (e) {
    throw fail(path, e)
  } finally {
    closeSync(fd)
  }
}

function rotate(path: string, fd: number, st: Stats, maxBytes: number): void {
  const text = Buffer.alloc(st.size)
  let off = 0
  while (off < st.size) {
    const n = readSync(fd, text, off, st.size - off, off)
    if (n === 0) break
    off += n
  }
  const tail = keepTail(text.subarray(0, off), maxBytes)
  const tmp = tempName(path)
  writeTemp(tmp, tail, st.mode & 0o7777)
  try {
    // Replace the log only if the path still names the file read.
    const now = lstatSync(path)
    if (now.ino !== st.ino || now.dev !== st.dev) throw new FileError(path, 'ESTALE', 'replaced while being capped: left alone')
    renameSync(tmp, path)
  } catch (e) {
    unlinkQuiet(tmp)
    throw e
  }
}

let tmpCounter = 0

/** A fresh name in the same directory, medic's own pattern: `.<name>.<pid>.<n><rand>.tmp`. */
function tempName(path: string): string {
  // No node:crypto for the suffix: it costs ~2.5 ms of start-up; O_EXCL refuses a clash anyway.
  return join(dirname(path), `.${basename(path).slice(0, 180)}.${process.pid}.${(++tmpCounter).toString(36)}${Math.random().toString(36).slice(2, 8)}.tmp`)
}

/** Writes a whole temporary file (O_EXCL, exact mode, fsync); on any failure nothing is left behind. */
function writeTemp(tmp: string, data: string | Uint8Array, mode: number): void {
  let fd: number
  try {
    fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode)
  } catch (e) {
    throw fail(tmp, e)
  }
  try {
    fchmodSync(fd, mode)
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data)
    fsyncSync(fd)
  } catch (e) {
    closeSync(fd)
    unlinkQuiet(tmp)
    throw fail(dirname(tmp), e)
  }
  closeSync(fd)
}

/**
 * State and metrics files: a temporary file in the same directory, then rename over the
 * old one, so readers see the old or the new file, never half. The mode is exact. On a
 * full or read-only disk it throws FileError naming `path`, and leaves no temporary.
 */
export function writeFileAtomic(path: string, data: string, mode = 0o644): void {
  mkdirFor(path)
  const tmp = tempName(path)
  try {
    writeTemp(tmp, data, mode)
  } catch (e) {
    throw new FileError(path, (e as FileError).code, `cannot write: ${(e as FileError).code}`)
  }
  try {
    renameSync(tmp, path)
  } catch (e) {
    unlinkQuiet(tmp)
    throw fail(path, e)
  }
}

/**
 * Creates a new file in `dir` under `name` or its first free variant (nameVariant), written
 * whole before it appears. Never replaces anything. Returns its path.
 */
export function writeNew(dir: string, name: string, data: string, mode = 0o644): string {
  mkdirFor(join(dir, name))
  const tmp = tempName(join(dir, name))
  writeTemp(tmp, data, mode)
  try {
    return linkFree(tmp, dir, name)
  } finally {
    unlinkQuiet(tmp)
  }
}

/** link(src, first free variant of dir/name): EEXIST moves on to the next name. */
function linkFree(src: string, dir: string, name: string, variant: (name: string, i: number) => string = nameVariant): string {
  for (let i = 0; i < 10_000; i++) {
    const target = join(dir, variant(name, i))
    try {
      linkSync(src, target)
      return target
    } catch (e) {
      if (code(e) !== 'EEXIST') throw fail(target, e)
    }
  }
  throw new FileError(join(dir, name), 'EEXIST', 'no free name')
}

/**
 * Moves a regular file into `dir` under `name` (or its first free variant): link, then
 * unlink the source. Never over an existing file. Returns the new path, or null when the
 * source vanished first (another mover took it; its copy is the one that stays).
 */
export function moveNoClobber(src: string, dir: string, name = basename(src), variant?: (name: string, i: number) => string): string | null {
  const st = lstatOrNull(src)
  if (!st) return null
  if (!st.isFile()) throw new FileError(src, 'EPERM', 'not a regular file: not moved')
  mkdirFor(join(dir, name))
  const target = linkFree(src, dir, name, variant)
  try {
    unlinkSync(src)
  } catch (e) {
    if (code(e) === 'ENOENT') {
      unlinkQuiet(target)
      return null
    }
    unlinkQuiet(target)
    throw fail(src, e)
  }
  return target
}

/**
 * Takes `src` away from every other claimer: one rename to a fresh private name in
 * `dir` (medic's temporary pattern, which nothing else uses, checked absent), then a
 * link to `name` or its first free variant — an existing file there is never replaced.
 * Returns the claimed path, or null when another claimer was first.
 */
export function claim(src: string, dir: string, name = basename(src)): string | null {
  const st = lstatOrNull(src)
  if (!st) return null
  if (!st.isFile()) throw new FileError(src, 'EPERM', 'not a regular file: not claimed')
  mkdirFor(join(dir, name))
  let priv = tempName(join(dir, name))
  while (lstatOrNull(priv)) priv = tempName(join(dir, name))
  try {
    renameSync(src, priv)
  } catch (e) {
    if (code(e) === 'ENOENT') return null
    throw fail(src, e)
  }
  try {
    return linkFree(priv, dir, name)
  } catch (e) {
    // Put it back where it came from rather than lose it.
    try {
      linkSync(priv, src)
      unlinkQuiet(priv)
    } catch {}
    throw e
  } finally {
    if (lstatOrNull(priv)) unlinkQuiet(priv)
  }
}

/** The identity a deletion is judged on. */
export interface Seen {
  dev: number
  ino: number
}

/**
 * Deletes `path` only if it is still the regular file that was judged (same device and
 * inode), and — when `within` is given — only if its directory still resolves inside
 * `within` (a directory swapped for a symlink mid-walk is not followed out).
 */
export function removeJudged(path: string, seen: Seen, within?: string): void {
  const st = lstatOrNull(path)
  if (!st) throw new FileError(path, 'ENOENT', 'gone before removal')
  if (!st.isFile() || st.dev !== seen.dev || st.ino !== seen.ino) throw new FileError(path, 'ESTALE', 'replaced since it was judged: left alone')
  if (within !== undefined) {
    let real: string
    try {
      real = realpathSync(dirname(path))
    } catch (e) {
      throw fail(path, e)
    }
    const root = realpathSync(within)
    if (real !== root && !real.startsWith(root.endsWith(sep) ? root : root + sep)) throw new FileError(path, 'EXDEV', `now resolves outside ${within}: left alone`)
  }
  try {
    unlinkSync(path)
  } catch (e) {
    throw fail(path, e)
  }
}

/** The identity of what is at `path` now (no symlink followed), to remove it later with removeJudged. */
export function identify(path: string): Seen | null {
  const st = lstatOrNull(path)
  return st ? {dev: st.dev, ino: st.ino} : null
}

/** Removes a flag file once: true if this call removed it (a symlink is removed, never followed). */
export function consume(path: string): boolean {
  try {
    unlinkSync(path)
    return true
  } catch {
    return false
  }
}

function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path)
  } catch {
    return null
  }
}

function unlinkQuiet(path: string): void {
  try {
    unlinkSync(path)
  } catch {}
}

/**
 * Run as root, a state dir that another user can change is refused (core unsafePath):
 * every component of the path as given (lstat: a symlink is judged by its owner) and of
 * where it really leads (stat). Components that do not exist yet are created by medic.
 * Returns why, or null. Not root: null (the directory is the user's own business).
 */
export function unsafeStateDir(dir: string, self = euid()): string | null {
  if (self !== 0) return null
  const abs = resolve(dir)
  const facts: PathFact[] = []
  const parts = abs.split(sep).filter(Boolean)
  for (let i = parts.length; i >= 0; i--) {
    const p = sep + parts.slice(0, i).join(sep)
    const st = lstatOrNull(p)
    if (st) facts.push({path: p, uid: st.uid, mode: st.mode, symlink: st.isSymbolicLink(), target: p === abs})
  }
  let real: string | null = null
  try {
    real = realpathSync(abs)
  } catch {}
  if (real && real !== abs) {
    const rparts = real.split(sep).filter(Boolean)
    for (let i = rparts.length; i >= 0; i--) {
      const p = sep + rparts.slice(0, i).join(sep)
      try {
        const st = statSync(p)
        facts.push({path: p, uid: st.uid, mode: st.mode, symlink: false, target: p === real})
      } catch {}
    }
  }
  return unsafePath(facts, self)
}
