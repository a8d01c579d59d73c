import {spawnSync} from 'node:child_process'
import {readFileSync} from 'node:fs'
import {createServer} from 'node:net'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {portTable} from '../../src/sys/port-table.js'
import {Janitor, startService} from '../helpers/procs.js'

const j = new Janitor()
afterEach(() => j.cleanup())

describe.each(['ss', 'proc'] as const)('port table via %s', (via) => {
  const withVia = async <T>(f: () => Promise<T>): Promise<T> => {
    const before = process.env.MEDIC_PORT_TABLE
    process.env.MEDIC_PORT_TABLE = via === 'proc' ? 'proc' : ''
    try {
      return await f()
    } finally {
      process.env.MEDIC_PORT_TABLE = before
    }
  }

  it.each([
    ['dual-stack [::]', []],
    ['0.0.0.0', ['--host', '0.0.0.0']],
    ['127.0.0.1', ['--host', '127.0.0.1']],
    ['[::1]', ['--host', '::1']],
  ])('finds the owner of a listener on %s', async (_name, args) => {
    const s = await startService(j, args)
    const l = await withVia(() => portTable.listeners(s.port))
    expect(l).toMatchObject({listening: true, pids: [s.pid], invisible: false, via})
  })

  it('never counts a connected client as an owner', async () => {
    const s = await startService(j, ['--host', '127.0.0.1'])
    const client = await startService(j, ['--connect', String(s.port)])
    const l = await withVia(() => portTable.listeners(s.port))
    expect(l.pids).toEqual([s.pid])
    expect(l.pids).not.toContain(client.pid)
  })

  it('lists every process that shares an inherited listening socket', async () => {
    const s = await startService(j, ['--orphan'])
    // The parent holds the inherited socket until it has exited: wait for that, not for luck.
    if (s.child.exitCode === null && s.child.signalCode === null) await new Promise((r) => s.child.once('exit', r))
    const l = await withVia(() => portTable.listeners(s.port))
    expect(l.pids).toEqual([s.pid])
    expect(l.sockets).toHaveLength(1)
  })

  it('says a free port is free', async () => {
    const s = await startService(j)
    process.kill(-s.child.pid!, 'SIGKILL')
    await new Promise((r) => s.child.once('exit', r))
    const l = await withVia(() => portTable.listeners(s.port))
    expect(l).toMatchObject({listening: false, pids: [], invisible: false})
  })
})

// The bind test runs on node's TCP handle (process.binding('tcp_wrap')) and falls back to
// node:net where that is not handed out (--pending-deprecation here): both must say the same.
describe.each(['tcp_wrap', 'node:net'] as const)('bind test via %s', (via) => {
  let before: string | undefined
  beforeEach(() => {
    before = process.env.NODE_PENDING_DEPRECATION
    if (via === 'node:net') process.env.NODE_PENDING_DEPRECATION = '1'
  })
  afterEach(() => {
    if (before === undefined) delete process.env.NODE_PENDING_DEPRECATION
    else process.env.NODE_PENDING_DEPRECATION = before
  })

  it('is false while anything listens, on IPv4 or IPv6, and true once free', async () => {
    for (const host of ['127.0.0.1', '::1', '0.0.0.0', '::']) {
      const s = await startService(j, ['--host', host])
      expect(await portTable.bindable(s.port)).toEqual({ok: false, code: 'EADDRINUSE'})
      process.kill(-s.child.pid!, 'SIGKILL')
      await new Promise((r) => s.child.once('exit', r))
      expect(await portTable.bindable(s.port)).toEqual({ok: true})
    }
  })

  // The bind test's fast path is node's host-less listen, which retries 0.0.0.0 when [::]
  // fails: a listener that only IPv6 sees must never pass for a free port.
  it('is false for an IPv6-only listener on [::], which an IPv4 bind does not see', async () => {
    const srv = createServer()
    await new Promise<void>((r) => srv.listen({port: 0, host: '::', ipv6Only: true}, r))
    const port = (srv.address() as {port: number}).port
    try {
      expect(await portTable.bindable(port)).toEqual({ok: false, code: 'EADDRINUSE'})
    } finally {
      await new Promise((r) => srv.close(r))
    }
    expect(await portTable.bindable(port)).toEqual({ok: true})
  })
})

