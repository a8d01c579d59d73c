import {accessSync, closeSync, constants, chmodSync, fstatSync, lstatSync, mkdirSync, opendirSync, openSync, readdirSync, readSync, statSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {entryCounts, entryKey, parseProtectedEntry, type LiveEntry, type ProtectedEntry, type ProtectPattern} from '../core/protect.js'
import type {ProcessTable} from './proc-table.js'
import {StateLayout} from './state-layout.js'
import {identify, removeJudged, writeFileAtomic, type Seen} from './file-gate.js'

/**
 * The protected registry, one for the host, honoured by every user's medic
 * (docs/contract.md §4). One file per registration, named `<pid>-<starttime>.json`, so
 * concurrent jobs never share a file and need no lock.
 *
 * Where:
 * - `/run/medic/protected/` (`MEDIC_PROTECTED_DIR` overrides it; `MEDIC_PROTECTED_SHM` the /dev/shm below): root-owned, mode 1777
 *   (sticky: everyone can add an entry, nobody can remove another user's). Any root medic
 *   that reads or writes the registry makes it when it is missing (/run is a tmpfs:
 *   registrations do not outlive a boot, nor do the processes they name).
 * - `/dev/shm/medic-protected.<pid>-<starttime>.json`: where a user registers while the
 *   host directory does not exist yet (no root medic has run since boot; a user cannot
 *   make a directory in /run). /dev/shm is root-owned and sticky, so no user is ever
 *   "first" to own the place — a directory a user made could be emptied by that user.
 * - `<state-dir>/protected/`: read only, where earlier versions registered.
 *
 * An entry counts only when its file is owned by root or by the uid running the process
 * it names (any user could otherwise "protect" root's gateway and block every repair),
 * when it is a regular file (opened without following symlinks, non-blocking, at most
 * 64 KiB: a planted FIFO or a huge file cannot hang or slow root's medic), when its name
 * is its identity, and when that process is alive with that identity.
 *
 * Any user can add names (the directories are sticky, world-writable): a flood of junk
 * names must not slow root's medic past its --timeout. A name whose pid is not running
 * costs nothing (the process table is read once per scan, each live pid's start time at
 * most once), so only names of live identities are opened; a scan reads at most
 * MAX_NAMES names per directory and stops at the deadline — a registry not read whole is
 * reported (`incomplete`), and the gate then signals nothing but a job's owner's own job.
 * The gate reads the registry once and again only when a directory changed
 * (registryReader).
 */
export interface RegistryPlaces {
  host: string
  shm: string
  legacy: string | null
}

export const HOST_REGISTRY = '/run/medic/protected'
const SHM_PREFIX = 'medic-protected.'
const MAX_ENTRY_BYTES = 64 * 1024
/** Names read per directory and scan; past it the registry is incomplete (fail closed). */
export const MAX_NAMES = 200_000

export function registryPlaces(stateDir?: string | null, env: NodeJS.ProcessEnv = process.env): RegistryPlaces {
  return {host: env.MEDIC_PROTECTED_DIR || HOST_REGISTRY, shm: env.MEDIC_PROTECTED_SHM || '/dev/shm', legacy: stateDir ? new StateLayout(stateDir).protectedDir : null}
}

export class RegistryError extends Error {}

/** A registry file and the identity (device, inode) it was judged by: only that file is ever removed. */
export interface Registration {
  path: string
  seen: Seen | null
}

export interface RegistryScan {
  live: (LiveEntry & {file: Registration})[]
  /** Entries that do not count, with why (another user's claim on a process, a symlink …). */
  ignored: {path: string; reason: string}[]
  /** Entries whose process is gone (by identity): they protect nothing. */
  dead: Registration[]
  /** Why the registry was not read whole (too many names, the deadline): what it protects is unknown. */
  incomplete: string | null
}

export interface ScanOptions {
  /** Stop reading when this says the deadline passed. */
  past?: () => boolean
  maxNames?: number
  /** Collect the dead entries with their identities (protect list prunes them; the gate does not need them). */
  dead?: boolean
}

const uid = () => process.getuid?.() ?? 0

/** Why `dir` is not a safe place to register in (null when it is): root-owned, and sticky if others can write it; its parent too. */
export function untrustedReason(dir: string): string | null {
  for (const d of [dir, dirname(dir)]) {
    let st
    try {
      st = lstatSync(d)
    } catch (e) {
      return `${d}: ${(e as NodeJS.ErrnoException).code}`
    }
    if (st.isSymbolicLink()) return `${d} is a symbolic link`
    if (!st.isDirectory()) return `${d} is not a directory`
    if (st.uid !== 0) return `${d} is owned by uid ${st.uid}, not root`
    if ((st.mode & 0o022) !== 0 && (st.mode & 0o1000) === 0) return `${d} is writable by others and not sticky`
  }
  return null
}

/** Root makes the host directory when it is missing (root-owned 1777). Returns why it is unusable, or null. */
export function ensureHostRegistry(places: RegistryPlaces): string | null {
  if (uid() === 0) {
    try {
      lstatSync(places.host)
    } catch {
      try {
        mkdirSync(dirname(places.host), {recursive: true, mode: 0o755})
        mkdirSync(places.host, {mode: 0o1777})
        chmodSync(places.host, 0o1777) // the umask took bits off
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') return `cannot make ${places.host}: ${(e as NodeJS.ErrnoException).code}`
      }
    }
  }
  return untrustedReason(places.host)
}

function readEntryFile(path: string): {text: string; fileUid: number; seen: Seen} | {error: string} {
  let fd: number
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  } catch (e) {
    return {error: (e as NodeJS.ErrnoException).code === 'ELOOP' ? 'a symbolic link' : `unreadable (${(e as NodeJS.ErrnoException).code})`}
  }
  try {
    const st = fstatSync(fd)
    if (!st.isFile()) return {error: 'not a regular file'}
    if (st.size > MAX_ENTRY_BYTES) return {error: `too large (${st.size} bytes)`}
    const buf = Buffer.alloc(st.size)
    const n = st.size ? readSync(fd, buf, 0, st.size, 0) : 0
    return {text: buf.toString('utf8', 0, n), fileUid: st.uid, seen: {dev: st.dev, ino: st.ino}}
  } catch (e) {
    return {error: `unreadable (${(e as NodeJS.ErrnoException).code})`}
  } finally {
    closeSync(fd)
  }
}

