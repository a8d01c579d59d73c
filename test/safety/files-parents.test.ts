// Attack report C1–C4: O_NOFOLLOW guards only the last component of a path. Another user's
// symlink one level up (`/tmp/atk_logs -> /root/secret`), or a directory that user owns,
// made root's medic replace, append to, move into, prune and delete files in root's own
// 0700 directory. As root, every path medic writes, moves or deletes is walked from / one
// component at a time; a component another user owns or can change (a symlink of theirs,
// their directory, a group/world-writable one without the sticky bit) is refused — nothing
// written, moved or deleted there — and the verdict says so.
import {chmodSync, chownSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, symlinkSync, utimesSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {expectContract, freePort, Janitor, medic} from '../helpers/procs.js'
import {asUser, TestUsers, userOrSkip, type TestUser} from '../helpers/users.js'

const j = new Janitor()
const users = new TestUsers()
afterEach(async () => {
  await j.cleanup()
  users.removeAll()
})



const SECRET = 'root-only settings\n'
const OLD = 'an archive root keeps\n'

/** Root's private directory (0700) with files that must come out of every run as they went in. */
function victim(): string {
  const v = j.tmp()
  chmodSync(v, 0o700)
  writeFileSync(join(v, 'app.conf'), SECRET, {mode: 0o600})
  writeFileSync(join(v, 'a.jsonl.20200101T000000Z.old'), OLD, {mode: 0o600})
  writeFileSync(join(v, 'big.jsonl'), 'x'.repeat(4096) + '\n', {mode: 0o600})
  utimesSync(join(v, 'big.jsonl'), new Date(Date.now() - 3_600_000), new Date(Date.now() - 3_600_000))
  writeFileSync(join(v, 'x.lock'), JSON.stringify({pid: 2 ** 22 + 17}), {mode: 0o600}) // a pid no process has
  utimesSync(join(v, 'x.lock'), new Date(Date.now() - 3_600_000), new Date(Date.now() - 3_600_000))
  return v
}

/** Everything in `dir` (recursively), name → text and mode: what "untouched" means. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const e of readdirSync(dir, {withFileTypes: true, recursive: true})) {
    const p = join(e.parentPath ?? (e as unknown as {path: string}).path, e.name)
    const st = lstatSync(p)
    out[p.slice(dir.length)] = `${(st.mode & 0o7777).toString(8)} ${st.isFile() ? readFileSync(p, 'utf8') : ''}`
  }
  return out
}

/** A sticky, world-writable directory root owns (like /tmp): the user may add names there, never replace root's. */
function shared(): string {
  const d = j.tmp()
  chmodSync(d, 0o1777)
  return d
}

/** The user's symlink `shared/<name>` → `target` (root's directory). */
function userLink(u: TestUser, target: string, name = 'logs'): string {
  const link = join(shared(), name)
  asUser(u, `require('fs').symlinkSync(${JSON.stringify(target)}, ${JSON.stringify(link)})`)
  return link
}

describe.skipIf(process.getuid?.() !== 0)("as root, a path through another user's symlink or directory is refused", () => {
  it('C1: run-dev-safe --json-report (and --log-file) through the symlink: root\'s file is not replaced', async (ctx) => {
    const u = userOrSkip(users, ctx)
    const v = victim()
    const before = snapshot(v)
    const link = userLink(u, v)
    const r = await medic(['run-dev-safe', '--state-dir', j.tmp(), '--no-trace', '--log-file', join(link, 'job.log'), '--json-report', join(link, 'app.conf'), '--', 'true'])
    expect(snapshot(v)).toEqual(before)
    expect(r.stderr).toContain(`${link} is owned by uid ${u.uid}`)
    expect(r.stderr).toMatch(/DEVRUN_ALERT: .*report/) // the job ran, its report could not be written: said, not OK
    // A directory the user owns is theirs to swap: refused the same way.
    const r2 = await medic(['run-dev-safe', '--state-dir', j.tmp(), '--no-trace', '--json-report', join(u.home, 'report.json'), '--', 'true'])
    expect(r2.stderr).toContain(`DEVRUN_ALERT: true: DEV SCRIPT COMPLETED (exit code: 0)`)
    expect(r2.stderr).toContain(`--json-report not written: `) // the line is cut at its width: the path and why are on JSON/-v
    expect(r2.code).toBe(0) // the wrapper still exits with the job's status
    expect(readdirSync(u.home)).toEqual([])
  })

  it('C1 control: a report in a root-owned directory under sticky /tmp-like parents is written', async () => {
    const dir = join(shared(), 'reports')
    mkdirSync(dir)
    const r = await medic(['run-dev-safe', '--state-dir', j.tmp(), '--no-trace', '--json-report', join(dir, 'sub', 'r.json'), '--', 'true'])
    expect(r.code).toBe(0)
    expect(JSON.parse(readFileSync(join(dir, 'sub', 'r.json'), 'utf8')).status).toBe('OK')
  })

  it("C2: cleanup --log-file through the symlink: root's file is not appended to, no folder made there", async (ctx) => {
    const u = userOrSkip(users, ctx)
    const v = victim()
    const before = snapshot(v)
    const link = userLink(u, v)
    const port = String(await freePort())
    const r = await medic(['cleanup', '--port', port, '--log-file', join(link, 'app.conf'), '--state-dir', j.tmp()])
    expectContract(r, 'PORT_OK') // a log that cannot be written never changes a verdict …
    expect(r.stderr).toContain(`${link} is owned by uid ${u.uid}`) // … but is said
    await medic(['cleanup', '--port', port, '--log-file', join(link, 'newdir', 'medic.log'), '--state-dir', j.tmp()])
    expect(snapshot(v)).toEqual(before)
  })

  it('C3: watchdog --ops-dir the user owns, with error/ → root\'s directory: nothing moved or written there', async (ctx) => {
    const u = userOrSkip(users, ctx)
    const v = victim()
    const before = snapshot(v)
    const ops = join(u.home, 'ops')
    asUser(u, `const fs=require('fs');fs.mkdirSync(${JSON.stringify(ops)});fs.symlinkSync(${JSON.stringify(v)}, ${JSON.stringify(join(ops, 'error'))});fs.writeFileSync(${JSON.stringify(join(ops, 'req-evil.json'))}, '{"action":"set_model"}')`)
    const r = await medic(watchdogOps(ops))
    expectContract(r, 'WATCHDOG_ALERT')
    expect(r.stdout + r.stderr).toContain(`${ops} is owned by uid ${u.uid}`)
    expect(snapshot(v)).toEqual(before)
    expect(readdirSync(ops).sort()).toEqual(['error', 'req-evil.json']) // the request left where it was
  })

  it("C3: a root-owned sticky ops dir (users drop requests) where the user planted error/ → root's directory", async (ctx) => {
    const u = userOrSkip(users, ctx)
    const v = victim()
    const before = snapshot(v)
    const ops = shared()
    asUser(u, `const fs=require('fs');fs.symlinkSync(${JSON.stringify(v)}, ${JSON.stringify(join(ops, 'error'))});fs.writeFileSync(${JSON.stringify(join(ops, 'req-evil.json'))}, '{"action":"set_model"}')`)
    const r = await medic(watchdogOps(ops))
    expectContract(r, 'WATCHDOG_ALERT')
    expect(r.stdout + r.stderr).toContain(`${join(ops, 'error')} is owned by uid ${u.uid}`)
    expect(snapshot(v)).toEqual(before)
  })

  it('C3 control: a request a user drops in a root-owned sticky ops dir is processed', async (ctx) => {
    const u = userOrSkip(users, ctx)
    const ops = shared()
    asUser(u, `require('fs').writeFileSync(${JSON.stringify(join(ops, 'req-ok.json'))}, '{"action":"set_model"}')`)
    const r = await medic(watchdogOps(ops))
    expectContract(r, 'WATCHDOG_ALERT') // set_model is unsupported: error/, with its result
    expect(readdirSync(join(ops, 'error')).sort()).toEqual(['req-ok.json', 'req-ok.result.json'])
  })

  it("watchdog --restart-flag through the user's symlink: root's file of that name is not consumed (deleted)", async (ctx) => {
    const u = userOrSkip(users, ctx)
    const v = victim()
    writeFileSync(join(v, 'restart.flag'), 'root keeps this\n', {mode: 0o600})
    const before = snapshot(v)
    const link = userLink(u, v)
    const root = j.tmp()
    const r = await medic(['watchdog', '--once', '--ops-dir', '', '--sessions-dir', join(root, 'none'), '--restart-flag', join(link, 'restart.flag'), '--state-dir', join(root, 'state'), '--manager', 'none', '--gateway-match', '^no such gateway$'])
    expectContract(r, 'WATCHDOG_ALERT')
    expect(r.stdout + r.stderr).toContain(`${link} is owned by uid ${u.uid}`)
    expect(snapshot(v)).toEqual(before)
  })

  it("C4: sessions archive --dir and locks clean --dir through the user's symlink: root's files stay", async (ctx) => {
    const u = userOrSkip(users, ctx)
    const v = victim()
    const before = snapshot(v)
    const link = userLink(u, v, 'sessions')
    const s = await medic(['sessions', 'archive', '--dir', link, '--max-size', '1KB', '--quiet', '1s', '--prune-older-than', '1d', '--state-dir', j.tmp()])
    expectContract(s, 'WATCHDOG_ALERT')
    expect(s.stdout + s.stderr).toContain(`${link} is owned by uid ${u.uid}`)
    const l = await medic(['locks', 'clean', '--dir', link, '--max-age', '1m', '--state-dir', j.tmp()])
    expectContract(l, 'WATCHDOG_ALERT')
    expect(snapshot(v)).toEqual(before)
  })

  it("C4: a sub-directory of --dir that is the user's (they can swap it for a symlink mid-walk) is not touched", async (ctx) => {
    const u = userOrSkip(users, ctx)
    const dir = j.tmp()
    chmodSync(dir, 0o755)
    const sub = join(dir, 'agent')
    mkdirSync(sub)
    chownSync(sub, u.uid, u.gid)
    asUser(u, `const fs=require('fs');fs.writeFileSync(${JSON.stringify(join(sub, 'old.lock'))}, '${2 ** 22 + 17}');const t=new Date(Date.now()-3600000);fs.utimesSync(${JSON.stringify(join(sub, 'old.lock'))}, t, t)`)
    writeFileSync(join(dir, 'root.lock'), String(2 ** 22 + 17))
    utimesSync(join(dir, 'root.lock'), new Date(Date.now() - 3_600_000), new Date(Date.now() - 3_600_000))
    const l = await medic(['locks', 'clean', '--dir', dir, '--max-age', '1m', '--state-dir', j.tmp(), '--json'])
    expect(JSON.parse(l.stdout).token).toBe('WATCHDOG_ALERT')
    expect(l.stdout).toContain(`${sub} is owned by uid ${u.uid}`)
    expect(readdirSync(sub)).toEqual(['old.lock'])
  })
})

describe.skipIf(process.getuid?.() !== 0)('what the walk allows, and why a later swap cannot redirect it', () => {
  it("a root-owned folder below a folder another user owns (Debian's /var/lib/prometheus/node-exporter) is written", async (ctx) => {
    const u = userOrSkip(users, ctx)
    const theirs = join(rootOwned(), 'prometheus')
    mkdirSync(theirs)
    chownSync(theirs, u.uid, u.gid)
    const textfiles = join(theirs, 'node-exporter')
    mkdirSync(textfiles)
    const r = await medic(['run-dev-safe', '--state-dir', j.tmp(), '--no-trace', '--json-report', join(textfiles, 'r.json'), '--', 'true'])
    expect(r.code).toBe(0)
    expect(JSON.parse(readFileSync(join(textfiles, 'r.json'), 'utf8')).status).toBe('OK')
  })

  it("a folder its group may write (Ubuntu's /var/log, root:syslog 0775) takes a log; one every user may write, without the sticky bit, does not", async () => {
    const logs = join(rootOwned(), 'log')
    mkdirSync(logs)
    chmodSync(logs, 0o775)
    const port = String(await freePort())
    const r = await medic(['cleanup', '--port', port, '--log-file', join(logs, 'medic.log'), '--state-dir', j.tmp()])
    expect(r.stderr).toBe('')
    expect(readFileSync(join(logs, 'medic.log'), 'utf8')).toMatch(/cleanup/)
    chmodSync(logs, 0o777)
    const r2 = await medic(['cleanup', '--port', port, '--log-file', join(logs, 'other.log'), '--state-dir', j.tmp()])
    expect(r2.stderr).toMatch(/is writable by every user/)
    expect(readdirSync(logs)).toEqual(['medic.log'])
  })

  it('an act goes to the folder medic walked and holds, even when its path is swapped for a symlink afterwards', async () => {
    const {walkDir} = await import('../../src/sys/file-gate.js')
    const base = rootOwned()
    const dir = join(base, 'logs')
    mkdirSync(dir)
    const v = victim()
    const before = snapshot(v)
    const held = walkDir(dir)
    try {
      // What an owner of `base` could do between medic's check and its act:
      renameSync(dir, join(base, 'moved'))
      symlinkSync(v, dir)
      writeFileSync(held.at('app.conf'), 'written by medic\n')
    } finally {
      held.close()
    }
    expect(snapshot(v)).toEqual(before)
    expect(readFileSync(join(base, 'moved', 'app.conf'), 'utf8')).toBe('written by medic\n')
  })

  it('C3: a request hard-linked to another name (it may be a file the user may not read) is not claimed', async (ctx) => {
    const u = userOrSkip(users, ctx)
    const ops = shared()
    const req = join(ops, 'req-a.json')
    asUser(u, `const fs=require('fs');fs.writeFileSync(${JSON.stringify(req)}, '{"action":"set_model"}');fs.linkSync(${JSON.stringify(req)}, ${JSON.stringify(join(ops, 'other'))})`)
    const r = await medic(watchdogOps(ops))
    expectContract(r, 'WATCHDOG_ALERT')
    expect(r.stdout + r.stderr).toContain('has 2 hard links: not claimed')
    expect(readdirSync(ops).sort()).toEqual(['other', 'req-a.json']) // left where it was
  })
})

/** A root-owned 0755 directory. */
function rootOwned(): string {
  const d = j.tmp()
  chmodSync(d, 0o755)
  return d
}

function watchdogOps(ops: string): string[] {
  const root = j.tmp()
  return ['watchdog', '--once', '--ops-dir', ops, '--sessions-dir', join(root, 'none'), '--restart-flag', '', '--state-dir', join(root, 'state'), '--manager', 'none', '--gateway-match', '^no such gateway$']
}
