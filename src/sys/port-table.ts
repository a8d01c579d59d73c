import {closeSync, openSync, read, readFileSync, readdirSync, readlinkSync} from 'node:fs'
import {getSystemErrorName} from 'node:util'
import {parseProcNetTcp, parseSsListeners, type TcpListenSocket} from '../core/proc-parse.js'
import {scanFds} from './files.js'
import {procTable} from './proc-table.js'
import {rawTcp} from './raw-handles.js'

export interface PortListeners {
  port: number
  /** Some socket is in LISTEN on the port, whether or not we can see its owner. */
  listening: boolean
  sockets: TcpListenSocket[]
  /** Distinct owner pids over all sockets. */
  pids: number[]
  /** A listening socket whose owner we could not see (not root, another user's process). */
  invisible: boolean
  /** `known`: the fast look of knownListeners (holders among processes named beforehand), not a scan of every process. */
  via: 'ss' | 'proc' | 'known'
}

/** A process named beforehand as a likely holder: a pid and the start time it had then. */
export interface KnownHolder {
  pid: number
  startTime: string
}

export type Bindable = {ok: true} | {ok: false; code: string}

/**
 * Port → owners. Written here rather than taken from a library: port-pid runs
 * `lsof -i` through a shell and matches clients, pid-port's bare port misses listeners
 * on 0.0.0.0 and [::] and returns one pid, fkill kills by it (see
 * research/deps-prototype.md). Only LISTEN sockets count — a client is never an owner.
 * `ss` pushes the port filter into the kernel (~5 ms); /proc is the fallback when ss
 * is missing or fails (~13 ms: the kernel walks its whole hash table for /proc/net/tcp).
 */
export interface PortTable {
  listeners(port: number): Promise<PortListeners>
  /**
   * The fast look for a port whose holders are known (health's owners of its last run):
   * the port's LISTEN sockets from /proc/net/tcp{,6} and their holders among `known`
   * and their descendants — no scan of every process's fds and no spawn of ss (~10 ms of
   * a run). null (look fully) unless every known process is alive with the same start
   * time and holds one of the sockets, and every socket has a holder there. What it can
   * miss, by construction: a holder that is neither known nor a descendant of one (a
   * socket passed over SCM_RIGHTS, a forked holder reparented away while its parent
   * lives); callers use it only where that is acceptable (ops/health.ts).
   */
  knownListeners(port: number, known: () => KnownHolder[]): Promise<PortListeners | null>
  bindable(port: number): Promise<Bindable>
}

function summarise(port: number, all: TcpListenSocket[], via: PortListeners['via']): PortListeners {
  // medic's own bind test (run alongside the lookup) is never a holder of the port.
  const sockets = all.filter((s) => !(s.owners.length > 0 && s.owners.every((o) => o.pid === process.pid)))
  const pids = [...new Set(sockets.flatMap((s) => s.owners.map((o) => o.pid)))].sort((a, b) => a - b)
  return {port, listening: sockets.length > 0, sockets, pids, invisible: sockets.some((s) => s.owners.length === 0), via}
}

async function viaSs(port: number): Promise<TcpListenSocket[] | null> {
  const {execFile} = await import('node:child_process') // not at start: a free port never needs it
  return new Promise((resolve) => {
    execFile('ss', ['-Htlnpe', `sport = :${port}`], {timeout: 3000, env: {...process.env, LC_ALL: 'C'}}, (err, stdout) => {
      resolve(err ? null : parseSsListeners(stdout).filter((s) => s.port === port))
    })
  })
}

/**
 * The LISTEN section of /proc/net/tcp or tcp6: the kernel lists the listening hash first,
 * then the established one (net/ipv4/tcp_ipv4.c tcp_get_idx), one page per read() call,
 * walking the established hash until the page is full or the hash ends: reading a whole
 * file of TIME_WAIT entries took 3–5 ms here, a page of a family with no connections
 * the whole walk (~3.5 ms). So pages are read only until a line whose state is not LISTEN
 * (0A) — everything listening is above it — and on the thread pool, beside the main
 * thread's work. 'absent' when there is no such table (a kernel without IPv6), null when it
 * could not be read (EMFILE, EACCES …: the caller looks fully, never reads it as empty).
 */
