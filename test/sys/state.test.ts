import {spawn} from 'node:child_process'
import {readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {systemClock} from '../../src/sys/clock.js'
import {LockManager} from '../../src/sys/lock.js'
import {LogFile} from '../../src/sys/log-file.js'
import {procTable} from '../../src/sys/proc-table.js'
import {resolveStateDir, StateLayout} from '../../src/sys/state-layout.js'
import {writeFileAtomic} from '../../src/sys/state-store.js'
import {Janitor, startService} from '../helpers/procs.js'

const j = new Janitor()
afterEach(() => j.cleanup())

describe('state dir', () => {
  it('defaults to /var/lib/medic for root and XDG for others, never /tmp', () => {
    expect(resolveStateDir(undefined, {}, 0)).toBe('/var/lib/medic')
    expect(resolveStateDir(undefined, {XDG_STATE_HOME: '/x/state', HOME: '/home/u'}, 1000)).toBe('/x/state/medic')
    expect(resolveStateDir(undefined, {HOME: '/home/u'}, 1000)).toBe('/home/u/.local/state/medic')
    expect(resolveStateDir(undefined, {MEDIC_STATE_DIR: '/s'}, 0)).toBe('/s')
    expect(resolveStateDir('/flag', {MEDIC_STATE_DIR: '/s'}, 0)).toBe('/flag')
    expect(resolveStateDir(undefined, {MEDIC_STATE_DIR: ''}, 0)).toBe('/var/lib/medic')
  })

  it('names every file in one layout, and no name leaves its folder', () => {
    const l = new StateLayout('/s')
    expect(l.superviseState('gw')).toBe('/s/supervise/gw.json')
    expect(l.supervisePid('gw')).toBe('/s/supervise/gw.pid')
    expect(l.superviseChildLog('gw')).toBe('/s/supervise/gw.out.log')
    expect(l.superviseErr('gw')).toBe('/s/supervise/gw.supervisor.err')
    expect(l.healthState('gw')).toBe('/s/health/gw.json')
    expect(l.healthCommandsLog('gw')).toBe('/s/health/gw.commands.log')
    expect(l.watchdogHang('gw')).toBe('/s/watchdog/gw-hang.json')
    expect(l.protectedEntry(42, '777')).toBe('/s/protected/42-777.json')
    expect(l.lock('port-18789')).toBe('/s/locks/port-18789.lock')
    expect(l.lock('health-../../x')).toBe('/s/locks/health-.._.._x.lock')
    expect(l.ollamaFrozen('127.0.0.1:11434')).toBe('/s/ollama/frozen-127.0.0.1_11434.json')
    for (const bad of ['', '.', '..', '../x', 'a/b', 'a\0b'.replace('\\0', '\0')]) expect(() => l.healthState(bad)).toThrow()
  })
})

describe('atomic write', () => {
  it('replaces the file whole and leaves no temporary behind', () => {
    const d = j.tmp()
    const p = join(d, 'sub', 'state.json')
    writeFileAtomic(p, '{"a":1}')
    writeFileAtomic(p, '{"a":2}')
    expect(readFileSync(p, 'utf8')).toBe('{"a":2}')
    expect(readdirSync(join(d, 'sub'))).toEqual(['state.json'])
  })
})

describe('lock per target', () => {
  it('lets one holder in, keeps a live owner, and takes over from a dead one', async () => {
    const d = j.tmp()
    const a = new LockManager(new StateLayout(d), procTable, systemClock)
    const first = await a.acquire('gw', 0)
    expect(first.acquired).toBe(true)
    const second = await a.acquire('gw', 50)
    expect(second).toMatchObject({acquired: false, owner: {pid: process.pid}})
    if (first.acquired) first.release()
    expect((await a.acquire('gw', 0)).acquired).toBe(true)

    // A lock left by a process that is gone: taken over.
    const s = await startService(j)
    const st = procTable.stat(s.pid)!
    const lockPath = a.path('dead')
    writeFileAtomic(lockPath, JSON.stringify({pid: s.pid, startTime: st.startTime, acquiredAt: ''}))
    expect((await a.acquire('dead', 0)).acquired).toBe(false)
    process.kill(s.pid, 'SIGKILL')
    await new Promise((r) => s.child.once('exit', r))
    expect((await a.acquire('dead', 0)).acquired).toBe(true)

    // A lock whose pid is alive but with another start time (reused pid): stale.
    writeFileAtomic(a.path('reused'), JSON.stringify({pid: process.pid, startTime: '1', acquiredAt: ''}))
    expect((await a.acquire('reused', 0)).acquired).toBe(true)
  })

  it('admits exactly one of many processes racing for it', async () => {
    const d = j.tmp()
    const script = `
      import {LockManager} from '${new URL('../../dist/sys/lock.js', import.meta.url).pathname}'
      import {procTable} from '${new URL('../../dist/sys/proc-table.js', import.meta.url).pathname}'
      import {systemClock} from '${new URL('../../dist/sys/clock.js', import.meta.url).pathname}'
      import {StateLayout} from '${new URL('../../dist/sys/state-layout.js', import.meta.url).pathname}'
      const r = await new LockManager(new StateLayout(process.argv[1]), procTable, systemClock).acquire('race', 0)
      process.stdout.write(r.acquired ? 'won' : 'lost')
      // The winner holds the lock until the test has every answer (its stdin closes).
      if (r.acquired) process.stdin.resume().once('end', () => process.exit(0))
    `
    const stdins: NodeJS.WritableStream[] = []
    const runs = Array.from({length: 6}, () => new Promise<string>((resolve) => {
      const c = spawn(process.execPath, ['--input-type=module', '-e', script, d], {stdio: ['pipe', 'pipe', 'inherit']})
      stdins.push(c.stdin!)
      j.child(c)
      let out = ''
      c.stdout.on('data', (x) => {
        out += x
        resolve(out)
      })
      c.on('exit', () => resolve(out))
    }))
    const results = await Promise.all(runs)
    for (const s of stdins) s.end()
    expect(results.filter((r) => r === 'won')).toHaveLength(1)
  })
})

describe('log file', () => {
  it('stamps lines with ISO-8601 and caps its size', () => {
    const p = join(j.tmp(), 'logs', 'x.log')
    const log = new LogFile(p, 2000, () => new Date('2026-11-23T10:00:00Z'))
    for (let i = 0; i < 100; i++) log.line(`line ${i}\nwith newline`)
    const text = readFileSync(p, 'utf8')
    expect(text.length).toBeLessThanOrEqual(2000)
    expect(text).toMatch(/^\[2026-11-23T\d\d:00:00[+-]\d\d:\d\d\] line \d+ with newline$/m)
    expect(text).toContain('line 99 with newline')
  })
})
