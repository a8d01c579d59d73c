import {existsSync, mkdirSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {get} from 'node:http'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {alive, expectContract, freePort, Janitor, LAUNCH, medic, type MedicResult, ROOT, startService} from '../helpers/procs.js'

const j = new Janitor()
afterEach(() => j.cleanup())

/** Short waits so a test takes milliseconds; the policies themselves are tested in core/. */
const FAST = ['--reprobe-delay', '100ms', '--probe-timeout', '400ms', '--verify-interval', '50ms', '--verify-timeout', '5s', '--grace', '1s']

interface Svc {
  dir: string
  port: number
  pidFile: string
  countFile: string
  args: string[]
}

/** A service run through the `command` manager: a launcher that returns once it listens. */
function commandService(port: number, serviceArgs: string[] = []): Svc {
  const dir = j.tmp()
  const pidFile = join(dir, 'svc.pid')
  const countFile = join(dir, 'starts')
  j.pidFile(pidFile)
  const start = [process.execPath, LAUNCH, '--count-file', countFile, '--', '--port', String(port), '--pid-file', pidFile, ...serviceArgs].join(' ')
  return {dir, port, pidFile, countFile, args: ['--manager', 'command', '--start-cmd', start, '--pid-file', pidFile, '--port', String(port), '--state-dir', join(dir, 'state'), ...FAST]}
}

const starts = (s: Svc) => (existsSync(s.countFile) ? readFileSync(s.countFile, 'utf8').trim().split('\n').filter(Boolean).length : 0)
const pidOf = (s: Svc) => Number(readFileSync(s.pidFile, 'utf8').trim())
const json = (r: MedicResult) => JSON.parse(r.stdout)

function httpGet(port: number): Promise<{status: number; body: string}> {
  return new Promise((resolve, reject) => {
    get({host: '127.0.0.1', port, path: '/health', timeout: 2000}, (res) => {
      let body = ''
      res.on('data', (d) => (body += d))
      res.on('end', () => resolve({status: res.statusCode ?? 0, body}))
    }).on('error', reject)
  })
}

/** Seed 000: the gateway died; its forked child kept the listening socket and never serves. */
async function seed000(): Promise<{orphan: number; port: number}> {
  const o = await startService(j, ['--orphan', '--wedge'])
  return {orphan: o.pid, port: o.port}
}

async function healthy(s: Svc): Promise<void> {
  const r = await medic(['health', ...s.args])
  if (!r.stdout.startsWith('GATEWAY_RECOVERED')) throw new Error(`could not start the service: ${r.stdout} ${r.stderr}`)
}

describe('medic health', () => {
  it('says GATEWAY_OK for a healthy service, exit 0 in both modes', async () => {
    const s = commandService(await freePort())
    await healthy(s)
    for (const mode of ['nagios', 'binary']) {
      const r = await medic(['health', ...s.args, '--exit-codes', mode, '-v'])
      expectContract(r, 'GATEWAY_OK')
      expect(r.code).toBe(0)
      expect(r.stdout).toMatch(/check probe: ok - http:\/\/127\.0\.0\.1:\d+\/health: HTTP 200/)
    }
    expect(starts(s)).toBe(1)
  })

  it('replays seed 000 and ends RECOVERED with a new owner answering (nagios 1, binary 0)', async () => {
    for (const [mode, code] of [['nagios', 1], ['binary', 0]] as const) {
      const {orphan, port} = await seed000()
      const s = commandService(port)
      const r = await medic(['health', ...s.args, '--exit-codes', mode, '-v'])
      expectContract(r, 'GATEWAY_RECOVERED')
      expect(r.code).toBe(code)
      expect(r.stdout).not.toContain('_ALERT')
      expect(r.lines[0]).toMatch(new RegExp(`ORPHAN_PROCESS\\+GATEWAY_DEAD: port ${port} held by orphan pid ${orphan} \\(node\\); freed; restarted and verified`))
      expect(alive(orphan)).toBe(false)
      const answer = await httpGet(port)
      expect(answer.status).toBe(200)
      expect(JSON.parse(answer.body).pid).toBe(pidOf(s))
      expect(pidOf(s)).not.toBe(orphan)
    }
  })

  it('with --no-repair says ALERT, names every problem and touches nothing', async () => {
    const {orphan, port} = await seed000()
    const s = commandService(port)
    const r = await medic(['health', ...s.args, '--no-repair'])
    expectContract(r, 'GATEWAY_ALERT')
    expect(r.code).toBe(2)
    expect(r.lines[0]).toMatch(/^GATEWAY_ALERT: ORPHAN_PROCESS\+GATEWAY_DEAD: repair is off \(--no-repair\); /)
    expect(alive(orphan)).toBe(true)
    expect(starts(s)).toBe(0)
  })

  it('prints the plan with --dry-run and changes nothing', async () => {
    const {orphan, port} = await seed000()
    const s = commandService(port)
    const r = await medic(['health', ...s.args, '--dry-run', '-v'])
    expectContract(r, 'GATEWAY_ALERT')
    expect(r.stdout).toMatch(new RegExp(`plan: SIGTERM\\+SIGCONT pid ${orphan} \\(node\\), SIGKILL after 1s`))
    expect(alive(orphan)).toBe(true)
    expect(starts(s)).toBe(0)
  })

  it('never says RECOVERED for a service that crashes right after starting', async () => {
    const s = commandService(await freePort(), ['--exit-after', '20'])
    const r = await medic(['health', ...s.args, '--verify-interval', '300ms'])
    expectContract(r, 'GATEWAY_ALERT')
    expect(r.lines[0]).toMatch(/repair failed: crashed right after starting|repair failed: not 3 consecutive/)
    expect(starts(s)).toBe(1)
  })

  it('spends its repair budget exactly, then says so in one ALERT', async () => {
    // A service that is up but answers 500: every repair "works" and verification fails.
    const s = commandService(await freePort(), ['--status', '500'])
    const args = [...s.args, '--max-repairs', '2', '--repair-window', '1h', '--verify-timeout', '300ms']
    const r1 = await medic(['health', ...args])
    const r2 = await medic(['health', ...args])
    const r3 = await medic(['health', ...args])
    for (const r of [r1, r2]) {
      expectContract(r, 'GATEWAY_ALERT')
      expect(r.lines[0]).toMatch(/repair failed: not 3 consecutive passing probes/)
    }
    expectContract(r3, 'GATEWAY_ALERT')
    expect(r3.lines[0]).toMatch(/repair budget spent: 2 repairs in the last 1h \(max 2\)/)
    expect(starts(s)).toBe(2)
  })

  it('performs exactly one repair when 5 runs race on one broken service', async () => {
    const {port} = await seed000()
    const s = commandService(port)
    const runs = await Promise.all(Array.from({length: 5}, () => medic(['health', ...s.args, '--json'])))
    const tokens = runs.map((r) => json(r).token).sort()
    expect(starts(s)).toBe(1)
    expect(tokens.filter((t) => t === 'GATEWAY_RECOVERED')).toHaveLength(1)
    expect(tokens.filter((t) => t === 'GATEWAY_OK')).toHaveLength(4)
    for (const r of runs) if (json(r).token === 'GATEWAY_OK') expect(json(r).summary).toMatch(/repaired by concurrent medic pid \d+/)
  })

  it('never fakes RECOVERED when its manager cannot be used', async () => {
    const dir = j.tmp()
    const port = await freePort()
    const cases: [string, RegExp][] = [
      ['systemd', /cannot repair: systemd unit clawdbot-gateway: System has not been booted with systemd|cannot repair: .*systemctl/],
      ['systemd-user', /cannot repair: systemd --user unit clawdbot-gateway: /],
      ['docker', /cannot repair: docker container gateway: Cannot connect to the Docker daemon|cannot repair: docker container gateway: docker not found/],
      ['none', /cannot repair: no manager \(--manager none\)/],
      ['auto', /cannot repair: no manager found \(supervise: .*; systemd: .*; pm2: .*; docker: .*\)/],
    ]
    if (existsSync('/run/systemd/system')) {
      console.log('skipped systemd cases: systemd runs here, so it is not unavailable')
      cases.splice(0, 2)
    }
    for (const [kind, reason] of cases) {
      const r = await medic(['health', '--manager', kind, '--port', String(port), '--state-dir', join(dir, kind), ...FAST], {env: {PM2_HOME: join(dir, 'no-pm2'), DOCKER_HOST: 'unix:///nonexistent.sock'}})
      expectContract(r, 'GATEWAY_ALERT')
      expect(r.lines[0]).toMatch(/GATEWAY_DEAD/)
      expect(json(await medic(['health', '--json', '--manager', kind, '--port', String(port), '--state-dir', join(dir, kind), ...FAST], {env: {PM2_HOME: join(dir, 'no-pm2'), DOCKER_HOST: 'unix:///nonexistent.sock'}})).summary).toMatch(reason)
    }
  })

  it('is a Docker HEALTHCHECK with --no-repair --exit-codes binary: 0 when up, 1 when down', async () => {
    const svc = await startService(j)
    const up = await medic(['health', '--manager', 'none', '--no-repair', '--exit-codes', 'binary', '--port', String(svc.port), '--state-dir', join(j.tmp(), 's'), ...FAST])
    expectContract(up, 'GATEWAY_OK')
    expect(up.code).toBe(0)
    process.kill(-svc.child.pid!, 'SIGKILL')
    await new Promise((r) => svc.child.once('exit', r))
    const down = await medic(['health', '--manager', 'none', '--no-repair', '--exit-codes', 'binary', '--port', String(svc.port), '--state-dir', join(j.tmp(), 's'), ...FAST])
    expectContract(down, 'GATEWAY_ALERT')
    expect(down.code).toBe(1)
  })

  it('probes by TCP with --tcp, and counts a refused connection as down', async () => {
    const svc = await startService(j)
    const r = await medic(['health', '--tcp', '--manager', 'none', '--port', String(svc.port), '--state-dir', join(j.tmp(), 's'), '-v', ...FAST])
    expectContract(r, 'GATEWAY_OK')
    expect(r.stdout).toMatch(/check probe: ok - tcp 127\.0\.0\.1:\d+: TCP connect in/)
    const gone = await medic(['health', '--tcp', '--manager', 'none', '--port', String(await freePort()), '--state-dir', join(j.tmp(), 's'), '-v', ...FAST])
    expect(gone.stdout).toMatch(/connection refused/)
  })

  it('never lets a shell interpret a flag', async () => {
    const s = commandService(await freePort())
    const marker = join(s.dir, 'pwned')
    const start = s.args[s.args.indexOf('--start-cmd') + 1]
    const args = [...s.args]
    args[args.indexOf('--start-cmd') + 1] = `${start} '$(touch ${marker})' ';' touch ${marker} '|' "*"`
    const r = await medic(['health', ...args])
    expectContract(r, 'GATEWAY_RECOVERED')
    expect(existsSync(marker)).toBe(false)
    const cmdline = readFileSync(`/proc/${pidOf(s)}/cmdline`, 'utf8').split('\0')
    expect(cmdline).toContain(`$(touch ${marker})`)
    expect(cmdline).toContain('*')
  })

  it('sets the token subject from --name and from the config entry', async () => {
    const s = commandService(await freePort())
    await healthy(s)
    const r = await medic(['health', ...s.args, '--name', 'whatsapp'])
    expectContract(r, 'WHATSAPP_OK')
    const cwd = j.tmp()
    const xdg = j.tmp() // the config file is found in $XDG_CONFIG_HOME/medic, whatever the working directory
    mkdirSync(join(xdg, 'medic'))
    const entry = {port: s.port, manager: 'command', startCmd: s.args[s.args.indexOf('--start-cmd') + 1], pidFile: s.pidFile}
    writeFileSync(join(xdg, 'medic', 'medic.config.yaml'), `services:\n  signal-bot:\n${Object.entries(entry).map(([k, v]) => `    ${k}: ${JSON.stringify(v)}`).join('\n')}\n`)
    const viaConfig = await medic(['health', 'signal-bot', '--state-dir', join(s.dir, 'state'), ...FAST], {cwd, env: {XDG_CONFIG_HOME: xdg}})
    expectContract(viaConfig, 'SIGNAL_BOT_OK')
    writeFileSync(join(cwd, 'bad.json'), '{"services": {"x": {"port": "http"}}}')
    const bad = await medic(['health', 'x', '--config', join(cwd, 'bad.json')], {cwd})
    expectContract(bad, 'X_UNKNOWN')
    expect(bad.code).toBe(3)
    const missing = await medic(['health', 'nosuch'], {cwd})
    expectContract(missing, 'NOSUCH_UNKNOWN')
    expect(missing.lines[0]).toContain('no service "nosuch"')
  })

  it('counts a restart it did not do: the port owner changed between runs', async () => {
    const s = commandService(await freePort())
    await healthy(s)
    await medic(['health', ...s.args])
    process.kill(pidOf(s), 'SIGKILL')
    const relaunch = await medic(['health', ...s.args]) // dead → repaired by medic: a new baseline, not counted
    expectContract(relaunch, 'GATEWAY_RECOVERED')
    // Now someone else restarts it behind medic's back.
    const {spawnSync} = await import('node:child_process')
    process.kill(pidOf(s), 'SIGKILL')
    const start = s.args[s.args.indexOf('--start-cmd') + 1].split(' ')
    spawnSync(start[0], start.slice(1), {stdio: 'ignore'}) // a pipe would be held open by the daemon it leaves
    const r = await medic(['health', ...s.args, '--json'])
    expect(json(r).token).toBe('GATEWAY_OK')
    expect(json(r).checks.find((c: {name: string}) => c.name === 'restarts').detail).toMatch(/^1 in the last hour/)
  })

  it('seed 000 after steady runs on the fast look: the child that shares the port outlives its parent — ORPHAN_PROCESS, repaired', async () => {
    const s = commandService(await freePort(), ['--share'])
    await healthy(s)
    const parent = pidOf(s)
    const child = Number(readFileSync(`/proc/${parent}/task/${parent}/children`, 'utf8').trim().split(' ')[0])
    j.track(child) // in a session of its own: not in the parent's group
    const statePath = join(s.dir, 'state', 'health', 'gateway.json')
    const steady = await medic(['health', ...s.args])
    expectContract(steady, 'GATEWAY_OK')
    const before = readFileSync(statePath, 'utf8')
    expect(JSON.parse(before).owners.map((o: {pid: number}) => o.pid).sort()).toEqual([parent, child].sort())
    expectContract(await medic(['health', ...s.args]), 'GATEWAY_OK')
    expect(readFileSync(statePath, 'utf8')).toBe(before) // the fast look: nothing looked at anew, nothing rewritten
    // The parent dies; its child keeps the socket and answers the probe.
    process.kill(parent, 'SIGKILL')
    const r = await medic(['health', ...s.args, '--json'])
    expect(json(r)).toMatchObject({token: 'GATEWAY_RECOVERED', exitCode: 1})
    expect(json(r).summary).toMatch(new RegExp(`ORPHAN_PROCESS: port ${s.port} held by orphan pid ${child}`))
    expect(alive(child)).toBe(false)
    expect(pidOf(s)).not.toBe(parent)
  })

  it('logs one ISO-8601 line per run and per action', async () => {
    const {port} = await seed000()
    const s = commandService(port)
    const log = join(s.dir, 'memory', 'gateway-health.log')
    await medic(['health', ...s.args, '--log-file', log])
    const text = readFileSync(log, 'utf8')
    expect(text).toMatch(/^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d\] \[gateway\] check: ORPHAN_PROCESS, GATEWAY_DEAD;/m)
    expect(text).toMatch(/\[gateway\] SIGTERM pid \d+ \(node\): sent/)
    expect(text).toMatch(/\[gateway\] start command manager: /)
    expect(text).toMatch(/\[gateway\] recovered: 3 consecutive probes passed/)
  })

  it('rejects bad input as GATEWAY_UNKNOWN, exit 3', async () => {
    for (const args of [['--url', 'ftp://x'], ['--healthy-status', '2xx'], ['--start-cmd', '"unbalanced', '--manager', 'command'], ['--manager', 'launchd'], ['--verify-probes', '0'], ['--name', '../etc']]) {
      const r = await medic(['health', ...args])
      expect(r.code).toBe(3)
      expect(r.lines[0]).toMatch(/^[A-Z_]+_UNKNOWN: /)
    }
  })
})


void ROOT

describe('the state file of a steady service', () => {
  it('is not rewritten by a run that changed nothing in it, and is when the owner changes', async () => {
    const dir = j.tmp()
    const state = join(dir, 'state')
    const path = join(state, 'health', 'gateway.json')
    const s = await startService(j)
    const run = async () => expectContract(await medic(['health', '--port', String(s.port), '--manager', 'none', '--state-dir', state]), 'GATEWAY_OK')
    await run()
    const first = statSync(path)
    await run()
    const second = statSync(path)
    expect([second.ino, second.mtimeMs]).toEqual([first.ino, first.mtimeMs])
    expect(JSON.parse(readFileSync(path, 'utf8')).owners).toEqual([expect.objectContaining({pid: s.pid})])
    // Another process on the port: the owners it records change, so the file does too.
    process.kill(-s.child.pid!, 'SIGKILL')
    await new Promise((r) => s.child.once('exit', r))
    const t = await startService(j, ['--port', String(s.port)])
    await run()
    expect(statSync(path).ino).not.toBe(first.ino)
    expect(JSON.parse(readFileSync(path, 'utf8')).owners).toEqual([expect.objectContaining({pid: t.pid})])
  })
})
