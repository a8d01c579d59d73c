// A user's registry entry, or a user's socket, must never make root's medic spare or
// hit the wrong process (attack-gate B2, A4): a user protects only that user's
// processes, and a port whose socket belongs to one user but is held by another's
// process is not acted upon.
import {spawn} from 'node:child_process'
import {chmodSync, chownSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {procTable} from '../../src/sys/proc-table.js'
import {alive, expectContract, Janitor, medic, SERVICE, until, waitReady} from '../helpers/procs.js'
import {TestUsers, type TestUser} from '../helpers/users.js'

const j = new Janitor()
const users = new TestUsers()
afterEach(async () => {
  await j.cleanup()
  users.removeAll()
})

function userOrSkip(ctx: {skip: () => never}): TestUser {
  const why = users.cannot()
  if (why) {
    console.log(`skipped: ${why}`)
    ctx.skip()
  }
  return users.create()
}

/** A directory every user can reach, owned by root (the parent of a test's host registry). */
function openDir(): string {
  const d = j.tmp()
  chmodSync(d, 0o755)
  return d
}

describe("a user's registry entry protects that user's processes only", () => {
  it("B2: a session claim on root's session (the leader is the user process's parent) does not protect root's listener", async (ctx) => {
    const u = userOrSkip(ctx)
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
