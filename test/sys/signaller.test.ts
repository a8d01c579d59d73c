import {spawn} from 'node:child_process'
import {afterEach, describe, expect, it} from 'vitest'
import {procTable} from '../../src/sys/proc-table.js'
import {makeSignaller} from '../../src/sys/signaller.js'
import {alive, Janitor, startService} from '../helpers/procs.js'

const j = new Janitor()
afterEach(() => j.cleanup())

describe('signaller', () => {
  it('signals a process whose identity matches', async () => {
    const s = await startService(j)
    const st = procTable.stat(s.pid)!
    const exited = new Promise((r) => s.child.once('exit', (_c, sig) => r(sig)))
    expect(makeSignaller(procTable).send(s.pid, st.startTime, 'SIGTERM')).toBe('sent')
    expect(await exited).toBe('SIGTERM')
  })

  it('does not signal when the start time differs: the pid was reused', async () => {
    const s = await startService(j)
    expect(makeSignaller(procTable).send(s.pid, '1', 'SIGKILL')).toBe('reused')
    expect(alive(s.pid)).toBe(true)
  })

  it('reports a vanished process as gone', async () => {
    const s = await startService(j)
    const st = procTable.stat(s.pid)!
    process.kill(s.pid, 'SIGKILL')
    await new Promise((r) => s.child.once('exit', r))
    expect(makeSignaller(procTable).send(s.pid, st.startTime, 'SIGTERM')).toBe('gone')
  })

  it('refuses pid 1, itself and its ancestors whatever the identity', () => {
    const sig = makeSignaller(procTable)
    expect(sig.send(1, procTable.stat(1)?.startTime ?? '0', 'SIGTERM')).toBe('refused')
    expect(sig.send(0, '0', 'SIGTERM')).toBe('refused')
    expect(sig.send(process.pid, procTable.stat(process.pid)!.startTime, 'SIGTERM')).toBe('refused')
    const parent = procTable.stat(process.ppid)!
    expect(sig.send(parent.pid, parent.startTime, 'SIGTERM')).toBe('refused')
  })

  it('treats a zombie as gone', async () => {
    // `true` exits; its parent has exec'd into sleep, which never reaps it: a zombie.
    const c = spawn('sh', ['-c', 'true & echo $!; exec sleep 1000'], {stdio: ['ignore', 'pipe', 'inherit'], detached: true})
    j.child(c)
    const pid = Number(await new Promise<string>((r) => c.stdout!.once('data', (d) => r(String(d)))))
    let st = procTable.stat(pid)
    for (let i = 0; i < 1000 && st?.state !== 'Z'; i++) {
      await new Promise((r) => setTimeout(r, 5))
      st = procTable.stat(pid)
    }
    expect(st?.state).toBe('Z')
    expect(procTable.liveness(pid, st!.startTime)).toBe('gone')
    expect(makeSignaller(procTable).send(pid, st!.startTime, 'SIGKILL')).toBe('gone')
  })
})
