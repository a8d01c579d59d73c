import {appendFileSync, existsSync, readFileSync, renameSync, truncateSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {expectContract, freePort, Janitor, LAUNCH, medic, startService, until} from '../helpers/procs.js'
import {announceRealSystemdSkip, realSystemdSkip, useRealSystemd} from '../helpers/real-systemd.js'

/**
 * `medic health --log-pattern` (seed 001: /health passed while every reply failed with
 * "OAuth token refresh failed"): a log file followed across rotation, and the journal of a
 * unit under a real systemd.
 */
const j = new Janitor()
afterEach(() => j.cleanup())

const OAUTH = 'OAuth token refresh failed'
const SEED001 = '[gateway] reply failed: OAuth token refresh failed for anthropic\n'

describe('medic health --log-pattern over a log file', () => {
  it('seed 001: a healthy /health and a log saying every reply fails is LOG_PATTERN; rotation by inode, copytruncate and half-written lines', async () => {
    const s = await startService(j)
    const dir = j.tmp()
    const log = join(dir, 'gateway.log')
    writeFileSync(log, `old line: ${OAUTH} (before medic looked: not counted)\n`)
    const metrics = join(dir, 'm.prom')
    const run = (extra: string[] = []) => medic(['health', '--port', String(s.port), '--manager', 'none', '--state-dir', join(dir, 'state'), '--log-pattern', OAUTH, '--log-source', log, '--metrics-file', metrics, '-v', ...extra])

    const first = await run()
    expectContract(first, 'GATEWAY_OK')
    expect(first.stdout).toMatch(/check log: ok - .*gateway\.log: first run, position taken/)

    appendFileSync(log, 'a normal line\n' + SEED001)
    const hit = await run()
    expectContract(hit, 'GATEWAY_ALERT')
    expect(hit.lines[0]).toMatch(/^GATEWAY_ALERT: LOG_PATTERN: no restart without --repair-on-log; 1 new line matching in .*gateway\.log/)
    expect(hit.stdout).toMatch(/check problems: alert - LOG_PATTERN: 1 new line matching in .*gateway\.log \(threshold 1\); last: "\[gateway\] reply failed: OAuth token refresh failed for anthropic"/)
    expect(readFileSync(metrics, 'utf8')).toMatch(/^medic_health_problem\{command="health",subject="GATEWAY",problem="LOG_PATTERN"\} 1$/m)

    expectContract(await run(), 'GATEWAY_OK') // nothing new since
    expect(readFileSync(metrics, 'utf8')).toMatch(/^medic_health_problem\{command="health",subject="GATEWAY",problem="LOG_PATTERN"\} 0$/m)

    // logrotate (create): the rest of the old file, then the new one.
    appendFileSync(log, SEED001)
    renameSync(log, `${log}.1`)
    writeFileSync(log, SEED001)
    const rotated = await run()
    expectContract(rotated, 'GATEWAY_ALERT')
    expect(rotated.lines[0]).toContain('2 new lines matching')
    expect(rotated.stdout).toMatch(/rotated since the last run/)

    // copytruncate, written again past the saved offset before this run: the bytes before the
    // offset are not the ones medic saw (real lines differ: a timestamp), so it reads from the start.
    truncateSync(log, 0)
    appendFileSync(log, `12:00:01 ${SEED001}`)
    const truncated = await run()
    expect(truncated.lines[0]).toContain('1 new line matching')
    expect(truncated.stdout).toMatch(/truncated since the last run/)

    // A line still being written waits for the next run; then counts once.
    appendFileSync(log, '[gateway] reply failed: OAuth token refresh fa')
    expectContract(await run(), 'GATEWAY_OK')
    appendFileSync(log, 'iled for anthropic\n')
    expect((await run()).lines[0]).toContain('1 new line matching')

    // A threshold: two lines are not three.
    appendFileSync(log, SEED001 + SEED001)
    expectContract(await run(['--log-threshold', '3']), 'GATEWAY_OK')

    // The log gone: the check could not see, so it is not OK.
    renameSync(log, `${log}.2`)
    const blind = await run()
    expectContract(blind, 'GATEWAY_UNKNOWN')
    expect(blind.lines[0]).toMatch(/its log could not be read: .*no such file/)
  })

  it('restarts on LOG_PATTERN only with --repair-on-log (RECOVERED), and counts nothing the old process logged', async () => {
    const port = await freePort()
    const dir = j.tmp()
    const pidFile = join(dir, 'svc.pid')
    const starts = join(dir, 'starts')
    j.pidFile(pidFile)
    const log = join(dir, 'svc.log')
    writeFileSync(log, '')
    const start = [process.execPath, LAUNCH, '--count-file', starts, '--', '--port', String(port), '--pid-file', pidFile].join(' ')
    const args = ['health', '--manager', 'command', '--start-cmd', start, '--pid-file', pidFile, '--port', String(port), '--state-dir', join(dir, 'state'), '--reprobe-delay', '100ms', '--verify-interval', '50ms', '--grace', '1s', '--log-pattern', OAUTH, '--log-source', log]
    expectContract(await medic(args), 'GATEWAY_RECOVERED') // not running yet: started (and the log position taken)
    const startCount = () => readFileSync(starts, 'utf8').trim().split('\n').length
    expect(startCount()).toBe(1)
    appendFileSync(log, SEED001)
    expectContract(await medic(args), 'GATEWAY_ALERT')
    expect(startCount()).toBe(1) // not restarted without --repair-on-log
    appendFileSync(log, SEED001)
    const r = await medic([...args, '--repair-on-log'])
    expectContract(r, 'GATEWAY_RECOVERED')
    expect(r.lines[0]).toMatch(/^GATEWAY_RECOVERED: LOG_PATTERN: /)
    expect(startCount()).toBe(2)
    expectContract(await medic([...args, '--repair-on-log']), 'GATEWAY_OK')
    expect(startCount()).toBe(2)
  })

  it('--manager docker reads `docker logs --timestamps --since` (a stand-in docker on PATH: no engine here)', async () => {
    const s = await startService(j)
    const dir = j.tmp()
    const bin = join(dir, 'bin')
    const lines = join(dir, 'container.log')
    const calls = join(dir, 'calls')
    writeFileSync(lines, '')
    const {mkdirSync, chmodSync} = await import('node:fs')
    mkdirSync(bin)
    writeFileSync(join(bin, 'docker'), `#!${process.execPath}\nconst fs = require('node:fs')\nconst a = process.argv.slice(2)\nfs.appendFileSync(${JSON.stringify(calls)}, a.join(' ') + '\\n')\nif (a[0] === 'inspect') console.log(JSON.stringify([{State: {Status: 'running', Pid: ${s.pid}}, RestartCount: 0}]))\nelse if (a[0] === 'logs') process.stdout.write(fs.readFileSync(${JSON.stringify(lines)}, 'utf8'))\nelse process.exit(1)\n`)
    chmodSync(join(bin, 'docker'), 0o755)
    const env = {PATH: `${bin}:${process.env.PATH}`}
    const run = () => medic(['health', '--manager', 'docker', '--container', 'gw', '--port', String(s.port), '--state-dir', join(dir, 'state'), '--log-pattern', OAUTH, '-v'], {env})
    const first = await run()
    expectContract(first, 'GATEWAY_OK')
    expect(first.stdout).toMatch(/check log: ok - docker logs of gw: first run, position taken/)
    appendFileSync(lines, `2020-01-01T00:00:00.000000000Z ${SEED001}${new Date(Date.now() + 1000).toISOString().replace('Z', '000000Z')} ${SEED001}`)
    const hit = await run()
    expectContract(hit, 'GATEWAY_ALERT')
    expect(hit.lines[0]).toMatch(/LOG_PATTERN: no restart without --repair-on-log; 1 new line matching in docker logs of gw/) // the old line is before --since
    expectContract(await run(), 'GATEWAY_OK') // the same output again: nothing after the last timestamp
    expect(readFileSync(calls, 'utf8')).toMatch(/^logs --timestamps --since \d+\.\d{6} gw$/m)
  })

  it('--log-pattern needs a source it can read; --log-source and --repair-on-log need --log-pattern', async () => {
    const state = j.tmp()
    for (const bad of [['--log-pattern', OAUTH], ['--log-source', '/var/log/x.log'], ['--repair-on-log'], ['--log-pattern', '(']]) {
      const r = await medic(['health', '--port', '1', '--manager', 'none', '--state-dir', state, ...bad])
      expectContract(r, 'GATEWAY_UNKNOWN')
      expect(r.code).toBe(3)
    }
  })
})

announceRealSystemdSkip('medic health --log-pattern over a unit\'s journal')

describe.skipIf(realSystemdSkip())('medic health --log-pattern over the journal (a real systemd)', () => {
  const rs = useRealSystemd()

  it('a line the unit logs matching the pattern is LOG_PATTERN; the next run, with nothing new, is OK', async () => {
    const port = 18801
    const say = '/run/medic-say'
    const app = join(rs().share, 'talker.mjs')
    writeFileSync(app, `import {createServer} from 'node:http'\nimport {existsSync, readFileSync, rmSync} from 'node:fs'\ncreateServer((q, r) => r.end('ok')).listen(${port}, '127.0.0.1')\nsetInterval(() => { if (existsSync('${say}')) { console.log(readFileSync('${say}', 'utf8').trim()); rmSync('${say}') } }, 100)\n`)
    await rs().writeFile('/etc/systemd/system/talker.service', `[Service]\nExecStart=${process.execPath} ${app}\n`)
    await rs().sh('systemctl daemon-reload && systemctl start talker')
    await until('talker listens', async () => (await rs().exec(['curl', '-s', '--max-time', '2', `http://127.0.0.1:${port}/`])).stdout === 'ok')
    const run = () => rs().medic(['health', '--manager', 'systemd', '--unit', 'talker', '--port', String(port), '--url', `http://127.0.0.1:${port}/`, '--state-dir', '/var/lib/medic-log', '--log-pattern', OAUTH, '-v'])
    const first = await run()
    expectContract(first, 'GATEWAY_OK')
    expect(first.stdout).toMatch(/check log: ok - journal of talker: first run, position taken/)
    await rs().writeFile(say, SEED001)
    await until('the journal has it', async () => (await rs().exec(['journalctl', '-u', 'talker', '--no-pager', '-o', 'cat'])).stdout.includes(OAUTH))
    const hit = await run()
    expectContract(hit, 'GATEWAY_ALERT')
    expect(hit.lines[0]).toMatch(/^GATEWAY_ALERT: LOG_PATTERN: no restart without --repair-on-log; 1 new line matching in journal of talker/)
    const again = await run()
    expectContract(again, 'GATEWAY_OK')
    expect(again.stdout).toMatch(/check log: ok - 0 matching line\(s\) in journal of talker/)
    // A cursor the journal no longer has (rotated away, vacuumed): read from the time of the last run instead.
    const statePath = '/var/lib/medic-log/health/gateway.json'
    const st = JSON.parse((await rs().readFile(statePath))!)
    st.log.cursor = 's=0000;i=1;b=0000;m=1;t=1;x=1'
    await rs().writeFile(statePath, JSON.stringify(st))
    await rs().writeFile(say, SEED001)
    await until('the journal has the second', async () => (await rs().exec(['journalctl', '-u', 'talker', '--no-pager', '-o', 'cat'])).stdout.split(OAUTH).length > 2)
    const lost = await run()
    expectContract(lost, 'GATEWAY_ALERT')
    expect(lost.stdout).toMatch(/cursor no longer in the journal/)
    expect(existsSync(app)).toBe(true)
    await rs().sh('systemctl stop talker')
  })
})