function listenSection(path: string): Promise<string | 'absent' | null> {
  // Opened here (no walk happens at open: ~10 µs), so the one read that costs — the kernel's
  // walk — starts on the thread pool at once, not after a turn of this thread's event loop.
  let fd: number
  try {
    fd = openSync(path, 'r')
  } catch (e) {
    return Promise.resolve((e as NodeJS.ErrnoException).code === 'ENOENT' ? 'absent' : null)
  }
  return new Promise((resolve) => {
    {
      const buf = Buffer.allocUnsafe(65536)
      let text = ''
      const done = (r: string | null) => {
        closeSync(fd)
        resolve(r)
      }
      const next = () => read(fd, buf, 0, buf.length, null, (e, n) => {
        if (e) return done(null)
        if (n === 0) return done(text)
        text += buf.toString('latin1', 0, n)
        // One read() is one page of the kernel's buffer (4 KiB or more), filled until the next
        // line would not fit or the table ended: a read this short ended it (every line is
        // under 256 bytes), and asking again would walk the hash once more for nothing.
        if (n <= 4096 - 256) return done(text)
        const lines = text.split('\n')
        // Complete lines after the header: the first one not in LISTEN ends the section.
        for (const line of lines.slice(1, -1)) {
          const st = line.trim().split(/\s+/)[3]
          if (st !== undefined && st !== '0A') return done(text)
        }
        next()
      })
      next()
    }
  })
}

/** At most this many processes are looked at (known ones and their descendants); past it, the fast look gives up. */
const KNOWN_LOOK_LIMIT = 64
/**
 * …and at most this many of their fds, read on the main thread: a service whose tree holds
 * more (tens of thousands of connections) is looked at fully — ss reads them in a process of
 * its own, while this one's event loop stays free for the probe and --timeout.
 */
const KNOWN_FD_LIMIT = 2048

async function viaKnown(port: number, knownNow: () => KnownHolder[]): Promise<PortListeners | null> {
  // The tables first (the thread pool reads them while the holders are looked at here).
  const tables = Promise.all([listenSection('/proc/net/tcp'), listenSection('/proc/net/tcp6')])
  const known = knownNow()
  if (known.length === 0 || known.length > KNOWN_LOOK_LIMIT) return null
  const holders = new Map<number, {pid: number; fd: number; comm: string}[]>() // socket inode → holders
  const looked = new Set<number>()
  let fdsRead = 0
  const queue: number[] = []
  for (const k of known) {
    const st = procTable.stat(k.pid)
    if (!st || st.startTime !== k.startTime || st.state === 'Z' || st.state === 'X') return null
    queue.push(k.pid)
  }
  while (queue.length) {
    const pid = queue.shift()!
    if (looked.has(pid)) continue
    if (looked.size >= KNOWN_LOOK_LIMIT) return null
    looked.add(pid)
    const st = procTable.stat(pid)
    if (!st) continue // a descendant that ended meanwhile
    let fds: string[]
    try {
      fds = readdirSync(`/proc/${pid}/fd`)
    } catch {
      if (known.some((k) => k.pid === pid)) return null // a known holder whose fds we cannot see
      continue
    }
    fdsRead += fds.length
    if (fdsRead > KNOWN_FD_LIMIT) return null
    for (const fd of fds) {
      let link: string
      try {
        link = readlinkSync(`/proc/${pid}/fd/${fd}`)
      } catch {
        continue
      }
      if (!link.startsWith('socket:[')) continue
      const inode = Number(link.slice(8, -1))
      holders.set(inode, [...(holders.get(inode) ?? []), {pid, fd: Number(fd), comm: st.comm}])
    }
    // A forked child inherits the listening socket: look at every thread's children.
    let tasks: string[] = []
    try {
      tasks = readdirSync(`/proc/${pid}/task`)
    } catch {}
    for (const tid of tasks) {
      let text = ''
      try {
        text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'latin1')
      } catch {
        // A thread that ended meanwhile has none; a kernel without the file
        // (CONFIG_PROC_CHILDREN) cannot show forked holders at all: look fully.
        if (tid === String(pid) && procTable.stat(pid)) return null
      }
      for (const c of text.split(' ')) if (c.trim()) queue.push(Number(c))
    }
  }
  const [v4, v6] = await tables
  if (v4 === null || v4 === 'absent' || v6 === null) return null // unreadable: never read as empty
  const socks = [...parseProcNetTcp(v4, 4), ...(v6 === 'absent' ? [] : parseProcNetTcp(v6, 6))].filter((s) => s.port === port) // absent tcp6: no IPv6 in this kernel
  if (socks.length === 0) return null
  const sockets: TcpListenSocket[] = socks.map((s) => ({...s, owners: holders.get(s.inode) ?? []}))
  if (sockets.some((s) => s.owners.length === 0)) return null // a holder outside what we looked at
  const holding = new Set(sockets.flatMap((s) => s.owners.map((o) => o.pid)))
  if (known.some((k) => !holding.has(k.pid))) return null // a known holder let go: the owners changed
  return summarise(port, sockets, 'known')
}


