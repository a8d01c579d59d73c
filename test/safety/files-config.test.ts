// Attack report B1: root's medic ran a --start-cmd from a medic.config.json another user
// wrote (in the working directory — no longer searched at all —, or in ~/.config/medic when
// sudo keeps HOME; here the config directories are $XDG_CONFIG_HOME/medic). A config
// file is a list of commands root will run: as root it is used only when the file and
// every directory above it belong to root (or to medic's own user) and no other user can
// write them (a sticky parent like /tmp excepted) — otherwise UNKNOWN naming it, nothing run.
import {chmodSync, chownSync, existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {alive, expectContract, freePort, Janitor, medic, startService} from '../helpers/procs.js'
import {asUser, TestUsers, userOrSkip} from '../helpers/users.js'

const j = new Janitor()
const users = new TestUsers()
afterEach(async () => {
  await j.cleanup()
  users.removeAll()
})



/** A root-owned 0755 directory (j.tmp() is 0700). */
function rootDir(): string {
  const d = j.tmp()
  chmodSync(d, 0o755)
  return d
}

/** A root-owned 0755 config directory, `<XDG_CONFIG_HOME>/medic` for `health` below. */
function configDir(): string {
  const d = join(rootDir(), 'medic')
  mkdirSync(d, {mode: 0o755})
  return d
}

/** A config whose gw service "repairs" by touching `mark`: the mark is the command having run. */
async function config(mark: string): Promise<string> {
  const port = await freePort()
  return JSON.stringify({services: {gw: {port, manager: 'command', 'start-cmd': `touch ${mark}`, 'reprobe-delay': '10ms', 'verify-timeout': '200ms', 'probe-timeout': '200ms'}}})
}

/** health with `dir` as the config directory ($XDG_CONFIG_HOME/medic); run from another directory. */
const health = (dir: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}) => medic(['health', 'gw', '--state-dir', j.tmp(), ...extra], {cwd: j.tmp(), env: {XDG_CONFIG_HOME: dirname(dir), ...env}})

