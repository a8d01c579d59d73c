import {existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, truncateSync, utimesSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {utcStamp} from '../../src/core/housekeeping.js'
import {mountSkip, medicMounted} from '../helpers/mounts.js'
import {spawn} from 'node:child_process'
import {renameSync} from 'node:fs'
import {alive, BIN, expectContract, Janitor, medic, SERVICE, until} from '../helpers/procs.js'

/**
 * Issue 9, defects 5 and 6: nothing medic moves or prunes may replace or delete a file
 * it did not mean to — a request left in processing/ by a crashed run, a request whose
 * name a result record would take, an archive it has just made, a `.old` file it never
 * made — and a move that fails is never reported as OK.
 */
const j = new Janitor()
afterEach(() => j.cleanup())

const DAY = 86_400
const age = (path: string, seconds: number) => {
  const t = Date.now() / 1000 - seconds
  utimesSync(path, t, t)
}

function watchdogOps(ops: string): string[] {
  const root = j.tmp()
  return ['watchdog', '--once', '--ops-dir', ops, '--sessions-dir', join(root, 'none'), '--restart-flag', '', '--state-dir', join(root, 'state'), '--manager', 'none', '--gateway-match', '^no such gateway$']
}

/** Every JSON file below `dir`, by its text. */
function texts(dir: string): string[] {
  const out: string[] = []
  for (const sub of readdirSync(dir, {withFileTypes: true})) {
    const p = join(dir, sub.name)
    if (sub.isDirectory()) out.push(...texts(p))
    else out.push(readFileSync(p, 'utf8'))
  }
  return out
}

describe('ops requests', () => {
  it('never overwrites a request a crashed run left in processing/', async () => {
    const ops = j.tmp()
    mkdirSync(join(ops, 'processing'))
    const leftover = JSON.stringify({action: 'set_model', model: 'left-by-a-crash'})
    writeFileSync(join(ops, 'processing', 'req-a.json'), leftover)
    writeFileSync(join(ops, 'req-a.json'), JSON.stringify({action: 'set_model', model: 'new'}))
    expectContract(await medic(watchdogOps(ops)), 'WATCHDOG_ALERT') // set_model is unsupported: error/
    expect(readFileSync(join(ops, 'processing', 'req-a.json'), 'utf8')).toBe(leftover)
    expect(texts(join(ops, 'error')).filter((t) => t.includes('"model":"new"'))).toHaveLength(1)
  })

  it("never replaces a request with another request's result record", async () => {
    const ops = j.tmp()
    const odd = JSON.stringify({action: 'set_timezone', tz: 'a request named like a result'})
    writeFileSync(join(ops, 'req-x.result.json'), odd)
    await medic(watchdogOps(ops))
    writeFileSync(join(ops, 'req-x.json'), JSON.stringify({action: 'set_model', model: 'x'}))
    await medic(watchdogOps(ops))
    const all = texts(join(ops, 'error'))
    expect(all).toContain(odd)
    expect(all.filter((t) => t.includes('"model":"x"'))).toHaveLength(1)
    expect(all.filter((t) => /"status": "error"/.test(t))).toHaveLength(2) // a result record for each
  })
})

describe('sessions archive', () => {
  it('never prunes an archive it has just made, however old the session (the link keeps its mtime)', async () => {
    const dir = j.tmp()
    const s = join(dir, 'old-session.jsonl')
    writeFileSync(s, '{"keep":"me"}\n')
    truncateSync(s, 11 * 1024 * 1024)
    age(s, 10 * DAY)
    const r = await medic(['sessions', 'archive', '--dir', dir, '--prune-older-than', '7d'])
    expectContract(r, 'WATCHDOG_RECOVERED')
    const archives = readdirSync(dir).filter((f) => f.endsWith('.old'))
    expect(archives).toHaveLength(1)
    expect(readFileSync(join(dir, archives[0]), 'utf8').startsWith('{"keep":"me"}')).toBe(true)
  })

  it('never prunes a .old file medic did not make', async () => {
    const dir = j.tmp()
    mkdirSync(join(dir, 'sub'))
    const theirs = [join(dir, 'notes.old'), join(dir, 'sub', 'config.old'), join(dir, 'main.jsonl.old')]
    for (const f of theirs) {
      writeFileSync(f, 'not medic\'s')
      age(f, 30 * DAY)
    }
    const mine = join(dir, 'main.jsonl.20200101T000000Z.old')
    writeFileSync(mine, 'an archive medic made in 2020')
    await medic(['sessions', 'archive', '--dir', dir, '--prune-older-than', '7d'])
    expect(theirs.filter((f) => !existsSync(f))).toEqual([])
    expect(existsSync(mine)).toBe(false)
  })

  it('takes the next free name when the archive name is taken — even by a dangling symlink — and touches neither', async () => {
    const dir = j.tmp()
    const s = join(dir, 'main.jsonl')
    writeFileSync(s, '{"session":1}\n')
    truncateSync(s, 11 * 1024 * 1024)
    age(s, 3600)
    // A dangling symlink under every archive name of the next two minutes.
    const planted: string[] = []
    for (let t = Date.now() - 5000; t < Date.now() + 120_000; t += 1000) {
      const p = join(dir, `main.jsonl.${utcStamp(new Date(t))}.old`)
      symlinkSync(join(dir, 'nowhere'), p)
      planted.push(p)
    }
    const r = await medic(['sessions', 'archive', '--dir', dir])
    expectContract(r, 'WATCHDOG_RECOVERED')
    expect(existsSync(s)).toBe(false)
    const archive = readdirSync(dir).find((f) => /\.1\.old$/.test(f))!
    expect(readFileSync(join(dir, archive), 'utf8').startsWith('{"session":1}')).toBe(true)
    expect(planted.every((p) => readdirSync(dir).includes(p.slice(dir.length + 1)))).toBe(true)
  })

  it.skipIf(mountSkip)('a session that cannot be moved (read-only) is ALERT naming it, not "OK, in use"', async () => {
    const dir = j.tmp()
    const r = await medicMounted([{kind: 'ro', dir, files: {'big.jsonl': 'x'.repeat(2048)}}], ['sessions', 'archive', '--dir', dir, '--max-size', '1KiB', '--quiet', '0s'])
    expectContract(r, 'WATCHDOG_ALERT')
    expect(r.lines[0]).toContain('big.jsonl')
    expect(Object.keys(r.files)).toEqual(['big.jsonl'])
  })
})

describe('supervise pid files', () => {
  it('at exit removes only the pid files it wrote, never a file that replaced one', async () => {
    const state = j.tmp()
    const childPid = join(j.tmp(), 'gateway.pid')
    const c = spawn(process.execPath, [BIN, 'supervise', '--name', 'gw', '--state-dir', state, '--child-pid-file', childPid, '--', process.execPath, SERVICE], {stdio: 'ignore', detached: true})
    j.child(c)
    const exited = new Promise((r) => c.once('exit', r))
    j.later(() => [JSON.parse(readFileSync(join(state, 'supervise', 'gw.json'), 'utf8')).child?.pid ?? 0])
    await until('the child running', () => {
      try {
        const st = JSON.parse(readFileSync(join(state, 'supervise', 'gw.json'), 'utf8'))
        return st.state === 'running' && st.child && alive(st.child.pid) && existsSync(childPid)
      } catch {
        return false
      }
    })
    // Someone else's file now sits where the child pid file was (an atomic replace).
    writeFileSync(`${childPid}.new`, 'not medic\'s\n')
    renameSync(`${childPid}.new`, childPid)
    c.kill('SIGTERM')
    await exited
    expect(readFileSync(childPid, 'utf8')).toBe('not medic\'s\n')
    expect(existsSync(join(state, 'supervise', 'gw.pid'))).toBe(false) // its own is removed
  })
})

if (mountSkip) console.log(`files-no-clobber: read-only case skipped: ${mountSkip}`)
