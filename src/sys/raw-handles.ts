/**
 * node's own handle classes — what net.Server and net.Socket wrap — for the few places on
 * the run path that would otherwise load node:net, its streams (and, for a server,
 * node:cluster with child_process and dgram) just to bind a port or send one request:
 * port-table.ts's bind test and raw-http.ts's probe (docs/startup.md). null where they are
 * not to be used: a node that does not hand out these bindings (or hands out others), or
 * `--pending-deprecation`, which makes process.binding print a warning; callers then go
 * through node:net / node:http as before, quietly.
 */

/** A libuv TCP handle (tcp_wrap.TCP): the methods medic calls. */
export interface TcpHandle {
  bind(host: string, port: number): number
  bind6(host: string, port: number, flags: number): number
  listen(backlog: number): number
  connect(req: ConnectReq, host: string, port: number): number
  connect6(req: ConnectReq, host: string, port: number): number
  readStart(): number
  readStop(): number
  writeLatin1String(req: WriteReq, text: string): number
  close(cb?: () => void): void
  onconnection: unknown
  /** A function only: node aborts (an assertion in C++) when anything else is assigned. */
  onread: (buf: ArrayBuffer | undefined) => void
}

/** A pending connect (tcp_wrap.TCPConnectWrap): `status` is 0 or a negative libuv error. */
export interface ConnectReq {
  oncomplete: (status: number) => void
}

/** A pending write (stream_wrap.WriteWrap), set up as node's stream_base_commons does. */
export interface WriteReq {
  handle: TcpHandle
  oncomplete: (status: number) => void
  async: boolean
}

export interface RawTcp {
  new (type: number): TcpHandle
}

export interface RawTcpClient {
  TCP: RawTcp
  TCPConnectWrap: new () => ConnectReq
  SOCKET: number
  WriteWrap: new () => WriteReq
  /** Shared with node: after a read, [kReadBytesOrError] is nread (< 0: a libuv error, EOF included) and [kArrayBufferOffset] where it starts. */
  streamBaseState: Int32Array
  kReadBytesOrError: number
  kArrayBufferOffset: number
  /** After a write: 1 when it did not complete at once (oncomplete follows). */
  kLastWriteWasAsync: number
}

type Binding = (name: string) => Record<string, unknown>

function binding(): Binding | null {
  // --pending-deprecation makes process.binding print a warning: node:net then, quietly.
  if (process.execArgv.includes('--pending-deprecation') || (process.env.NODE_OPTIONS ?? '').includes('--pending-deprecation') || process.env.NODE_PENDING_DEPRECATION === '1') return null
  const b = (process as unknown as {binding?: Binding}).binding
  return typeof b === 'function' ? (name) => b.call(process, name) : null
}

/** The TCP handle class and its SERVER type, for a bind test; null: use node:net. */
export function rawTcp(): {TCP: RawTcp; SERVER: number} | null {
  try {
    const b = binding()?.('tcp_wrap') as {TCP?: RawTcp; constants?: {SERVER?: number}} | undefined
    return b && typeof b.TCP === 'function' && typeof b.constants?.SERVER === 'number' ? {TCP: b.TCP, SERVER: b.constants.SERVER} : null
  } catch {
    return null
  }
}

/** What a client connection needs: the TCP handle, its connect and write requests, and the read state; null: use node:net / node:http. */
export function rawTcpClient(): RawTcpClient | null {
  try {
    const get = binding()
    if (!get) return null
    const t = get('tcp_wrap') as {TCP?: RawTcp; TCPConnectWrap?: new () => ConnectReq; constants?: {SOCKET?: number}}
    const s = get('stream_wrap') as {WriteWrap?: new () => WriteReq; streamBaseState?: Int32Array; kReadBytesOrError?: number; kArrayBufferOffset?: number; kLastWriteWasAsync?: number}
    const fns = [t.TCP, t.TCPConnectWrap, s.WriteWrap].every((f) => typeof f === 'function')
    const nums = [t.constants?.SOCKET, s.kReadBytesOrError, s.kArrayBufferOffset, s.kLastWriteWasAsync].every((n) => typeof n === 'number')
    if (!fns || !nums || !(s.streamBaseState instanceof Int32Array)) return null
    return {
      TCP: t.TCP!, TCPConnectWrap: t.TCPConnectWrap!, SOCKET: t.constants!.SOCKET!,
      WriteWrap: s.WriteWrap!, streamBaseState: s.streamBaseState, kReadBytesOrError: s.kReadBytesOrError!, kArrayBufferOffset: s.kArrayBufferOffset!, kLastWriteWasAsync: s.kLastWriteWasAsync!,
    }
  } catch {
    return null
  }
}