describe.skipIf(process.getuid?.() !== 0)('as root, a config file another user can change is refused', () => {
  it('a trusted config (root-owned file, root-owned dirs) is used: its start-cmd runs', async () => {
    const cwd = configDir()
    const mark = join(j.tmp(), 'ran')
    writeFileSync(join(cwd, 'medic.config.json'), await config(mark), {mode: 0o644})
    const r = await health(cwd)
    expect(r.lines[0]).toMatch(/^GW_ALERT/) // touch started nothing that listens
    expect(existsSync(mark)).toBe(true)
  })

  it("a medic.config.json another user wrote in a shared config directory: UNKNOWN naming it, nothing run", async (ctx) => {
    const u = userOrSkip(users, ctx)
    const cwd = configDir()
    chmodSync(cwd, 0o1777) // a shared, sticky directory: the user may create files, not replace root's
    const mark = join(j.tmp(), 'ran')
    const file = join(cwd, 'medic.config.json')
    asUser(u, `require('fs').writeFileSync(${JSON.stringify(file)}, ${JSON.stringify(await config(mark))})`)
    const r = await health(cwd)
    expectContract(r, 'GW_UNKNOWN')
    expect(r.lines[0]).toContain(file)
    expect(r.stderr).toMatch(/owned by uid \d+/) // line 1 is cut at its width; the reason is in full on stderr
    expect(r.code).toBe(3)
    expect(existsSync(mark)).toBe(false)
  })

  it('a root-owned config in a directory the user owns (they can swap it): refused', async (ctx) => {
    const u = userOrSkip(users, ctx)
    const cwd = configDir()
    const mark = join(j.tmp(), 'ran')
    writeFileSync(join(cwd, 'medic.config.json'), await config(mark), {mode: 0o644})
    chownSync(cwd, u.uid, u.gid)
    const r = await health(cwd)
    expectContract(r, 'GW_UNKNOWN')
    expect(r.lines[0]).toContain(`${cwd} is owned by uid ${u.uid}`)
    expect(existsSync(mark)).toBe(false)
  })

  it('a root-owned config in a world-writable directory without the sticky bit, or itself group/world-writable: refused', async () => {
    const cwd = configDir()
    const mark = join(j.tmp(), 'ran')
    writeFileSync(join(cwd, 'medic.config.json'), await config(mark), {mode: 0o644})
    chmodSync(cwd, 0o777)
    const r = await health(cwd)
    expectContract(r, 'GW_UNKNOWN')
    expect(r.stderr).toMatch(/writable by every user/)
    chmodSync(cwd, 0o755)
    chmodSync(join(cwd, 'medic.config.json'), 0o666)
    const r2 = await health(cwd)
    expectContract(r2, 'GW_UNKNOWN')
    expect(r2.stderr).toMatch(/medic\.config\.json is writable by every user/)
    expect(existsSync(mark)).toBe(false)
  })

  it('a config in ~/.config/medic of the user whose HOME sudo kept: refused', async (ctx) => {
    const u = userOrSkip(users, ctx)
    const mark = join(j.tmp(), 'ran')
    const cfg = await config(mark)
    asUser(u, `const fs=require('fs');fs.mkdirSync(${JSON.stringify(join(u.home, '.config', 'medic'))},{recursive:true});fs.writeFileSync(${JSON.stringify(join(u.home, '.config', 'medic', 'config.json'))}, ${JSON.stringify(cfg)})`)
    const r = await health(rootDir(), [], {HOME: u.home, XDG_CONFIG_HOME: ''})
    expectContract(r, 'GW_UNKNOWN')
    expect(r.lines[0]).toContain(join(u.home, '.config', 'medic', 'config.json'))
    expect(existsSync(mark)).toBe(false)
  })

  it("--config naming the user's file, or a path through the user's symlink to root's config: refused with the reason", async (ctx) => {
    const u = userOrSkip(users, ctx)
    const mark = join(j.tmp(), 'ran')
    const cfg = await config(mark)
    const file = join(u.home, 'mine.json')
    asUser(u, `require('fs').writeFileSync(${JSON.stringify(file)}, ${JSON.stringify(cfg)})`)
    const r = await health(rootDir(), ['--config', file])
    expectContract(r, 'GW_UNKNOWN')
    expect(r.lines[0]).toContain(file)
    // Root's own config, reached through a symlink the user owns (the user can re-point it any time).
    const rootCfgDir = rootDir()
    writeFileSync(join(rootCfgDir, 'medic.config.json'), cfg, {mode: 0o644})
    const shared = rootDir()
    chmodSync(shared, 0o1777) // sticky: the user may add a name, not replace root's
    const link = join(shared, 'cfgdir')
    asUser(u, `require('fs').symlinkSync(${JSON.stringify(rootCfgDir)}, ${JSON.stringify(link)})`)
    const r2 = await health(rootDir(), ['--config', join(link, 'medic.config.json')])
    expectContract(r2, 'GW_UNKNOWN')
    expect(r2.stderr).toContain(`${link} is owned by uid ${u.uid}`)
    expect(existsSync(mark)).toBe(false)
  })

  it('protect add --pattern never edits a refused config; protect list says the patterns are unknown, not "0 patterns"', async (ctx) => {
    const u = userOrSkip(users, ctx)
    const cwd = configDir()
    chmodSync(cwd, 0o1777)
    const file = join(cwd, 'medic.config.json')
    asUser(u, `require('fs').writeFileSync(${JSON.stringify(file)}, '{"protect":[]}')`)
    const add = await medic(['protect', 'add', '--pattern', 'train', '--config', file, '--state-dir', j.tmp()])
    expectContract(add, 'PROTECT_UNKNOWN')
    expect(add.stdout).not.toMatch(/internal error/)
    expect(readFileSync(file, 'utf8')).toBe('{"protect":[]}')
    const list = await medic(['protect', 'list', '--state-dir', j.tmp(), '--json'], {env: {XDG_CONFIG_HOME: dirname(cwd)}})
    expect(JSON.parse(list.stdout).token).toBe('PROTECT_ALERT')
    expect(list.stdout).toContain(`${file}: refused`)
  })

  it('cleanup with a refused config signals nothing (its protect: patterns are unknown): ALERT naming the file', async (ctx) => {
    const u = userOrSkip(users, ctx)
    const cwd = configDir()
    chmodSync(cwd, 0o1777)
    const file = join(cwd, 'medic.config.json')
    asUser(u, `require('fs').writeFileSync(${JSON.stringify(file)}, '{"protect":[]}')`)
    const svc = await startService(j)
    const r = await medic(['cleanup', '--port', String(svc.port), '--grace', '200ms', '--state-dir', j.tmp(), '--json'], {env: {XDG_CONFIG_HOME: dirname(cwd)}})
    expect(r.code).toBe(2)
    const v = JSON.parse(r.stdout) as {token: string}
    expect(v.token).toBe('PORT_ALERT')
    expect(r.stdout).toContain(`${file}: refused`)
    expect(alive(svc.pid)).toBe(true)
  })
})
