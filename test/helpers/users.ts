import {spawnSync} from 'node:child_process'
import {chownSync, mkdirSync, rmSync} from 'node:fs'
import {BIN} from './procs.js'

export interface TestUser {
  name: string
  uid: number
  gid: number
  home: string
}

/**
 * Throwaway Unix users for the tests that try to make medic hit another user's process:
 * created with useradd under a unique name, deleted (with their home) by `removeAll`
 * after every process they ran was killed. Null, with the reason, where that cannot be
 * done (not root, no useradd, a checkout the user cannot read).
 */
export class TestUsers {
  private made: TestUser[] = []

  cannot(): string | null {
    if (process.getuid?.() !== 0) return 'needs root to create a second Unix user'
    if (spawnSync('useradd', ['--help'], {stdio: 'ignore'}).error) return 'useradd is not installed'
    return null
  }

  create(): TestUser {
    const name = `mdt${process.pid % 100000}${Math.random().toString(36).slice(2, 6)}`
    const home = `/tmp/medic-home-${name}`
    const r = spawnSync('useradd', ['-M', '-d', home, '-s', '/usr/sbin/nologin', '-U', name], {encoding: 'utf8'})
    if (r.status !== 0) throw new Error(`useradd ${name}: ${r.stderr}`)
    const id = (flag: string) => Number(spawnSync('id', [flag, name], {encoding: 'utf8'}).stdout.trim())
    const user = {name, uid: id('-u'), gid: id('-g'), home}
    this.made.push(user)
    mkdirSync(home, {mode: 0o700})
    chownSync(home, user.uid, user.gid)
    const can = spawnSync(process.execPath, ['-e', `require('fs').accessSync(${JSON.stringify(BIN)}, require('fs').constants.R_OK)`], {uid: user.uid, gid: user.gid})
    if (can.status !== 0) throw new Error(`user ${name} cannot read ${BIN} (the checkout is not world-readable)`)
    return user
  }

  /** A new user, or the test skipped with the printed reason. */
  orSkip(ctx: {skip: () => never}): TestUser {
    const why = this.cannot()
    if (why) {
      console.log(`skipped: ${why}`)
      ctx.skip()
    }
    return this.create()
  }

  /** Call after every process of these users is gone. */
  removeAll(): void {
    for (const u of this.made) {
      spawnSync('userdel', ['-f', u.name], {stdio: 'ignore'})
      rmSync(u.home, {recursive: true, force: true})
    }
    this.made = []
  }
}

/** A throwaway user from `users`, or the test skipped with the printed reason. */
export function userOrSkip(users: TestUsers, ctx: {skip: () => never}): TestUser {
  const why = users.cannot()
  if (why) {
    console.log(`skipped: ${why}`)
    ctx.skip()
  }
  return users.create()
}

/** Runs a small node script as `u` — the other user's own hands: what it makes, it owns. */
export function asUser(u: TestUser, script: string): void {
  const r = spawnSync(process.execPath, ['-e', script], {uid: u.uid, gid: u.gid, encoding: 'utf8'})
  if (r.status !== 0) throw new Error(`as ${u.name}: ${r.stderr}`)
}
