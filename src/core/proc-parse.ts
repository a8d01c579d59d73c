/** Parsers of /proc text. Pure: they take the text, the caller reads the file. */

export type ProcState = 'R' | 'S' | 'D' | 'Z' | 'T' | 't' | 'X' | 'x' | 'I' | 'K' | 'W' | 'P' | string

export interface ProcStat {
  pid: number
  comm: string
  state: ProcState
  ppid: number
  pgid: number
  sid: number
  /** Field 7: the controlling terminal (0 = none). */
  ttyNr: number
  /** Field 22, clock ticks since boot: with the pid, the process's identity. */
  startTime: string
  utimeTicks: number
  stimeTicks: number
  threads: number
}

/**
 * `/proc/<pid>/stat`. The comm sits in parentheses and may itself contain spaces and
 * `)`, so the fields are split after the LAST `)`.
 */
export function parseStat(text: string): ProcStat | null {
  const open = text.indexOf('(')
  const close = text.lastIndexOf(')')
  if (open < 0 || close < open) return null
  const pid = Number(text.slice(0, open).trim())
  const f = text.slice(close + 1).trim().split(/\s+/)
  // f[0] is field 3 (state); field N is f[N - 3].
  if (!Number.isInteger(pid) || f.length < 20) return null
  return {
    pid,
    comm: text.slice(open + 1, close),
    state: f[0],
    ppid: Number(f[1]),
    pgid: Number(f[2]),
    sid: Number(f[3]),
    ttyNr: Number(f[4]),
    utimeTicks: Number(f[11]),
    stimeTicks: Number(f[12]),
    threads: Number(f[17]),
    startTime: f[19],
  }
}

/** `/proc/<pid>/cmdline`: NUL-separated argv (a trailing NUL, sometimes none). */
export function parseCmdline(raw: string): string[] {
  if (raw === '') return []
  const parts = raw.split('\0')
  if (parts.at(-1) === '') parts.pop()
  return parts
}

export const STATE_NAMES: Record<string, string> = {
  R: 'running', S: 'sleeping', D: 'uninterruptible (D)', Z: 'zombie', T: 'stopped', t: 'traced',
  X: 'dead', I: 'idle', K: 'wakekill', W: 'waking', P: 'parked',
}

export function isDeadState(state: ProcState): boolean {
  return state === 'Z' || state === 'X' || state === 'x'
}

export interface TcpListenSocket {
  /** As ss prints it: `0.0.0.0`, `*`, `[::]`, `[::1]`, `127.0.0.1`. */
  address: string
  port: number
  inode?: number
  /** The uid the socket belongs to (its creator's; /proc/net/tcp's `uid`, ss -e's `uid:`). */
  uid?: number
  /** Owners that could be seen. Empty when the owner is invisible to us. */
  owners: {comm: string; pid: number; fd: number}[]
}

const SS_USER_RE = /\("((?:[^"\\]|\\.)*)",pid=(\d+),fd=(\d+)\)/g

/**
 * `ss -Htlnp 'sport = :P'` (optionally with -e). One row per listening socket:
 * `LISTEN 0 511 *:18789 *:* users:(("node",pid=1,fd=19),("node",pid=2,fd=19))`.
 * A row without `users:` is a socket whose owner we may not see (another user's, as non-root).
 */
export function parseSsListeners(text: string): TcpListenSocket[] {
  const out: TcpListenSocket[] = []
  for (const line of text.split('\n')) {
    const cols = line.trim().split(/\s+/)
    if (cols.length < 5 || cols[0] !== 'LISTEN') continue
    const local = cols[3]
    const colon = local.lastIndexOf(':')
    if (colon < 0) continue
    const port = Number(local.slice(colon + 1))
    if (!Number.isInteger(port)) continue
    const address = local.slice(0, colon).replace(/%[^\]]*$/, '')
    const users = [...line.matchAll(SS_USER_RE)]
    const owners = users.map((m) => ({comm: m[1], pid: Number(m[2]), fd: Number(m[3])}))
    // What follows the owners (a process name, quoted above, may contain anything).
    const rest = users.length ? line.slice(users.at(-1)!.index! + users.at(-1)![0].length) : line
    const ino = /(?:^|\s)ino:(\d+)/.exec(rest)
    // ss -e prints `uid:N` only for a uid other than 0, and `ino:` always.
    const uid = /(?:^|\s)uid:(\d+)/.exec(rest)
    out.push({address, port, owners, ...(ino ? {inode: Number(ino[1]), uid: uid ? Number(uid[1]) : 0} : {})})
  }
  return out
}

/** `/proc/net/tcp` or `/proc/net/tcp6`: the LISTEN (state 0A) sockets, with their inodes. */
export function parseProcNetTcp(text: string, family: 4 | 6): {address: string; port: number; inode: number; uid: number}[] {
  const out: {address: string; port: number; inode: number; uid: number}[] = []
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/)
    if (f.length < 10 || f[3] !== '0A') continue
    const [hexAddr, hexPort] = f[1].split(':')
    out.push({address: decodeAddress(hexAddr, family), port: parseInt(hexPort, 16), inode: Number(f[9]), uid: Number(f[7])})
  }
  return out
}

function decodeAddress(hex: string, family: 4 | 6): string {
  // The kernel prints each 32-bit word in host (little-endian) byte order.
  const words = hex.match(/.{8}/g) ?? []
  const bytes = words.flatMap((w) => (w.match(/../g) ?? []).reverse().map((b) => parseInt(b, 16)))
  if (family === 4) {
    const a = bytes.join('.')
    return a === '0.0.0.0' ? '0.0.0.0' : a
  }
  const groups: string[] = []
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] << 8) | bytes[i + 1]).toString(16))
  const full = groups.join(':')
  if (full === '0:0:0:0:0:0:0:0') return '[::]'
  if (full === '0:0:0:0:0:0:0:1') return '[::1]'
  return `[${full}]`
}

/**
 * A holder whose uid is not the socket's, where the socket is an unprivileged user's: that
 * user made the socket and handed it over (SCM_RIGHTS) — to make medic kill whatever holds
 * it (attack-gate A4). Why it is refused, or null. A socket root made and a process that
 * dropped its privileges after binding (nginx, sshd workers) is the ordinary case and passes.
 */
export function foreignSocket(sockets: TcpListenSocket[], pid: number, procUid: number | null): string | null {
  for (const s of sockets) {
    if (s.uid === undefined || s.uid === 0 || !s.owners.some((o) => o.pid === pid)) continue
    if (procUid === null || procUid !== s.uid) return `it runs as uid ${procUid ?? '?'} but holds a listening socket of uid ${s.uid} (${s.address}:${s.port}), which that user made and handed over: not signalled`
  }
  return null
}
