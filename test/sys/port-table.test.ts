import {spawnSync} from 'node:child_process'
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
