import {spawn} from 'node:child_process'
import {createServer, type IncomingMessage, type Server} from 'node:http'
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {stringify} from 'yaml'
import {BIN, expectContract, freePort, Janitor, LAUNCH, medic, until} from '../helpers/procs.js'
import {ALERTMANAGER, have, httpGet} from '../helpers/prom-tools.js'

const j = new Janitor()
const servers: Server[] = []
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections() // a receiver that never answers holds its connections
    await new Promise((r) => s.close(r))
  }
  await j.cleanup()
})

interface Received {
  method: string
  url: string
  headers: IncomingMessage['headers']
  body: string
}

/** A real HTTP receiver on a loopback port: records every request; `status` answers them. */
async function receiver(status = 200, hang = false): Promise<{url: string; got: Received[]}> {
  const got: Received[] = []
  const srv = createServer((req, res) => {
    let body = ''
    req.on('data', (d) => (body += d))
    req.on('end', () => {
      got.push({method: req.method ?? '', url: req.url ?? '', headers: req.headers, body})
      if (hang) return // accepts and never answers
      res.writeHead(status, {'content-type': 'application/json'}).end('{}')
    })
  })
  servers.push(srv)
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  return {url: `http://127.0.0.1:${(srv.address() as {port: number}).port}/hook`, got}
}

/** A service whose health endpoint answers `mode` (200 or 503), switchable between runs. */
async function switchable(): Promise<{port: number; set: (code: number) => void}> {
  let code = 200
  const srv = createServer((_req, res) => res.writeHead(code).end())
  servers.push(srv)
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  return {port: (srv.address() as {port: number}).port, set: (c) => (code = c)}
}

/** A --notify hook (a node script) that appends what it reads on stdin to `out`. */
function recordingHook(dir: string): {out: string; hook: string} {
  const out = join(dir, 'got.jsonl')
  const hook = join(dir, 'hook.mjs')
  writeFileSync(hook, `import {appendFileSync} from 'node:fs'\nlet s = ''\nprocess.stdin.on('data', (d) => (s += d)).on('end', () => appendFileSync(${JSON.stringify(out)}, s))\n`)
  return {out, hook}
}

/** Short waits; the policies are tested in core/. */
const FAST = ['--reprobe-delay', '100ms', '--probe-timeout', '400ms', '--verify-interval', '50ms', '--verify-timeout', '5s', '--grace', '1s']

/** A service run through the `command` manager (a launcher that returns once it listens), as test/cli/health.test.ts. */
function commandService(port: number, state: string): {args: string[]; pidFile: string} {
  const dir = j.tmp()
  const pidFile = join(dir, 'svc.pid')
  j.pidFile(pidFile)
  const start = [process.execPath, LAUNCH, '--count-file', join(dir, 'starts'), '--', '--port', String(port), '--pid-file', pidFile].join(' ')
  return {pidFile, args: ['--name', 'seq', '--manager', 'command', '--start-cmd', start, '--pid-file', pidFile, '--port', String(port), '--state-dir', state, ...FAST]}
}