function viaProc(port: number): TcpListenSocket[] {
  const socks: {address: string; port: number; inode: number; uid: number}[] = []
  for (const [file, fam] of [['/proc/net/tcp', 4], ['/proc/net/tcp6', 6]] as const) {
    try {
      socks.push(...parseProcNetTcp(readFileSync(file, 'latin1'), fam).filter((s) => s.port === port))
    } catch {
      // No IPv6 in this kernel: no tcp6 file.
    }
  }
  if (socks.length === 0) return []
  const byInode = new Map(socks.map((s) => [s.inode, {...s, owners: [] as TcpListenSocket['owners']}]))
  // Another user's process is skipped by the scan: its sockets stay ownerless (invisible).
  scanFds((pid, fd, link) => {
    const m = /^socket:\[(\d+)\]$/.exec(link)
    const sock = m && byInode.get(Number(m[1]))
    if (!sock) return
    let comm = '?'
    try {
      comm = readFileSync(`/proc/${pid}/comm`, 'latin1').trim()
    } catch {}
    sock.owners.push({comm, pid, fd})
  })
  return [...byInode.values()]
}

/**
 * The bind test on node's own TCP handle, as net.Server.listen({port}) does it: bind [::]
 * dual-stack (libuv sets SO_REUSEADDR and IPV6_V6ONLY=0 itself), listen, close (uv_close
 * closes the fd at once; no event-loop turn runs in between, so no connection is ever
 * accepted); 0.0.0.0 when this host has no IPv6. libuv reports EADDRINUSE at listen(), so
 * both results count. Written here rather than through node:net because listen() there
 * loads node:net, its streams and node:cluster (which loads child_process and dgram):
 * ~6 ms CPU of a ~20 ms `cleanup --port <free>` (docs/startup.md). null: no such handle
 * in this node, or one that throws; node:net then (tryBind).
 */
function rawBind(port: number): Bindable | null {
  const raw = rawTcp()
  if (!raw) return null
  const attempt = (v6: boolean): number => {
    const h = new raw.TCP(raw.SERVER)
    h.onconnection = () => {}
    try {
      return (v6 ? h.bind6('::', port, 0) : h.bind('0.0.0.0', port)) || h.listen(511)
    } finally {
      h.close()
    }
  }
  try {
    let err = attempt(true)
    if (err && ['EAFNOSUPPORT', 'EADDRNOTAVAIL'].includes(getSystemErrorName(err))) err = attempt(false)
    return err ? {ok: false, code: getSystemErrorName(err)} : {ok: true}
  } catch {
    return null // a handle that does not behave as this node's does: node:net decides
  }
}

async function tryBind(port: number, host: string | undefined, ipv6Only: boolean): Promise<Bindable & {address?: string}> {
  const {createServer} = await import('node:net')
  return new Promise((resolve) => {
    const srv = createServer()
    srv.once('error', (e: NodeJS.ErrnoException) => resolve({ok: false, code: e.code ?? 'EUNKNOWN'}))
    srv.listen({port, host, ipv6Only, exclusive: true}, () => {
      const address = (srv.address() as {address: string}).address
      srv.close(() => resolve({ok: true, address}))
    })
  })
}

export const portTable: PortTable = {
  async listeners(port) {
    const ss = process.env.MEDIC_PORT_TABLE === 'proc' ? null : await viaSs(port)
    return ss === null ? summarise(port, viaProc(port), 'proc') : summarise(port, ss, 'ss')
  },
  knownListeners: viaKnown,
  async bindable(port) {
    // A dual-stack bind on [::] conflicts with a listener on any IPv4 or IPv6 address of
    // the port, so one bind answers "is anything at all listening here". Without a host,
    // node binds [::] dual-stack itself and skips the DNS lookup that any `host` costs
    // (~5 ms of a run). It falls back to 0.0.0.0 when bind() on [::] fails at once (no
    // IPv6; libuv reports EADDRINUSE only at listen(), which does not fall back): an IPv4
    // success proves nothing about IPv6 listeners, so then ask again with the host.
    const raw = rawBind(port)
    if (raw) return raw
    const quick = await tryBind(port, undefined, false)
    if (!quick.ok) return {ok: false, code: quick.code}
    if (quick.address === '::') return {ok: true}
    const r = await tryBind(port, '::', false)
    if (!r.ok && (r.code === 'EAFNOSUPPORT' || r.code === 'EADDRNOTAVAIL')) return strip(await tryBind(port, '0.0.0.0', false))
    return strip(r)
  },
}

function strip(b: Bindable): Bindable {
  return b.ok ? {ok: true} : {ok: false, code: b.code}
}