/**
 * The names in a registry place (none when it is missing or unreadable), read like
 * scanRegistry reads them: at most `max` names and not past the deadline; `incomplete`
 * says why the rest were not read.
 */
/**
 * A folder of the registry holds this many bytes of entries at most to be listed in one
 * readdir: a few thousand names (an entry is ~20–40 bytes on tmpfs and ext4). Larger — a
 * flood — it is read name by name through opendir, bounded by MAX_NAMES and the deadline.
 * Why both: the first opendir of a run loads node's internal/fs/dir (~0.8 ms of every
 * signalling run's start, issue 16), and a registry is nearly always a handful of names.
 */
const SMALL_DIR_BYTES = 64 * 1024

/** The names in a registry folder, at most `maxNames`, read before the deadline; none when it cannot be read. */
function namesIn(dir: string, opts: ScanOptions = {}): {names: string[]; incomplete: string | null} {
  const max = opts.maxNames ?? MAX_NAMES
  const tooMany = `${dir} holds more than ${max} names; the rest were not read`
  try {
    if (statSync(dir).size <= SMALL_DIR_BYTES) {
      const all = readdirSync(dir)
      return all.length > max ? {names: all.slice(0, max), incomplete: tooMany} : {names: all, incomplete: null}
    }
  } catch {
    return {names: [], incomplete: null}
  }
  const names: string[] = []
  let d
  try {
    d = opendirSync(dir)
  } catch {
    return {names, incomplete: null}
  }
  try {
    for (let count = 0; ; count++) {
      if (count >= max) return {names, incomplete: tooMany}
      if ((count & 1023) === 1023 && opts.past?.()) return {names, incomplete: `${dir} could not be read before --timeout (${count} names read)`}
      const ent = d.readSync()
      if (ent === null) return {names, incomplete: null}
      names.push(ent.name)
    }
  } finally {
    d.closeSync()
  }
}

