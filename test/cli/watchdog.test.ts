import {existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, truncateSync, utimesSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {alive, expectContract, freePort, Janitor, LAUNCH, medic, startService, until} from '../helpers/procs.js'

const j = new Janitor()
afterEach(() => j.cleanup())

const old = (path: string, secondsAgo: number) => {
  const t = Date.now() / 1000 - secondsAgo
  utimesSync(path, t, t)
}

async function deadPid(): Promise<number> {
  const s = await startService(j)
  process.kill(s.pid, 'SIGKILL')
  await new Promise((r) => s.child.once('exit', r))
  return s.pid
}

describe('medic locks clean', () => {
  it('removes an old lock of a dead pid, keeps a live pid however old, keeps unparsable and fresh ones', async () => {
    const dir = j.tmp()
    const live = await startService(j)
    const dead = await deadPid()
    mkdirSync(join(dir, 'agent'))
    const files = {
      dead: join(dir, 'agent', 'dead.lock'), live: join(dir, 'live.lock'), bare: join(dir, 'bare.lock'),
      junk: join(dir, 'junk.lock'), fresh: join(dir, 'fresh.lock'),
    }
    writeFileSync(files.dead, JSON.stringify({pid: dead}))
    writeFileSync(files.live, JSON.stringify({pid: live.pid}))
    writeFileSync(files.bare, String(dead))
    writeFileSync(files.junk, 'not a lock')
    writeFileSync(files.fresh, JSON.stringify({pid: dead}))
    for (const f of [files.dead, files.live, files.bare, files.junk]) old(f, 86_400)
    const r = await medic(['locks', 'clean', '--dir', dir, '--max-age', '5m', '--json'])
    const out = JSON.parse(r.stdout)
    expect(out.token).toBe('WATCHDOG_ALERT') // the unparsable old lock is reported
    expect(out.actions.map((a: {target: string}) => a.target).sort()).toEqual([files.bare, files.dead].sort())
    expect(existsSync(files.dead) || existsSync(files.bare)).toBe(false)
    expect([files.live, files.junk, files.fresh].every(existsSync)).toBe(true)
  })

  it('never follows a symlink', async () => {
    const dir = j.tmp()
    const outside = j.tmp()
    writeFileSync(join(outside, 'x.lock'), JSON.stringify({pid: await deadPid()}))
    old(join(outside, 'x.lock'), 86_400)
    symlinkSync(outside, join(dir, 'link'))
    symlinkSync(join(outside, 'x.lock'), join(dir, 'y.lock'))
    const r = await medic(['locks', 'clean', '--dir', dir])
    expectContract(r, 'WATCHDOG_OK')
    expect(existsSync(join(outside, 'x.lock'))).toBe(true)
  })

  it('says RECOVERED after removing orphans, and --dry-run removes nothing', async () => {
    const dir = j.tmp()
    writeFileSync(join(dir, 'a.lock'), JSON.stringify({pid: await deadPid()}))
    old(join(dir, 'a.lock'), 600)
    const dry = await medic(['locks', 'clean', '--dir', dir, '--dry-run'])
    expectContract(dry, 'WATCHDOG_ALERT')
    expect(existsSync(join(dir, 'a.lock'))).toBe(true)
    const r = await medic(['locks', 'clean', '--dir', dir])
    expectContract(r, 'WATCHDOG_RECOVERED')
    expect(existsSync(join(dir, 'a.lock'))).toBe(false)
  })
})

describe('medic sessions archive', () => {
  it('moves an oversized quiet session to a unique .old and never overwrites an earlier archive', async () => {
    const dir = j.tmp()
    const s = join(dir, 'main.jsonl')
    const archives = new Set<string>()
    for (let round = 0; round < 3; round++) {
      writeFileSync(s, `{"round":${round}}\n`)
      truncateSync(s, 11 * 1024 * 1024)
      old(s, 3600)
      const r = await medic(['sessions', 'archive', '--dir', dir])
      expectContract(r, 'WATCHDOG_RECOVERED')
      expect(existsSync(s)).toBe(false)
      for (const f of readdirSync(dir)) archives.add(f)
    }
    const olds = [...archives].filter((f) => f.endsWith('.old'))
    expect(olds).toHaveLength(3)
    const rounds = olds.map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8').split('\n')[0]).round).sort()
    expect(rounds).toEqual([0, 1, 2])
  })

  it('leaves sessions that are small, recently written or held open', async () => {
    const dir = j.tmp()
    writeFileSync(join(dir, 'small.jsonl'), 'x')
    old(join(dir, 'small.jsonl'), 3600)
    writeFileSync(join(dir, 'hot.jsonl'), '')
    truncateSync(join(dir, 'hot.jsonl'), 11 * 1024 * 1024)
    const held = join(dir, 'held.jsonl')
    writeFileSync(held, '')
    truncateSync(held, 11 * 1024 * 1024)
    old(held, 3600)
    const {spawn} = await import('node:child_process')
    const holder = spawn(process.execPath, ['-e', `const fs=require('fs'); fs.openSync(${JSON.stringify(held)}, 'r'); console.log('open'); setInterval(()=>{}, 1e9)`], {stdio: ['ignore', 'pipe', 'inherit'], detached: true})
    j.child(holder)
    await new Promise((r) => holder.stdout!.once('data', r))
    const r = await medic(['sessions', 'archive', '--dir', dir, '-v'])
    expectContract(r, 'WATCHDOG_OK')
    expect(r.stdout).toMatch(/held\.jsonl: 11MiB, held open by pid \d+: kept/)
    // How long ago is the machine's business (a loaded CI box takes seconds); that it was kept for being recent is ours.
    expect(r.stdout).toMatch(/hot\.jsonl: 11MiB, written [\d.]+(ms|s) ago: kept until quiet for 1m/)
    expect(readdirSync(dir).sort()).toEqual(['held.jsonl', 'hot.jsonl', 'small.jsonl'])
  })

  it('deletes .old files only with --prune-older-than', async () => {
    const dir = j.tmp()
    writeFileSync(join(dir, 'a.jsonl.20200101T000000Z.old'), 'x')
    old(join(dir, 'a.jsonl.20200101T000000Z.old'), 30 * 86_400)
    expectContract(await medic(['sessions', 'archive', '--dir', dir]), 'WATCHDOG_OK')
    expect(existsSync(join(dir, 'a.jsonl.20200101T000000Z.old'))).toBe(true)
    expectContract(await medic(['sessions', 'archive', '--dir', dir, '--prune-older-than', '7d']), 'WATCHDOG_RECOVERED')
    expect(existsSync(join(dir, 'a.jsonl.20200101T000000Z.old'))).toBe(false)
  })
})

describe('medic watchdog', () => {
  function setup() {
    const root = j.tmp()
    const pidFile = join(root, 'gw.pid')
    const count = join(root, 'starts')
    j.pidFile(pidFile)
    const paths = {sessions: join(root, 'sessions'), ops: join(root, 'ops'), flag: join(root, 'restart.flag'), pidFile, count}
    mkdirSync(paths.sessions)
    mkdirSync(paths.ops)
    return {
      paths,
      args: (port: number) => ['watchdog', '--once', '--sessions-dir', paths.sessions, '--ops-dir', paths.ops, '--restart-flag', paths.flag, '--state-dir', join(root, 'state'), '--port', String(port),
        '--manager', 'command', '--start-cmd', `${process.execPath} ${LAUNCH} --count-file ${count} -- --port ${port} --pid-file ${pidFile}`, '--pid-file', pidFile, '--grace', '1s'],
      starts: () => (existsSync(count) ? readFileSync(count, 'utf8').trim().split('\n').length : 0),
    }
  }

  it('says OK when there is nothing to do', async () => {
    const w = setup()
    const r = await medic(w.args(await freePort()))
    expectContract(r, 'WATCHDOG_OK')
  })

  it('consumes the restart flag once and restarts the gateway gracefully', async () => {
    const w = setup()
    const port = await freePort()
    writeFileSync(w.paths.flag, '')
    const r = await medic(w.args(port))
    expectContract(r, 'WATCHDOG_RECOVERED')
    expect(existsSync(w.paths.flag)).toBe(false)
    expect(w.starts()).toBe(1)
    const first = Number(readFileSync(w.paths.pidFile, 'utf8'))
    const again = await medic(w.args(port))
    expectContract(again, 'WATCHDOG_OK')
    expect(w.starts()).toBe(1)
    writeFileSync(w.paths.flag, '')
    expectContract(await medic(w.args(port)), 'WATCHDOG_RECOVERED')
    expect(alive(first)).toBe(false)
    expect(w.starts()).toBe(2)
  })

  it('runs an ops request exactly once, records its result, and never reports unsupported actions as done', async () => {
    const w = setup()
    const port = await freePort()
    writeFileSync(join(w.paths.ops, 'req-1.json'), JSON.stringify({action: 'restart'}))
    writeFileSync(join(w.paths.ops, 'req-2.json'), JSON.stringify({action: 'set_model', model: 'gpt-x'}))
    writeFileSync(join(w.paths.ops, 'req-3.json'), 'garbage')
    const [a, b] = await Promise.all([medic(w.args(port)), medic(w.args(port))])
    expect(w.starts()).toBe(1)
    expect([a, b].map((r) => r.lines[0].split(':')[0])).toContain('WATCHDOG_ALERT')
    expect(readdirSync(join(w.paths.ops, 'done')).sort()).toEqual(['req-1.json', 'req-1.result.json'])
    expect(readdirSync(join(w.paths.ops, 'error')).sort()).toEqual(['req-2.json', 'req-2.result.json', 'req-3.json', 'req-3.result.json'])
    expect(JSON.parse(readFileSync(join(w.paths.ops, 'error', 'req-2.result.json'), 'utf8'))).toMatchObject({status: 'error', detail: expect.stringMatching(/^unsupported: /)})
    expect(readdirSync(join(w.paths.ops, 'processing'))).toEqual([])
    // A later request of the same name never overwrites the earlier record.
    writeFileSync(join(w.paths.ops, 'req-2.json'), JSON.stringify({action: 'set_timezone', tz: 'UTC'}))
    await medic(w.args(port))
    expect(readdirSync(join(w.paths.ops, 'error')).filter((f) => f.startsWith('req-2'))).toHaveLength(4)
  })

  it('restarts a gateway stuck in Z state only after --hang-threshold, and never signals pid 1', async () => {
    const w = setup()
    // A zombie whose command line matches: its parent exec'd into sleep and never reaps it.
    // The child exits only once its parent is sleep (a handshake through /proc), so the
    // shell can never reap it first.
    // It is the service's: below the process holding the service's port (a name alone is not enough).
    const port = await freePort()
    const svc = await startService(j, ['--port', String(port), '--spawn-sh', `sh -c 'while read c < /proc/$PPID/comm && [ "$c" != sleep ]; do :; done' zombie-gateway & echo $!; exec sleep 1000`])
    const zpid = Number(svc.spawned)
    await until('the zombie', () => readFileSync(`/proc/${zpid}/stat`, 'latin1').includes(') Z '))
    // A zombie's cmdline is empty; match its comm.
    const args = [...w.args(port), '--gateway-match', '^sh $', '--hang-threshold', '1s']
    const first = await medic(args)
    expectContract(first, 'WATCHDOG_OK')
    expect(w.starts()).toBe(0)
    const later = await until('the hang threshold to pass', async () => {
      const r = await medic(args)
      return r.lines[0].startsWith('WATCHDOG_RECOVERED') ? r : null
    })
    expect(later.lines[0]).toMatch(/hung in Z state .*a zombie: its parent pid \d+ must reap it/)
    expect(w.starts()).toBe(1)
  })
})


