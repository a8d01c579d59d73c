import {readFileSync} from 'node:fs'
import {describe, expect, it} from 'vitest'
import {isDeadState, parseCmdline, parseProcNetTcp, parseSsListeners, parseStat} from '../../src/core/proc-parse.js'

const snap = (name: string) => readFileSync(new URL(`../fixtures/snapshots/${name}`, import.meta.url), 'utf8')

describe('/proc/<pid>/stat', () => {
  it('reads identity fields', () => {
    const s = parseStat('4242 (node) S 1 4242 4242 0 -1 4194560 1 0 0 0 5 3 0 0 20 0 11 0 987654 1234 56 18446744073709551615 1 1 0 0 0 0 0 16781312 134234626 0 0 0 17 1 0 0 0 0 0')
    expect(s).toMatchObject({pid: 4242, comm: 'node', state: 'S', ppid: 1, pgid: 4242, sid: 4242, startTime: '987654', utimeTicks: 5, stimeTicks: 3, threads: 11})
  })

  it('survives a comm with spaces and parentheses', () => {
    const s = parseStat('77 (a) b (c)) Z 5 77 77 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 4321 0 0')
    expect(s).toMatchObject({pid: 77, comm: 'a) b (c)', state: 'Z', ppid: 5, startTime: '4321'})
    expect(isDeadState(s!.state)).toBe(true)
  })

  it('rejects garbage', () => {
    expect(parseStat('')).toBeNull()
    expect(parseStat('12 (x) S 1')).toBeNull()
  })

  it('reads the real stat of this process', () => {
    const s = parseStat(readFileSync('/proc/self/stat', 'latin1'))
    expect(s?.pid).toBeGreaterThan(1)
    expect(Number(s?.startTime)).toBeGreaterThan(0)
  })

  it('splits cmdline on NUL', () => {
    expect(parseCmdline('node\0a b\0\0')).toEqual(['node', 'a b', ''])
    expect(parseCmdline('')).toEqual([])
  })
})

describe('ss -Htlnp', () => {
  it('parses captured output: IPv4, IPv6 loopback, dual-stack, and an owner ss cannot show', () => {
    const rows = parseSsListeners(snap('ss-Htlnp-debian12.txt'))
    expect(rows).toEqual([
      {address: '0.0.0.0', port: 2024, owners: []},
      {address: '127.0.0.1', port: 44287, owners: [{comm: 'node', pid: 2762, fd: 19}]},
      {address: '[::1]', port: 35909, owners: [{comm: 'node', pid: 2763, fd: 19}]},
      {address: '*', port: 45367, owners: [{comm: 'node', pid: 2751, fd: 3}]},
    ])
  })

  it('lists every process sharing one inherited socket', () => {
    const [row] = parseSsListeners(snap('ss-shared-socket.txt'))
    expect(row.owners.map((o) => o.pid)).toEqual([2828, 2820])
  })

  it('reads inodes with -e', () => {
    expect(parseSsListeners(snap('ss-Htlnpe-debian12.txt')).map((r) => r.inode)).toEqual([1575, 7293, 6359])
  })

  it("reads the socket's uid with -e (absent = 0), never from a process name made to look like it", () => {
    expect(parseSsListeners(snap('ss-Htlnpe-debian12.txt')).map((r) => r.uid)).toEqual([0, 0, 0])
    const user = 'LISTEN 0 8 127.0.0.1:5000 0.0.0.0:* users:(("python3",pid=7,fd=3)) uid:1001 ino:99 sk:1 cgroup:/ <->'
    expect(parseSsListeners(user)[0]).toMatchObject({uid: 1001, inode: 99})
    const forged = 'LISTEN 0 8 127.0.0.1:5000 0.0.0.0:* users:((" uid:0 ino:1",pid=7,fd=3)) uid:1001 ino:99 sk:1 <->'
    expect(parseSsListeners(forged)[0]).toMatchObject({uid: 1001, inode: 99})
  })

  it('ignores non-LISTEN rows and handles quoted commas in comm', () => {
    const rows = parseSsListeners('ESTAB 0 0 127.0.0.1:1 127.0.0.1:2 users:(("x",pid=1,fd=1))\nLISTEN 0 5 127.0.0.1%lo:53 0.0.0.0:* users:(("a\\",b",pid=9,fd=4))\n')
    expect(rows).toEqual([{address: '127.0.0.1', port: 53, owners: [{comm: 'a\\",b', pid: 9, fd: 4}]}])
  })
})

describe('/proc/net/tcp{,6}', () => {
  it('decodes LISTEN sockets of captured IPv4 output', () => {
    expect(parseProcNetTcp(snap('proc-net-tcp.txt'), 4)).toEqual([
      {address: '0.0.0.0', port: 2024, inode: 1575, uid: 0},
      {address: '127.0.0.1', port: 44287, inode: 7293, uid: 0},
    ])
  })

  it('decodes LISTEN sockets of captured IPv6 output', () => {
    expect(parseProcNetTcp(snap('proc-net-tcp6.txt'), 6)).toEqual([
      {address: '[::1]', port: 35909, inode: 6359, uid: 0},
      {address: '[::]', port: 45367, inode: 7281, uid: 0},
    ])
  })

  it('skips connected sockets', () => {
    const text = 'header\n   0: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 999 1\n'
    expect(parseProcNetTcp(text, 4)).toEqual([])
  })
})
