// run-dev-safe's own wrapper may always signal its own job (attack-gate D1): a user's
// run-dev-safe traced by strace forwards SIGTERM/SIGINT/SIGHUP to the job, even though the
// job's own registration (whose session strace leads) protects it from every other medic.
import {spawn, spawnSync} from 'node:child_process'
import {chownSync, mkdirSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {procTable} from '../../src/sys/proc-table.js'
import {alive, BIN, Janitor, SERVICE, until, waitReady} from '../helpers/procs.js'
import {TestUsers} from '../helpers/users.js'

const j = new Janitor()
// What each process of the wrapper's tree is doing (state, kernel wait channel, argv): said when
// the job's registration never shows, to tell a hang from a slow machine.
function tree(root: number): string {
  const r = spawnSync('ps', ['-eo', 'pid,ppid,stat,wchan:24,etimes,args', '--forest'], {encoding: 'utf8'})
  const rows = (r.stdout ?? '').split('\n')
  const pids = new Set([root])
  const out: string[] = []
  for (const row of rows) {
    const [pid, ppid] = row.trim().split(/\s+/).map(Number)
    if (pids.has(pid) || pids.has(ppid)) (pids.add(pid), out.push(row.trim()))
  }
  return out.join(' | ') || 'gone'
}
const users = new TestUsers()
afterEach(async () => {
  await j.cleanup()
  users.removeAll()
})

describe('run-dev-safe forwards signals to its own job', () => {
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    it(`D1: a user's traced job (strace) ends on ${sig} to the wrapper`, async (ctx) => {
      const why = users.cannot()
      if (why) {
        console.log(`skipped: ${why}`)
        return ctx.skip()
      }
      const u = users.create()
      const run = join(u.home, 'run')
      mkdirSync(run)
      chownSync(run, u.uid, u.gid)
      const ready = join(run, 'ready.json')
      let err = ''
      const wrapper = spawn(process.execPath, [BIN, 'run-dev-safe', '--', process.execPath, SERVICE, '--ready', ready], {
        stdio: ['ignore', 'ignore', 'pipe'], detached: true, uid: u.uid, gid: u.gid, cwd: u.home,
        env: {PATH: process.env.PATH, HOME: u.home, USER: u.name, NO_COLOR: '1', MEDIC_PROTECTED_DIR: join(u.home, 'none', 'protected')},
      })
      wrapper.stderr!.on('data', (d) => (err += d))
      j.child(wrapper)
      const svc = await waitReady(ready, `${u.name}'s traced job`, () => true, 60_000)
      j.track(svc.pid)
      // The job registered itself: its own entry is in place before the signal.
      await until('the job registered', () => /PID: \d+ \(registered in /.test(err), 60_000).catch((e) => Promise.reject(new Error(`${(e as Error).message}; stderr: ${err}; the wrapper's tree: ${tree(wrapper.pid!)}`))) // strace's child is looked for by a scan of /proc: slow on a loaded machine
      const parent = procTable.stat(procTable.stat(svc.pid)!.ppid)
      expect(parent?.comm, 'the job runs under strace').toBe('strace')
      const exited = new Promise<number | null>((r) => wrapper.once('exit', (c) => r(c)))
      process.kill(wrapper.pid!, sig)
      let timer: NodeJS.Timeout | undefined // bounds the failure (the wrapper ignoring the signal), not a synchronisation
      const code = await Promise.race([exited, new Promise<'hung'>((r) => (timer = setTimeout(() => r('hung'), 30_000)))])
      clearTimeout(timer)
      expect(code, `stderr: ${err}`).not.toBe('hung')
      expect(alive(svc.pid)).toBe(false)
    }, 180_000) // a traced job took over 20 s to start on a shared host at load 10: safety nets, no timing asserted
  }
})