/** Every registration in every place, sorted into live (counting), ignored and dead. */
export function scanRegistry(places: RegistryPlaces, procs: ProcessTable, opts: ScanOptions = {}): RegistryScan {
  if (uid() === 0) ensureHostRegistry(places)
  const out: RegistryScan = {live: [], ignored: [], dead: [], incomplete: null}
  const max = opts.maxNames ?? MAX_NAMES
  const seen = new Set<string>()
  // The process table once, at the first entry (an empty registry reads no /proc); each live pid's start time at most once.
  let running: Set<number> | undefined
  const starts = new Map<number, string | null>()
  const startOf = (pid: number): string | null => {
    if (!starts.has(pid)) {
      const st = (running ??= new Set(procs.list())).has(pid) ? procs.stat(pid) : null
      starts.set(pid, st && st.state !== 'Z' && st.state !== 'X' ? st.startTime : null)
    }
    return starts.get(pid)!
  }
  const sources: [string, (n: string) => string | null][] = [
    [places.host, (n) => entryKeyOf(n)],
    [places.shm, (n) => (n.startsWith(SHM_PREFIX) ? entryKeyOf(n.slice(SHM_PREFIX.length)) : null)],
    ...(places.legacy ? [[places.legacy, (n: string) => (/^\d+-\d+\.json$/.test(n) ? n.slice(0, -5) : null)] as [string, (n: string) => string | null]] : []),
  ]
  const dead = (path: string, seen: Seen | null) => {
    if (opts.dead !== false) out.dead.push({path, seen: seen ?? identify(path)})
  }
  for (const [dir, keyOf] of sources) {
    const {names, incomplete} = namesIn(dir, {...opts, maxNames: max})
    if (incomplete) {
      out.incomplete = incomplete
      out.ignored.push({path: dir, reason: incomplete})
    }
    for (let count = 0; count < names.length; count++) {
      if ((count & 1023) === 1023 && opts.past?.()) {
        out.incomplete = `${dir} could not be read before --timeout (${count} names read)`
        out.ignored.push({path: dir, reason: out.incomplete})
        break
      }
      const n = names[count]
      const key = keyOf(n)
      if (key === null) continue
      const path = join(dir, n)
      // The name is the identity: a gone process costs no open (nor do names planted by the thousand).
      const [pidText, startText] = key.split('-')
      if (startOf(Number(pidText)) !== startText) {
        dead(path, null)
        continue
      }
      const f = readEntryFile(path)
      if ('error' in f) {
        out.ignored.push({path, reason: f.error})
        continue
      }
      const e = parseProtectedEntry(f.text)
      if (!e) {
        out.ignored.push({path, reason: 'not a registry entry (format v1)'})
        continue
      }
      if (entryKey(e) !== key) {
        out.ignored.push({path, reason: `names pid ${e.pid} start ${e.startTime}, not ${key}`})
        continue
      }
      const p = procs.get(e.pid)
      if (!p || p.startTime !== e.startTime || procs.liveness(e.pid, e.startTime) !== 'alive') {
        dead(path, f.seen)
        continue
      }
      const procUid = procs.realUid(e.pid)
      if (procUid === null || !entryCounts(f.fileUid, procUid)) {
        out.ignored.push({path, reason: `written by uid ${f.fileUid} for a process of uid ${procUid ?? '?'}: only root or the process's own user can protect it`})
        continue
      }
      const dedup = `${key}:${f.fileUid}`
      if (seen.has(dedup)) continue
      seen.add(dedup)
      // A session claim counts when its leader is alive and is the registered process or its parent (or root wrote it).
      const s = e.session
      const sessionLive = !!s && procs.liveness(s.sid, s.startTime) === 'alive' && (f.fileUid === 0 || s.sid === e.pid || p.ppid === s.sid)
      out.live.push({...e, fileUid: f.fileUid, procUid, sessionLive, source: path, file: {path, seen: f.seen}})
    }
  }
  return out
}

/**
 * The registry as the signal gate reads it: scanned on first use, then again only when one
 * of its directories changed (inode, mtime or ctime — adding or removing an entry changes
 * them) or was changed so recently that a write in the same timestamp tick could hide.
 */
