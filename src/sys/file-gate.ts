import {
  closeSync, constants, fchmodSync, fstatSync, fsyncSync, linkSync, lstatSync, mkdirSync, openSync, readFileSync, readlinkSync, readSync, realpathSync, renameSync, rmdirSync, statSync, unlinkSync, writeSync,
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
 * - As root, every folder medic writes, moves or deletes in is walked from / and held by
 *   its fd (walkDir), and the act goes through that fd: another user's symlink on the path,
 *   or a final folder another user owns or can write, is refused; nothing swapped in after
 *   the walk is followed.
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
  if (euid() === 0) {
    walkDir(dir, {create: true}).close() // as root: made and judged one component at a time
    return
  }
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

const euid = (): number => process.geteuid?.() ?? 0

/**
 * A directory medic holds open while it acts in it. As root, `at(name)` is
 * `/proc/self/fd/<fd>/<name>`: Linux resolves that magic link to the very directory the
 * fd holds (Node has no openat; this is the same thing), so no rename or symlink planted
 * on its path after the walk can redirect the act. Not root: `<dir>/<name>`.
 */
export interface HeldDir {
  /** Its real path when it was walked (for messages). */
  real: string
  at(name: string): string
  close(): void
}

/**
 * The openat-like walk: `dir` is opened from / one component at a time, each name
 * through its parent's fd (O_DIRECTORY|O_NOFOLLOW), and what is judged is what the fd
 * holds (fstat) — nothing can be swapped between the look and the act. A symlink is followed only when root or `self` owns it (read, then lstat'd
 * again: the same inode, or refused), its target walked the same way. With `create`, a
 * missing component is made (0755) and judged like any other — one another user made
 * first is refused. The directory reached must be owned by root or `self`, and not
 * writable by every user unless sticky (core unsafePath; its group may write it). With `strict`, every
 * directory on the way is judged so (the config file, §3.3); otherwise the ones above
 * are not: medic holds each by its fd, so whoever owns them cannot redirect it any more.
 */
export function walkDir(dir: string, o: {create?: boolean; self?: number; label?: string; strict?: boolean} = {}): HeldDir {
  const self = o.self ?? euid()
  const label = o.label ?? dir
  const O = constants.O_RDONLY | constants.O_DIRECTORY
  const judge = (p: string, st: Stats, final: boolean): void => {
    if (!final && !o.strict && !st.isSymbolicLink()) return
    // The folder medic writes in may be writable by its group (Ubuntu's /var/log is root:syslog 0775): what a member could plant
    // there, the gate refuses file by file (O_NOFOLLOW, one link, root's own file, device and inode). Not by every user, unless sticky.
    const mode = final && !o.strict && st.isDirectory() ? st.mode & ~0o020 : st.mode
    const why = unsafePath([{path: p, uid: st.uid, mode, symlink: st.isSymbolicLink(), target: false}], self)
    if (why) throw new FileError(label, 'EPERM', `refused: ${why}${p === label ? '' : ' (on its path)'}`)
  }
  const names = (p: string) => p.split(sep).filter((n) => n && n !== '.')
  const pending = names(resolve(dir))
  let fd = openSync(sep, O)
  let cur: string = sep
  const swap = (next: number, path: string): Stats => {
    closeSync(fd)
    fd = next
    cur = path
    return fstatSync(fd)
  }
  try {
    judge(sep, fstatSync(fd), pending.length === 0)
    let hops = 0
    while (pending.length) {
      const name = pending.shift()!
      const via = `/proc/self/fd/${fd}/${name}`
      if (name === '..') {
        const st = swap(openSync(via, O), dirname(cur))
        if (!pending.length) judge(cur, st, true)
        continue
      }
      const p = join(cur, name)
      // Open first (one syscall on the common path); only a refusal to open says what is there.
      let next = openDir(via)
      if (next === 'ENOENT' && o.create) {
        try {
          mkdirSync(via, {mode: 0o755})
        } catch (e) {
          if (code(e) !== 'EEXIST') throw new FileError(label, code(e), `cannot create its folder ${p}: ${code(e)}`)
        }
        next = openDir(via)
      }
      if (next === 'ENOENT') throw new FileError(label, 'ENOENT', `${p} does not exist`)
      if (typeof next === 'string') {
        const seen = lstatOrNull(via)
        if (!seen?.isSymbolicLink()) {
          const notDir = !!seen && !seen.isDirectory()
          throw new FileError(label, notDir ? 'ENOTDIR' : next, notDir ? `${p} is not a directory` : `${p}: cannot be opened (${next})`)
        }
        judge(p, seen, false)
        if (++hops > 40) throw new FileError(label, 'ELOOP', 'too many symlinks on its path')
        const to = readlinkSync(via)
        const again = lstatOrNull(via)
        if (!again || again.dev !== seen.dev || again.ino !== seen.ino) throw new FileError(label, 'ESTALE', `${p} changed while medic read it: refused`)
        pending.unshift(...names(to))
        if (to.startsWith(sep)) {
          const st = swap(openSync(sep, O), sep)
          if (!pending.length) judge(sep, st, true)
        }
        continue
      }
      judge(p, swap(next, p), pending.length === 0) // what is judged is what the fd holds
    }
  } catch (e) {
    closeSync(fd)
    throw e instanceof FileError ? e : fail(label, e)
  }
  const held = fd
  let open = true
  return {
    real: cur,
    at: (name) => `/proc/self/fd/${held}/${name}`,
    close: () => {
      if (open) closeSync(held)
      open = false
    },
  }
}

/** An fd on the directory at `via` (O_NOFOLLOW: a symlink is not opened), or why not (the errno code). */
function openDir(via: string): number | string {
  try {
    return openSync(via, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW)
  } catch (e) {
    return code(e)
  }
}

/**
 * Where medic acts on `path`: its folder, walked and held as root (created if `create`),
 * and the path to act on through it. Not root: the path as given (the folder created if
 * need be). The caller closes `dir`.
 */
function place(path: string, create: boolean): {dir: HeldDir; at: string} {
  if (euid() !== 0) {
    if (create) {
      try {
        ensureDir(dirname(path))
      } catch (e) {
        throw new FileError(path, code(e), `cannot create its folder: ${code(e)}`)
      }
    }
    const d = dirname(path)
    return {dir: {real: d, at: (n) => join(d, n), close: () => {}}, at: path}
  }
  const dir = walkDir(dirname(path), {create, label: path})
  return {dir, at: dir.at(basename(path))}
}

/** Where a file to move sits (place, no folder made); null when its folder is gone. */
function placeFrom(src: string): {dir: HeldDir; at: string} | null {
  try {
    return place(src, false)
  } catch (e) {
    if (e instanceof FileError && e.code === 'ENOENT') return null
    throw e
  }
}

/**
 * Why medic, as root, must not write, move or delete in `dir` (walkDir's refusal), or
 * null: not root, a directory no other user can change, or no directory there at all
 * (the caller says that). For commands handed a directory (--dir, --ops-dir), so they
 * refuse it whole, before acting, rather than file by file.
 */
export function refusedDir(dir: string): string | null {
  if (euid() !== 0) return null
  try {
    walkDir(dir).close()
    return null
  } catch (e) {
    if (e instanceof FileError && e.code !== 'ENOENT') return e.message
    return null
  }
}

/**
 * A small file's text, read only when no other user can change it: the walk above for
 * its folder, then the file itself — not a symlink, a regular file owned by root or
 * `self`, not writable by its group or others — read from the fd that was judged.
 * For files that decide what medic runs (the config file). Throws FileError.
 */
export function readTrusted(path: string, self = euid(), maxBytes = 1024 * 1024): string {
  const dir = walkDir(dirname(path), {self, label: path, strict: true})
  let fd: number
  try {
    fd = openSync(dir.at(basename(path)), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  } catch (e) {
    dir.close()
    throw fail(path, e)
  }
  try {
    const st = fstatSync(fd)
    const why = !st.isFile() ? 'not a regular file' : st.size > maxBytes ? `larger than ${maxBytes} bytes` : unsafePath([{path, uid: st.uid, mode: st.mode, symlink: false, target: true}], self)
    if (why) throw new FileError(path, 'EPERM', `refused: ${why}`)
    return readFileSync(fd, 'utf8').slice(0, maxBytes)
  } catch (e) {
    throw fail(path, e)
  } finally {
    closeSync(fd)
    dir.close()
  }
}

/** An fd open for appending to `path`, created with `mode` if absent. Throws FileError. */
export function openAppend(path: string, mode = LOG_MODE): number {
  const {fd, dir} = openAppendAt(path, mode)
  dir.close()
  return fd
}

/** openAppend, with the folder still held (the caller closes it): a capped log rotates in the same folder. */
function openAppendAt(path: string, mode: number): {fd: number; at: string; dir: HeldDir} {
  const {dir, at} = place(path, true)
  try {
    return {fd: openAppendIn(path, at, mode), at, dir}
  } catch (e) {
    dir.close()
    throw e
  }
}

function openAppendIn(path: string, at: string, mode: number): number {
  // O_RDWR, not O_WRONLY: a capped log re-reads itself through this same fd.
  const {O_RDWR, O_APPEND, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK} = constants
  for (let attempt = 0; ; attempt++) {
    let fd: number
    try {
      fd = openSync(at, O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_NOFOLLOW, mode)
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
      fd = openSync(at, O_RDWR | O_APPEND | O_NOFOLLOW | O_NONBLOCK)
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
  const {fd, at, dir} = openAppendAt(path, mode)
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data)
    const st = fstatSync(fd)
    if (st.size > maxBytes) rotate(at, fd, st, maxBytes)
  } catch (e) {
    throw fail(path, e)
  } finally {
    closeSync(fd)
    dir.close()
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

/** Writes a whole temporary file (O_EXCL, exact mode, fsync unless not `durable`); on any failure nothing is left behind. */
function writeTemp(tmp: string, data: string | Uint8Array, mode: number, durable = true): void {
  let fd: number
  try {
    fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode)
  } catch (e) {
    throw fail(tmp, e)
  }
  try {
    fchmodSync(fd, mode)
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data)
    if (durable) fsyncSync(fd)
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
 * `durable: false` skips the fsync (still atomic): for a file rewritten after every event
 * by a process whose state dies with it (supervise's state file), where each fsync's
 * journal commit costs more than a stale file after a power loss would.
 * Also the last-verdict record (sys/last-verdict.ts): advisory, a reader can lose it to a
 * power cut without harm.
 */
export function writeFileAtomic(path: string, data: string, mode = 0o644, o: {durable?: boolean} = {}): void {
  const {dir, at} = place(path, true)
  try {
    const tmp = tempName(at)
    try {
      writeTemp(tmp, data, mode, o.durable !== false)
    } catch (e) {
      throw new FileError(path, (e as FileError).code, `cannot write: ${(e as FileError).code}`)
    }
    try {
      renameSync(tmp, at)
    } catch (e) {
      unlinkQuiet(tmp)
      throw fail(path, e)
    }
  } finally {
    dir.close()
  }
}

/** The most medic reads of a file it may replace (its own documents and textfiles are far smaller). */
const OWNED_READ_MAX = 8 * 1024 * 1024

/**
 * A file medic writes whole and may rewrite later — a document on request (`rules --file`,
 * `dashboard --file`), a node_exporter textfile rewritten every pass — replaced only when
 * what is there now is medic's own. `judge` gets the text there (null: nothing there),
 * read without following a symlink and bounded, and returns why it is not medic's to
 * replace, or null. Refused, left as it is: a symlink (even a dangling one: never
 * followed, never replaced), anything but a regular file with one link (a FIFO is opened
 * O_NONBLOCK: never waited on; a second link may be planted), a file owned by another
 * user than medic's (whatever its text says: a header can be forged by whoever shares the
 * folder), a file larger than medic writes, a file the judge refuses, or one swapped while
 * medic wrote (same device and inode, or refused). A new file is linked in (never over
 * one that appeared meanwhile); an old one is replaced by rename from a temporary in the
 * same folder, mode `mode`. Throws FileError naming `path` (a judge's refusal: EEXIST).
 * `anyOwner`: the owner check is left to the judge (install's exact-text files).
 */
export function writeOwned(path: string, data: string, mode: number, judge: (text: string | null) => string | null, o: {anyOwner?: boolean} = {}): void {
  const {dir, at} = place(path, true)
  try {
    const st = lstatOrNull(at)
    let text: string | null = null
    if (st) {
      if (st.isSymbolicLink()) throw new FileError(path, 'ELOOP', 'a symlink: refused (medic never writes through one, nor replaces it)')
      if (!st.isFile()) throw new FileError(path, 'EPERM', 'not a regular file: refused, left alone')
      let fd: number
      try {
        fd = openSync(at, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
      } catch (e) {
        throw fail(path, e)
      }
      try {
        const f = fstatSync(fd)
        if (!f.isFile() || f.ino !== st.ino || f.dev !== st.dev) throw new FileError(path, 'ESTALE', 'changed while medic read it: left alone')
        if (f.nlink !== 1) throw new FileError(path, 'EMLINK', `has ${f.nlink} links: refused (a planted hard link), left alone`)
        const me = euid()
        if (f.uid !== me && !o.anyOwner) throw new FileError(path, 'EPERM', `owned by uid ${f.uid}, not medic's user (uid ${me}): not medic's whatever it says, left alone`)
        if (f.size > OWNED_READ_MAX) throw new FileError(path, 'EEXIST', `${f.size} bytes, larger than medic writes: not medic's, left alone`)
        const buf = Buffer.alloc(f.size + 1)
        let n = 0
        while (n < buf.length) {
          const r = readSync(fd, buf, n, buf.length - n, n)
          if (r === 0) break
          n += r
        }
        if (n > OWNED_READ_MAX) throw new FileError(path, 'ESTALE', 'grew while medic read it: left alone')
        text = buf.subarray(0, n).toString('utf8')
      } finally {
        closeSync(fd)
      }
    }
    const why = judge(text)
    if (why) throw new FileError(path, 'EEXIST', why)
    const tmp = tempName(at)
    try {
      writeTemp(tmp, data, mode)
    } catch (e) {
      throw new FileError(path, (e as FileError).code, `cannot write: ${(e as FileError).code}`)
    }
    let renamed = false
    try {
      if (!st) {
        try {
          linkSync(tmp, at)
        } catch (e) {
          if (code(e) === 'EEXIST') throw new FileError(path, 'EEXIST', 'appeared while medic wrote it: left alone')
          throw fail(path, e)
        }
        return
      }
      const now = lstatOrNull(at)
      if (!now || now.ino !== st.ino || now.dev !== st.dev) throw new FileError(path, 'ESTALE', 'replaced while medic wrote it: left alone')
      try {
        renameSync(tmp, at)
        renamed = true
      } catch (e) {
        throw fail(path, e)
      }
    } finally {
      if (!renamed) unlinkQuiet(tmp)
    }
  } finally {
    dir.close()
  }
}

/**
 * Creates a new file in `dir` under `name` or its first free variant (nameVariant), written
 * whole before it appears. Never replaces anything. Returns its path.
 */
export function writeNew(dir: string, name: string, data: string, mode = 0o644): string {
  const {dir: held, at} = place(join(dir, name), true)
  try {
    const tmp = tempName(at)
    writeTemp(tmp, data, mode)
    try {
      return join(dir, basename(linkFree(tmp, held, dir, name)))
    } finally {
      unlinkQuiet(tmp)
    }
  } finally {
    held.close()
  }
}

/** link(src, first free variant of name in `held`): EEXIST moves on to the next name. `given` names the folder in messages. */
function linkFree(src: string, held: HeldDir, given: string, name: string, variant: (name: string, i: number) => string = nameVariant): string {
  for (let i = 0; i < 10_000; i++) {
    const target = held.at(variant(name, i))
    try {
      linkSync(src, target)
      return target
    } catch (e) {
      if (code(e) !== 'EEXIST') throw fail(join(given, variant(name, i)), e)
    }
  }
  throw new FileError(join(given, name), 'EEXIST', 'no free name')
}

/**
 * Moves a regular file into `dir` under `name` (or its first free variant): link, then
 * unlink the source. Never over an existing file. Returns the new path, or null when the
 * source vanished first (another mover took it; its copy is the one that stays).
 */
export function moveNoClobber(src: string, dir: string, name = basename(src), variant?: (name: string, i: number) => string): string | null {
  const from = placeFrom(src)
  if (!from) return null
  try {
    const st = lstatOrNull(from.at)
    if (!st) return null
    if (!st.isFile()) throw new FileError(src, 'EPERM', 'not a regular file: not moved')
    const to = place(join(dir, name), true)
    try {
      const target = linkFree(from.at, to.dir, dir, name, variant)
      try {
        unlinkSync(from.at)
      } catch (e) {
        unlinkQuiet(target)
        if (code(e) === 'ENOENT') return null
        throw fail(src, e)
      }
      return join(dir, basename(target))
    } finally {
      to.dir.close()
    }
  } finally {
    from.dir.close()
  }
}

/**
 * Takes `src` away from every other claimer: one rename to a fresh private name in
 * `dir` (medic's temporary pattern, which nothing else uses, checked absent), then a
 * link to `name` or its first free variant — an existing file there is never replaced.
 * Returns the claimed path, or null when another claimer was first.
 */
export function claim(src: string, dir: string, name = basename(src)): string | null {
  const from = placeFrom(src)
  if (!from) return null
  try {
    const st = lstatOrNull(from.at)
    if (!st) return null
    if (!st.isFile()) throw new FileError(src, 'EPERM', 'not a regular file: not claimed')
    if (st.nlink !== 1) throw new FileError(src, 'EPERM', `has ${st.nlink} hard links: not claimed (one may be planted)`)
    const to = place(join(dir, name), true)
    try {
      let priv = tempName(to.at)
      while (lstatOrNull(priv)) priv = tempName(to.at)
      try {
        renameSync(from.at, priv)
      } catch (e) {
        if (code(e) === 'ENOENT') return null
        throw fail(src, e)
      }
      try {
        const now = lstatSync(priv)
        if (now.nlink !== 1) throw new FileError(src, 'EPERM', `has ${now.nlink} hard links: not claimed (one may be planted)`)
        return join(dir, basename(linkFree(priv, to.dir, dir, name)))
      } catch (e) {
        // Put it back where it came from rather than lose it.
        try {
          linkSync(priv, from.at)
          unlinkQuiet(priv)
        } catch {}
        throw e
      } finally {
        if (lstatOrNull(priv)) unlinkQuiet(priv)
      }
    } finally {
      to.dir.close()
    }
  } finally {
    from.dir.close()
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
  const {dir, at} = place(path, false)
  try {
    const st = lstatOrNull(at)
    if (!st) throw new FileError(path, 'ENOENT', 'gone before removal')
    if (!st.isFile() || st.dev !== seen.dev || st.ino !== seen.ino) throw new FileError(path, 'ESTALE', 'replaced since it was judged: left alone')
    if (within !== undefined) {
      let real: string
      try {
        real = realpathSync(dirname(at))
      } catch (e) {
        throw fail(path, e)
      }
      const root = realpathSync(within)
      if (real !== root && !real.startsWith(root.endsWith(sep) ? root : root + sep)) throw new FileError(path, 'EXDEV', `now resolves outside ${within}: left alone`)
    }
    try {
      unlinkSync(at)
    } catch (e) {
      throw fail(path, e)
    }
  } finally {
    dir.close()
  }
}

/** The identity of what is at `path` now (no symlink followed), to remove it later with removeJudged. */
export function identify(path: string): Seen | null {
  const st = lstatOrNull(path)
  return st ? {dev: st.dev, ino: st.ino} : null
}

/** Removes a flag file once: true if this call removed it (a symlink is removed, never followed). As root, a folder the walk refuses throws FileError. */
export function consume(path: string): boolean {
  const from = placeFrom(path) // as root, through its walked folder: throws FileError when refused
  if (!from) return false
  try {
    unlinkSync(from.at)
    return true
  } catch {
    return false
  } finally {
    from.dir.close()
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

/**
 * Why medic, as root, must not write at `path` (with `isDir`: create or write in the folder `path`) (its folders walked as place() would walk
 * them; a missing folder is judged by the nearest one that exists, where medic would
 * create it), or null. Not root: null. For commands that write several files (install),
 * so they refuse the whole before writing any.
 */
export function refusedPlace(path: string, isDir = false): string | null {
  if (euid() !== 0) return null
  let dir = isDir ? resolve(path) : dirname(resolve(path))
  for (;;) {
    try {
      walkDir(dir, {label: path}).close()
      return null
    } catch (e) {
      if (!(e instanceof FileError)) return fail(path, e).message
      if (e.code !== 'ENOENT' || dirname(dir) === dir) return e.message
      dir = dirname(dir)
    }
  }
}

/** The folders of `dir` that do not exist yet (outermost first): what mkdirs will have created. */
function missingDirs(dir: string): string[] {
  const out: string[] = []
  for (let p = resolve(dir); dirname(p) !== p && !lstatOrNull(p); p = dirname(p)) out.unshift(p)
  return out
}

/** mkdir -p through the gate (as root: walked and judged one component at a time); returns the folders it created. Throws FileError. */
export function makeDirs(dir: string): string[] {
  const missing = missingDirs(dir)
  ensureDir(dir)
  return missing
}

/**
 * A file medic keeps exact (install's units, cron file, rules file, wsl.conf): written
 * through its walked folder (writeOwned), where nothing is (`expect` null) or only over
 * exactly `expect`. Returns the folders it created. Throws FileError.
 */
export function writeExact(path: string, data: string, mode: number, expect: string | null): string[] {
  const missing = missingDirs(dirname(path))
  // Any owner: what is replaced must hold exactly medic's text (nothing a forger could choose),
  // and install puts back its own owner and mode (F2: a file chowned away is rewritten, not "same").
  writeOwned(path, data, mode, (text) => (text === null ? null : expect === null ? 'appeared while medic was writing it; not overwriting' : text !== expect ? 'changed while medic was writing it; not overwriting' : null), {anyOwner: true})
  return missing
}

/**
 * Removes `path` through its walked folder only while it is a regular file holding exactly
 * `expect` (read through O_NOFOLLOW; removed only while it is still that inode). False when
 * it was already gone. Throws FileError.
 */
export function removeExact(path: string, expect: string): boolean {
  const from = placeFrom(path)
  if (!from) return false
  try {
    let fd: number
    try {
      fd = openSync(from.at, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
    } catch (e) {
      if (code(e) === 'ENOENT') return false
      throw fail(path, e)
    }
    let st: Stats
    try {
      st = fstatSync(fd)
      if (!st.isFile() || readFileSync(fd, 'utf8') !== expect) throw new FileError(path, 'EPERM', 'not what medic wrote; left in place')
    } finally {
      closeSync(fd)
    }
    const now = lstatOrNull(from.at)
    if (!now || now.ino !== st.ino || now.dev !== st.dev) throw new FileError(path, 'ESTALE', 'replaced since it was read: left in place')
    try {
      unlinkSync(from.at)
    } catch (e) {
      throw fail(path, e)
    }
    return true
  } finally {
    from.dir.close()
  }
}

/** rmdir through its walked parent: only an empty folder goes, never a symlink; false when refused, absent or not empty. */
export function removeEmptyDir(path: string): boolean {
  let from: {dir: HeldDir; at: string} | null
  try {
    from = placeFrom(path)
  } catch {
    return false
  }
  if (!from) return false
  try {
    if (!lstatOrNull(from.at)?.isDirectory()) return false
    rmdirSync(from.at)
    return true
  } catch {
    return false
  } finally {
    from.dir.close()
  }
}