describe('--notify-url / --notify on a change of status', () => {
  it('a real receiver gets exactly one POST per change over OK, OK, ALERT, ALERT, RECOVERED, OK', async () => {
    const rx = await receiver()
    const state = j.tmp()
    const s = commandService(await freePort(), state)
    // Start it first under another state dir: the sequence below starts from a healthy service and no history.
    const boot = await medic(['health', ...s.args, '--state-dir', j.tmp()])
    expectContract(boot, 'SEQ_RECOVERED')
    const run = (extra: string[] = []) => medic(['health', ...s.args, '--notify-url', rx.url, ...extra])
    const seen: string[] = []
    const step = async (token: string, extra: string[] = []) => {
      const r = await run(extra)
      expectContract(r, token)
      seen.push(token)
    }
    await step('SEQ_OK')
    await step('SEQ_OK')
    process.kill(Number(readFileSync(s.pidFile, 'utf8')), 'SIGKILL')
    await step('SEQ_ALERT', ['--no-repair'])
    await step('SEQ_ALERT', ['--no-repair'])
    await step('SEQ_RECOVERED')
    await step('SEQ_OK')
    expect(seen).toEqual(['SEQ_OK', 'SEQ_OK', 'SEQ_ALERT', 'SEQ_ALERT', 'SEQ_RECOVERED', 'SEQ_OK'])
    expect(rx.got.every((g) => g.method === 'POST' && g.url === '/hook' && g.headers['content-type'] === 'application/json')).toBe(true)
    const bodies = rx.got.map((g) => JSON.parse(g.body) as {status: string; previousStatus: string | null; token: string; command: string; host: string; checks: unknown[]})
    expect(bodies.map((b) => `${b.previousStatus}>${b.status}`)).toEqual(['OK>ALERT', 'ALERT>RECOVERED', 'RECOVERED>OK'])
    expect(bodies[0]).toMatchObject({token: 'SEQ_ALERT', command: 'health'})
    expect(bodies[0].checks.length).toBeGreaterThan(0)
  })

  it('--notify runs a command (no shell) with the verdict JSON on stdin, once per change; its metrics count it', async () => {
    const dir = j.tmp()
    const state = j.tmp()
    const {out, hook} = recordingHook(dir)
    const svc = await switchable()
    const args = ['health', '--name', 'cmd', '--port', String(svc.port), '--manager', 'none', '--reprobe-delay', '10ms', '--state-dir', state, '--notify', `${process.execPath} ${hook} '$(touch ${join(dir, 'pwned')})'`, '--metrics-file', join(dir, 'm.prom')]
    expectContract(await medic(args), 'CMD_OK')
    svc.set(503)
    expectContract(await medic(args), 'CMD_ALERT')
    expectContract(await medic(args), 'CMD_ALERT')
    const got = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as {token: string; previousStatus: string})
    expect(got.map((g) => `${g.previousStatus}>${g.token}`)).toEqual(['OK>CMD_ALERT'])
    expect(existsSync(join(dir, 'pwned'))).toBe(false) // no shell: $(…) is an argument
    expect(readFileSync(join(dir, 'm.prom'), 'utf8')).toMatch(/^medic_notifications_total\{command="health",subject="CMD",result="sent"\} 1$/m)
  })

  it('the first notification says there was no previous status, in the log, the JSON and the text, even when retried by a later run', async () => {
    const rx = await receiver()
    const dir = j.tmp()
    const state = j.tmp()
    const {out, hook} = recordingHook(dir)
    const svc = await switchable()
    svc.set(503)
    const base = ['health', '--name', 'first', '--port', String(svc.port), '--manager', 'none', '--reprobe-delay', '10ms', '--state-dir', state]
    // Run 1: no history at all, and both deliveries fail: the log must not invent a previous OK.
    const r1 = await medic([...base, '--notify', '/bin/false', '--notify-url', 'http://127.0.0.1:1/hook'])
    expectContract(r1, 'FIRST_ALERT')
    expect(r1.stderr).toMatch(/notify: FIRST \(no previous status\) → ALERT via \/bin\/false failed/)
    expect(r1.stderr).not.toMatch(/OK → ALERT/)
    // Run 2: still ALERT, retried to working channels: still no previous status.
    const r2 = await medic([...base, '--notify', `${process.execPath} ${hook}`, '--notify-url', rx.url])
    expectContract(r2, 'FIRST_ALERT')
    const got = JSON.parse(readFileSync(out, 'utf8').trim()) as {token: string; previousStatus: unknown}
    expect(got).toMatchObject({token: 'FIRST_ALERT', previousStatus: null})
    expect(rx.got).toHaveLength(1)
    expect(JSON.parse(rx.got[0].body)).toMatchObject({token: 'FIRST_ALERT', previousStatus: null})
    // Run 3 in slack format to a fresh state dir: the text says it is the first report, never "was OK".
    const rx2 = await receiver()
    expectContract(await medic([...base, '--state-dir', j.tmp(), '--notify-url', rx2.url, '--notify-format', 'slack']), 'FIRST_ALERT')
    const text = (JSON.parse(rx2.got[0].body) as {text: string}).text
    expect(text).toMatch(/no previous status/)
    expect(text).not.toMatch(/was OK/)
  })

  it('a receiver that accepts and never answers, or a hook that hangs: the verdict is on time and unchanged, the failure logged, counted, and retried next run', async () => {
    const rx = await receiver(200, true)
    const dir = j.tmp()
    const state = j.tmp()
    const svc = await switchable()
    svc.set(503)
    const hang = join(dir, 'hang.mjs')
    writeFileSync(hang, `process.stdin.resume(); setInterval(() => {}, 1000); process.on('SIGTERM', () => {})\n`)
    const args = ['health', '--name', 'hang', '--port', String(svc.port), '--manager', 'none', '--reprobe-delay', '10ms', '--state-dir', state, '--notify-url', rx.url, '--notify', `${process.execPath} ${hang}`, '--notify-timeout', '500ms', '--metrics-file', join(dir, 'm.prom'), '--json']
    const t0 = Date.now()
    const r = await medic(args)
    const took = Date.now() - t0
    expect(JSON.parse(r.stdout)).toMatchObject({token: 'HANG_ALERT', exitCode: 2})
    expect(r.code).toBe(2)
    expect(took).toBeLessThan(8000) // two 500ms deadlines, not forever
    expect(r.stderr).toMatch(/notify: HANG \(no previous status\) → ALERT via .* failed: timeout/)
    expect(r.stderr).toMatch(/notify: HANG \(no previous status\) → ALERT via .*hang\.mjs failed: timed out/)
    expect(r.stderr).not.toMatch(/HANG_ALERT/) // stderr names the status, never a token
    expect(readFileSync(join(dir, 'm.prom'), 'utf8')).toMatch(/^medic_notifications_total\{command="health",subject="HANG",result="failed"\} 2$/m)
    expect(rx.got).toHaveLength(1)
    // Next run: still ALERT, the receiver never heard it: retried.
    await medic(args)
    expect(rx.got).toHaveLength(2)
  })

  it('--timeout bounds the notifications too: a hook and a receiver that never answer are cut at the run\'s deadline, not at a longer --notify-timeout', async () => {
    const rx = await receiver(200, true)
    const dir = j.tmp()
    const state = j.tmp()
    const svc = await switchable()
    svc.set(503)
    const pidOut = join(dir, 'hook.pid')
    const hang = join(dir, 'hang.mjs')
    writeFileSync(hang, `import {writeFileSync} from 'node:fs'\nwriteFileSync(${JSON.stringify(pidOut)}, String(process.pid))\nprocess.stdin.resume(); setInterval(() => {}, 1000); process.on('SIGTERM', () => {})\n`)
    // --notify-timeout 60s against --timeout 3s: were the deliveries not cut at the deadline, medic would outlive this test's own timeout.
    const r = await medic(['health', '--name', 'late', '--port', String(svc.port), '--manager', 'none', '--reprobe-delay', '10ms', '--state-dir', state, '--notify-url', rx.url, '--notify', `${process.execPath} ${hang}`, '--notify-timeout', '60s', '--timeout', '3s', '--json'])
    expect(JSON.parse(r.stdout)).toMatchObject({token: 'LATE_ALERT', exitCode: 2})
    expect(r.stderr).toMatch(/notify: LATE \(no previous status\) → ALERT via .* failed: .*--timeout/)
    // The hook was started and cut: its process is gone (killed with its group), not left behind.
    const pid = Number(readFileSync(pidOut, 'utf8'))
    await until('the cut hook is gone', async () => { try { process.kill(pid, 0); return false } catch { return true } })
  })

  it.each(['--notify', '--notify-url'])('--watch loop: SIGTERM stops it at once, a pending %s delivery abandoned (the hook killed, the request hung up), not waited out', async (channel) => {
    const dir = j.tmp()
    const state = j.tmp()
    // A receiver that accepts and never answers: it counts the requests it holds and those hung up on.
    let held = 0
    let hungUp = 0
    const srv = createServer((req) => {
      held++
      req.socket.on('close', () => hungUp++)
      req.resume()
    })
    servers.push(srv)
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
    const url = `http://127.0.0.1:${(srv.address() as {port: number}).port}/hook`
    // A hook that says it runs, ignores SIGTERM and never ends.
    const pidOut = join(dir, 'hook.pid')
    const hang = join(dir, 'hang.mjs')
    writeFileSync(hang, `import {writeFileSync} from 'node:fs'\nwriteFileSync(${JSON.stringify(pidOut)}, String(process.pid))\nprocess.stdin.resume(); setInterval(() => {}, 1000); process.on('SIGTERM', () => {})\n`)
    j.pidFile(pidOut)
    const how = channel === '--notify' ? ['--notify', `${process.execPath} ${hang}`] : ['--notify-url', url]
    // --notify-timeout 120s and no --timeout: only the SIGTERM can end the delivery within this test.
    const c = spawn(process.execPath, [BIN, 'ollama', 'frozen-check', '--watch', '--interval', '100ms', '--url', 'http://127.0.0.1:1', '--state-dir', state, ...how, '--notify-timeout', '120s'], {stdio: ['ignore', 'pipe', 'pipe'], detached: true})
    j.child(c)
    let stdout = ''
    let stderr = ''
    c.stdout!.on('data', (d) => (stdout += d))
    c.stderr!.on('data', (d) => (stderr += d))
    const exited = new Promise<number | null>((r) => c.on('exit', (code) => r(code)))
    let code: number | null | undefined
    void exited.then((x) => (code = x))
    await until('a delivery is under way', () => (channel === '--notify' ? existsSync(pidOut) && readFileSync(pidOut, 'utf8') !== '' : held > 0))
    c.kill('SIGTERM')
    await until('medic exits after SIGTERM (the 120s delivery abandoned)', () => code !== undefined, 20_000)
    expect(code).toBe(0)
    expect(stdout).toMatch(/^OLLAMA_ALERT: /)
    expect(stderr).toMatch(/notify: OLLAMA .*→ ALERT via .* abandoned: medic was stopped \(SIGTERM\)/)
    if (channel === '--notify') {
      const pid = Number(readFileSync(pidOut, 'utf8'))
      await until('the abandoned hook is gone', () => { try { process.kill(pid, 0); return false } catch { return true } })
    } else {
      await until('the receiver was hung up on', () => hungUp > 0)
    }
  })

  it('a hook that floods its stdout and stderr and leaves a daemon behind: nothing fills, medic ends on time, delivery counted', async () => {
    const dir = j.tmp()
    const state = j.tmp()
    const flood = join(dir, 'flood.mjs')
    const pidOut = join(dir, 'daemon.pid')
    // 64 MB on each stream, then a grandchild that keeps the group alive, then exit 0.
    writeFileSync(flood, `import {spawn} from 'node:child_process'\nimport {writeFileSync} from 'node:fs'\nconst mb = 'x'.repeat(1 << 20)\nfor (let i = 0; i < 64; i++) { process.stdout.write(mb); process.stderr.write(mb) }\nconst d = spawn('sleep', ['60'], {stdio: 'inherit'})\nwriteFileSync(${JSON.stringify(pidOut)}, String(d.pid))\nd.unref()\n`)
    j.pidFile(pidOut)
    const svc = await switchable()
    svc.set(503)
    const r = await medic(['health', '--name', 'flood', '--port', String(svc.port), '--manager', 'none', '--reprobe-delay', '10ms', '--state-dir', state, '--notify', `${process.execPath} ${flood}`, '--notify-timeout', '20s', '--metrics-file', join(dir, 'm.prom')])
    expectContract(r, 'FLOOD_ALERT')
    expect(r.stdout.length).toBeLessThan(1000) // none of the hook's output reaches medic's stdout
    expect(r.stderr.length).toBeLessThan(2000)
    expect(readFileSync(join(dir, 'm.prom'), 'utf8')).toMatch(/^medic_notifications_total\{command="health",subject="FLOOD",result="sent"\} 1$/m)
  })

  it('a status flapping every run is rate limited; the receiver hears the state it settles in once the hour allows', async () => {
    const rx = await receiver()
    const state = j.tmp()
    const svc = await switchable()
    const args = ['health', '--name', 'flap', '--port', String(svc.port), '--manager', 'none', '--reprobe-delay', '10ms', '--state-dir', state, '--notify-url', rx.url, '--notify-limit', '2', '--metrics-file', join(state, 'm.prom')]
    for (let i = 0; i < 7; i++) {
      svc.set(i % 2 ? 200 : 503)
      await medic(args)
    }
    // Told ALERT, then OK; the later changes held: it is ALERT now and the receiver believes OK.
    expect(rx.got).toHaveLength(2)
    expect(readFileSync(join(state, 'm.prom'), 'utf8')).toMatch(/^medic_notifications_total\{command="health",subject="FLAP",result="held"\} [1-9]\d*$/m)
    // An hour later (the record's attempts aged by hand): the settled state goes out once, then nothing.
    const rec = join(state, 'notify', 'health.FLAP.json')
    const r = JSON.parse(readFileSync(rec, 'utf8'))
    r.channels.url.attempts = r.channels.url.attempts.map((t: number) => t - 3_700_000)
    writeFileSync(rec, JSON.stringify(r))
    await medic(args)
    await medic(args)
    expect(rx.got).toHaveLength(3)
    expect(JSON.parse(rx.got[2].body)).toMatchObject({status: 'ALERT', previousStatus: 'OK', heldChanges: 3})
  })

  it('ntfy, slack and telegram bodies reach a real receiver; bad URLs are usage errors', async () => {
    const rx = await receiver()
    const state = j.tmp()
    const svc = await switchable()
    svc.set(503)
    for (const [format, url] of [['ntfy', `${rx.url}`], ['slack', `${rx.url}`], ['telegram', `${rx.url}?chat_id=42`]] as const) {
      await medic(['health', '--name', format, '--port', String(svc.port), '--manager', 'none', '--reprobe-delay', '10ms', '--state-dir', state, '--notify-url', url, '--notify-format', format])
    }
    expect(rx.got).toHaveLength(3)
    expect(rx.got[0].headers).toMatchObject({title: expect.stringMatching(/^NTFY_ALERT on /), priority: '5'})
    expect(JSON.parse(rx.got[1].body).text).toMatch(/^SLACK_ALERT on .*\(medic health\)/)
    expect(JSON.parse(rx.got[2].body)).toMatchObject({chat_id: 42, text: expect.stringMatching(/^TELEGRAM_ALERT/)})
    for (const bad of [['--notify-url', 'ftp://x/'], ['--notify-url', `${rx.url}`, '--notify-format', 'telegram'], ['--notify', "'unbalanced"]]) {
      const r = await medic(['health', '--port', String(svc.port), '--manager', 'none', '--state-dir', state, ...bad])
      expectContract(r, 'GATEWAY_UNKNOWN')
      expect(r.code).toBe(3)
    }
  })
})