export function registryReader(places: RegistryPlaces, procs: ProcessTable, opts: Omit<ScanOptions, 'dead'> = {}): () => {live: LiveEntry[]; patterns: ProtectPattern[]; incomplete: string | null} {
  let cached: {stamp: string; live: LiveEntry[]; patterns: ProtectPattern[]; incomplete: string | null} | null = null
  const stamp = (): {text: string; recent: boolean} => {
    const now = Date.now()
    let recent = false
    const parts = [places.host, places.shm, places.legacy].map((dir) => {
      if (!dir) return '-'
      try {
        const st = statSync(dir)
        if (now - st.mtimeMs < 100 || now - st.ctimeMs < 100) recent = true
        return `${st.dev}:${st.ino}:${st.mtimeMs}:${st.ctimeMs}`
      } catch (e) {
        return (e as NodeJS.ErrnoException).code ?? 'error'
      }
    })
    return {text: parts.join('|'), recent}
  }
  return () => {
    const before = stamp()
    if (cached && cached.stamp === before.text) return cached
    const scan = scanRegistry(places, procs, {...opts, dead: false})
    const pats = scanPatterns(places, opts)
    const result = {stamp: before.recent ? '' : before.text, live: scan.live, patterns: pats.live, incomplete: scan.incomplete ?? pats.incomplete}
    cached = result
    return result
  }
}

export function readRegistry(places: RegistryPlaces, procs: ProcessTable): LiveEntry[] {
  return scanRegistry(places, procs).live
}

/** A registered pattern's file: `pattern-<uid>-<FNV-1a 64 of the pattern, 16 hex>.json`, one per user and pattern. */
export function patternFileName(pattern: string, byUid: number = uid()): string {
  return `pattern-${byUid}-${fnv1a64(pattern)}.json`
}

/**
 * FNV-1a, 64 bits, of the UTF-8 bytes, in hex. Not node:crypto: loading it costs every run
 * ~6 ms of start-up (measured: cleanup --port <free>, --cpu-prof), for a name that only has
 * to be stable — a clash is only ever between one user's own patterns, and is refused (the
 * name check reads the pattern back).
 */
export function fnv1a64(text: string): string {
  let h = 0xcbf29ce484222325n
  for (const b of Buffer.from(text, 'utf8')) h = BigInt.asUintN(64, (h ^ BigInt(b)) * 0x100000001b3n)
  return h.toString(16).padStart(16, '0')
}

const PATTERN_NAME = /^(pattern-(\d+)-[0-9a-f]{16})(?:-[0-9a-f]{16})?\.json$/

/** An entry's file name, `<pid>-<start>.json` or (squatted: registerFile) `<pid>-<start>-<16 hex>.json`: its key, or null. */
function entryKeyOf(name: string): string | null {
  const m = /^(\d+-\d+)(?:-[0-9a-f]{16})?\.json$/.exec(name)
  return m ? m[1] : null
}

export interface RegisteredPattern extends ProtectPattern {
  pattern: string
  registeredAt: string
  file: Registration
}

/**
 * The patterns of the registry (`medic protect add --pattern`), in the host directory and
 * the /dev/shm fallback: read like entries (no symlink, regular, small), counted only when
 * the file's name says the uid that owns it and the pattern it holds.
 */
export function scanPatterns(places: RegistryPlaces, opts: Omit<ScanOptions, 'dead'> = {}): {live: RegisteredPattern[]; ignored: {path: string; reason: string}[]; incomplete: string | null} {
  const out: {live: RegisteredPattern[]; ignored: {path: string; reason: string}[]; incomplete: string | null} = {live: [], ignored: [], incomplete: null}
  for (const [dir, prefix] of [[places.host, ''], [places.shm, SHM_PREFIX]]) {
    const {names, incomplete} = namesIn(dir, opts)
    if (incomplete) {
      out.incomplete ??= incomplete
      out.ignored.push({path: dir, reason: incomplete})
    }
    for (const n of names) {
      const name = n.startsWith(prefix) ? n.slice(prefix.length) : ''
      const m = PATTERN_NAME.exec(name)
      if (!m) continue
      const path = join(dir, n)
      const f = readEntryFile(path)
      if ('error' in f) {
        out.ignored.push({path, reason: f.error})
        continue
      }
      let o: {version?: unknown; pattern?: unknown; registeredAt?: unknown} | null = null
      try {
        o = JSON.parse(f.text)
      } catch {}
      if (!o || o.version !== 1 || typeof o.pattern !== 'string') {
        out.ignored.push({path, reason: 'not a registered pattern (format v1)'})
        continue
      }
      if (Number(m[2]) !== f.fileUid || patternFileName(o.pattern, f.fileUid) !== `${m[1]}.json`) {
        out.ignored.push({path, reason: `its name is not its pattern and its owner (uid ${f.fileUid})`})
        continue
      }
      let re: RegExp
      try {
        re = new RegExp(o.pattern)
      } catch (e) {
        out.ignored.push({path, reason: `not a regular expression: ${(e as Error).message}`})
        continue
      }
      out.live.push({re, pattern: o.pattern, fileUid: f.fileUid, source: path, registeredAt: typeof o.registeredAt === 'string' ? o.registeredAt : '', file: {path, seen: f.seen}})
    }
  }
  return out
}