describe('bind test on the TCP handle', () => {
  it('leaves the port free for the next bind at once (closing the handle closes its fd)', async () => {
    const port = await new Promise<number>((r) => {
      const s = createServer().listen(0, () => {
        const p = (s.address() as {port: number}).port
        s.close(() => r(p))
      })
    })
    expect(await portTable.bindable(port)).toEqual({ok: true})
    // No event-loop turn in between: a bind that raced the handle's close would fail here.
    const srv = createServer()
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject)
      srv.listen({port, host: '::', exclusive: true}, resolve)
    })
    await new Promise((r) => srv.close(r))
  })

  it('says why a port below 1024 cannot be bound by an unprivileged user', () => {
    // The built module, run as nobody: root may bind any port.
    if (process.getuid?.() !== 0) return void console.log('skipped: needs root to run the check as nobody')
    const mod = new URL('../../dist/sys/port-table.js', import.meta.url).href
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', `const {portTable} = await import(${JSON.stringify(mod)}); console.log(JSON.stringify(await portTable.bindable(1)))`], {uid: 65534, gid: 65534, encoding: 'utf8'})
    expect(JSON.parse(r.stdout)).toEqual({ok: false, code: 'EACCES'})
  })
})

/** A process's start time as /proc/<pid>/stat says it (the identity knownListeners is given). */
function startTimeOf(pid: number): string {
  const st = readFileSync(`/proc/${pid}/stat`, 'latin1')
  return st.slice(st.lastIndexOf(')') + 2).split(' ')[19]
}

// health's fast look: the last full look's holders, proved to still hold the port's socket.
describe('knownListeners (the fast look)', () => {
  const known = (...pids: number[]) => () => pids.map((pid) => ({pid, startTime: startTimeOf(pid)}))

  it('names the known holder, as the full look does', async () => {
    const s = await startService(j)
    const fast = await portTable.knownListeners(s.port, known(s.pid))
    expect(fast).toMatchObject({listening: true, pids: [s.pid], invisible: false, via: 'known'})
    expect(fast!.pids).toEqual((await portTable.listeners(s.port)).pids)
    expect(fast!.sockets.map((x) => x.inode)).toEqual((await portTable.listeners(s.port)).sockets.map((x) => x.inode))
  })

  it('finds a forked child in a session of its own that shares the socket (a descendant of a known holder)', async () => {
    const s = await startService(j, ['--share'])
    const child = s.sharedWith as number
    const fast = await portTable.knownListeners(s.port, known(s.pid))
    expect(fast?.pids).toEqual([s.pid, child].sort((a, b) => a - b))
    expect(fast!.pids).toEqual((await portTable.listeners(s.port)).pids)
  })

  it('is null past 64 known holders (a forged or runaway record): a full look instead of 64+ /proc reads', async () => {
    const s = await startService(j)
    const one = known(s.pid)()[0]
    expect(await portTable.knownListeners(s.port, () => Array.from({length: 64}, () => one))).not.toBeNull()
    expect(await portTable.knownListeners(s.port, () => Array.from({length: 65}, () => one))).toBeNull()
  })

  it('is null for a reused pid: the start time differs', async () => {
    const s = await startService(j)
    const fast = await portTable.knownListeners(s.port, () => [{pid: s.pid, startTime: String(Number(startTimeOf(s.pid)) - 1)}])
    expect(fast).toBeNull()
  })

  it('is null when the port is held by someone the last look did not know', async () => {
    const a = await startService(j)
    const b = await startService(j)
    // a is alive and listening, but not on b's port: b's socket has no known holder.
    expect(await portTable.knownListeners(b.port, known(a.pid))).toBeNull()
    // and a known holder that holds nothing on the port means the owners changed.
    expect(await portTable.knownListeners(b.port, known(a.pid, b.pid))).toBeNull()
  })

  it('is null when the known holder is gone (the seed: an orphan kept the port)', async () => {
    const s = await startService(j, ['--orphan'])
    // The parent (the last look's holder) exits once the orphan listens.
    if (s.child.exitCode === null && s.child.signalCode === null) await new Promise((r) => s.child.once('exit', r))
    expect(await portTable.knownListeners(s.port, () => [{pid: s.child.pid!, startTime: '1'}])).toBeNull()
  })

  it('is null for a free port and for no known holder; never counts a connected client', async () => {
    const s = await startService(j, ['--host', '127.0.0.1'])
    expect(await portTable.knownListeners(s.port, () => [])).toBeNull()
    const client = await startService(j, ['--connect', String(s.port)])
    expect((await portTable.knownListeners(s.port, known(s.pid)))?.pids).toEqual([s.pid])
    // A client named as a holder holds no listening socket: the owners changed, look fully.
    expect(await portTable.knownListeners(s.port, known(s.pid, client.pid))).toBeNull()
    process.kill(-s.child.pid!, 'SIGKILL')
    await new Promise((r) => s.child.once('exit', r))
    expect(await portTable.knownListeners(s.port, known(client.pid))).toBeNull()
  })
})