describe('Alertmanager (the real binary)', () => {
  it('takes medic\'s alertmanager body on /api/v2/alerts: the check fires, then resolves', async () => {
    if (!have(ALERTMANAGER)) return void console.log('skipped: prometheus-alertmanager not installed')
    const dir = j.tmp()
    writeFileSync(join(dir, 'am.yml'), stringify({route: {receiver: 'null'}, receivers: [{name: 'null'}]}))
    const port = await freePort()
    const cport = await freePort()
    const am = spawn(ALERTMANAGER, [`--config.file=${join(dir, 'am.yml')}`, `--storage.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, `--cluster.listen-address=`, `--cluster.advertise-address=127.0.0.1:${cport}`], {stdio: ['ignore', 'ignore', 'pipe'], detached: true})
    j.child(am)
    let logs = ''
    am.stderr!.on('data', (d) => (logs += d))
    const base = `http://127.0.0.1:${port}`
    await until('alertmanager ready', async () => (await httpGet(`${base}/-/ready`).catch(() => ({status: 0}))).status === 200, 20_000)
    const state = j.tmp()
    const svc = await switchable()
    svc.set(503)
    const args = ['health', '--name', 'amcheck', '--port', String(svc.port), '--manager', 'none', '--reprobe-delay', '10ms', '--state-dir', state, '--notify-url', `${base}/api/v2/alerts`, '--notify-format', 'alertmanager']
    const r = await medic(args)
    expectContract(r, 'AMCHECK_ALERT')
    expect(r.stderr, logs).not.toMatch(/notify: .* failed/)
    const alerts = async () => JSON.parse((await httpGet(`${base}/api/v2/alerts?active=true&silenced=false&inhibited=false`)).text) as {labels: Record<string, string>; status: {state: string}; endsAt: string}[]
    const firing = await until('the alert is listed', async () => (await alerts()).find((a) => a.labels.subject === 'AMCHECK'))
    expect(firing.labels).toMatchObject({alertname: 'MedicCheck', command: 'health', severity: 'critical'})
    expect(firing.status.state).toBe('active')
    svc.set(200)
    expectContract(await medic(args), 'AMCHECK_OK')
    await until('the alert is resolved', async () => !(await alerts()).some((a) => a.labels.subject === 'AMCHECK'))
  })
})