/** Where this user registers now: the host directory (root makes it), else /dev/shm for a user. */
function registerPlace(places: RegistryPlaces, what: string, name: string): string {
  let hostProblem = ensureHostRegistry(places)
  if (hostProblem === null && uid() !== 0) {
    try {
      accessSync(places.host, constants.W_OK) // safe but closed to users (0755): a user falls back to /dev/shm
    } catch (e) {
      hostProblem = `${places.host}: ${(e as NodeJS.ErrnoException).code}`
    }
  }
  if (hostProblem === null) return join(places.host, name)
  if (uid() !== 0 && untrustedReason(places.shm) === null) return join(places.shm, `${SHM_PREFIX}${name}`)
  throw new RegistryError(`cannot register ${what}: ${hostProblem}${uid() !== 0 ? `; ${places.shm}: ${untrustedReason(places.shm)}` : ''}`)
}

/** Registers a pattern for every medic on the host (until the next boot, like every registration). */
export function registerPattern(pattern: string, places: RegistryPlaces): Registration {
  return registerFile(places, `pattern ${pattern}`, patternFileName(pattern), JSON.stringify({version: 1, pattern, registeredAt: new Date().toISOString()}, null, 2) + '\n')
}

/**
 * Writes a registration under its predictable name — or, when another user already holds
 * that name (the registry is a shared sticky folder: anyone can create any name, nobody can
 * replace another's file), under the same name plus `-<16 random hex>`, which no one can
 * have guessed in advance. The readers accept both: what counts is the file's owner and
 * content, checked against the name's stem, not who got the name first.
 */
function registerFile(places: RegistryPlaces, what: string, name: string, text: string): Registration {
  const path = registerPlace(places, what, name)
  const write = (at: string) => {
    writeFileAtomic(at, text)
    return {path: at, seen: identify(at)}
  }
  try {
    try {
      return write(path)
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code
      if (code !== 'EPERM' && code !== 'EACCES' && code !== 'EEXIST') throw e
      let owner: number | null = null
      try {
        owner = lstatSync(path).uid
      } catch {}
      if (owner === null || owner === uid()) throw e
      return write(path.replace(/\.json$/, `-${randomHex()}.json`))
    }
  } catch (e) {
    throw new RegistryError(`cannot register ${what} in ${dirname(path)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`)
  }
}

/** 16 hex digits from the kernel's random source (not node:crypto: its load costs every run start-up time). */
function randomHex(): string {
  const b = Buffer.alloc(8)
  const fd = openSync('/dev/urandom', 'r')
  try {
    readSync(fd, b, 0, 8, null)
  } finally {
    closeSync(fd)
  }
  return b.toString('hex')
}

/**
 * Registers a process (atomically: temporary file, then rename). Root writes only to the
 * host directory (made if missing); a user writes there when it exists and is safe, else
 * to the /dev/shm fallback. Throws RegistryError naming the place and the reason: the
 * caller must not go on as if the process were protected.
 */
export function registerProtected(entry: ProtectedEntry, places: RegistryPlaces): Registration {
  return registerFile(places, `pid ${entry.pid}`, `${entryKey(entry)}.json`, JSON.stringify(entry, null, 2) + '\n')
}

/** Removes a registration through the file gate: only the very file it was (not one that replaced it). */
export function unregisterProtected(r: Registration): boolean {
  if (!r.seen) return false
  try {
    removeJudged(r.path, r.seen)
    return true
  } catch {
    return false
  }
}
