// A user's registry entry, or a user's socket, must never make root's medic spare or
// hit the wrong process (attack-gate B2, A4): a user protects only that user's
// processes, and a port whose socket belongs to one user but is held by another's
// process is not acted upon.
import {spawn, spawnSync} from 'node:child_process'
import {chmodSync, chownSync, existsSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {procTable} from '../../src/sys/proc-table.js'
import {alive, expectContract, Janitor, medic, SERVICE, until, waitReady} from '../helpers/procs.js'
import {TestUsers} from '../helpers/users.js'

const j = new Janitor()
const users = new TestUsers()
afterEach(async () => {
  await j.cleanup()
  users.removeAll()
})


/** A directory every user can reach, owned by root (the parent of a test's host registry). */
function openDir(): string {
  const d = j.tmp()
  chmodSync(d, 0o755)
  return d
}

describe("a user's registry entry protects that user's processes only", () => {
  it("B2: a session claim on root's session (the leader is the user process's parent) does not protect root's listener", async (ctx) => {
    const u = users.orSkip(ctx)
    const host = join(openDir(), 'protected')
    const env = {MEDIC_PROTECTED_DIR: host}
    expectContract(await medic(['protect', 'list', '--state-dir', j.tmp()], {env}), 'PROTECT_OK') // makes the host registry
    const dir = j.tmp()
    const ready = join(dir, 'ready.json')
    const sleepPid = join(dir, 'sleep.pid')
    // Root's session leader runs root's listener and, as a child, a process of the user.
    const bash = spawn('bash', ['-c', `"$0" "$1" --ready "$2" & setpriv --reuid=${u.uid} --regid=${u.gid} --clear-groups sleep 600 & echo $! > "$3"; wait`, process.execPath, SERVICE, ready, sleepPid], {stdio: 'ignore', detached: true})
    j.child(bash)
    const svc = await waitReady(ready, "root's listener")
    const userPid = await until('the user process', () => {
      try {
        const pid = Number(readFileSync(sleepPid, 'utf8').trim())
        return pid > 1 && procTable.realUid(pid) === u.uid ? pid : null
      } catch {
        return null
      }
    })
    const ust = procTable.stat(userPid)!
    const lst = procTable.stat(bash.pid!)!
    expect(ust.sid).toBe(bash.pid)
    // The user registers its own process, claiming the session it is in (its parent leads it).
    const forged = join(host, `${userPid}-${ust.startTime}.json`)
    writeFileSync(forged, JSON.stringify({version: 1, pid: userPid, startTime: ust.startTime, name: 'forged', cmdline: ['sleep'], descendants: true, registeredAt: '', session: {sid: bash.pid, startTime: lst.startTime}}))
    chownSync(forged, u.uid, u.gid)
    const r = await medic(['cleanup', '--port', String(svc.port), '--state-dir', j.tmp()], {env})
    expectContract(r, 'PORT_RECOVERED')
    expect(alive(svc.pid)).toBe(false)
    expect(alive(userPid)).toBe(true) // the user's own process stays protected (not that cleanup aimed at it)
  })
})

describe('a socket another user made and handed over', () => {
  it("A4: a user's listening socket passed (SCM_RIGHTS) into root's daemon: cleanup refuses the daemon, naming both uids", async (ctx) => {
    if (spawnSync('python3', ['-c', 'import socket; socket.send_fds'], {stdio: 'ignore'}).status !== 0) {
      console.log('skipped: needs python3 >= 3.9 (socket.send_fds) to pass a socket between processes')
      return ctx.skip()
    }
    const u = users.orSkip(ctx)
    const dir = openDir()
    const unix = join(dir, 'pass.sock')
    const ready = join(dir, 'ready.json')
    // Root's daemon: takes whatever fd is sent to it and keeps it open.
    const daemon = spawn('python3', ['-c', `
import json, os, socket, sys, time
srv = socket.socket(socket.AF_UNIX); srv.bind(sys.argv[1]); os.chmod(sys.argv[1], 0o777); srv.listen(1)
open(sys.argv[2] + '.tmp', 'w').write('{}'); os.rename(sys.argv[2] + '.tmp', sys.argv[2] + '.listening')
conn, _ = srv.accept()
msg, fds, _, _ = socket.recv_fds(conn, 64, 1)
port = int(msg)
tmp = sys.argv[2] + '.tmp'
open(tmp, 'w').write(json.dumps({'pid': os.getpid(), 'port': port})); os.rename(tmp, sys.argv[2])
while True: time.sleep(3600)
`, unix, ready], {stdio: 'ignore', detached: true})
    j.child(daemon)
    await until('the daemon listens', () => existsSync(`${ready}.listening`))
    // The user makes a listening TCP socket, sends it over and exits: root's daemon is its only holder.
    const sender = spawn('python3', ['-c', `
import socket, sys
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(8)
c = socket.socket(socket.AF_UNIX); c.connect(sys.argv[1])
socket.send_fds(c, [str(s.getsockname()[1]).encode()], [s.fileno()])
`, unix], {stdio: 'ignore', uid: u.uid, gid: u.gid})
    await new Promise((r) => sender.once('exit', r))
    const d = await waitReady(ready, "root's daemon")
    const r = await medic(['cleanup', '--port', String(d.port), '--state-dir', j.tmp(), '--json'])
    const v = JSON.parse(r.stdout)
    expect(v.status).toBe('ALERT')
    expect(v.summary).toBe(`port ${d.port} still held: pid ${d.pid} (python3, user root, sleeping): it runs as uid 0 but holds a listening socket of uid ${u.uid} (127.0.0.1:${d.port}), which that user made and handed over: not signalled`)
    expect(alive(d.pid)).toBe(true)
  })
})

