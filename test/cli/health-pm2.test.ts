import {spawnSync} from 'node:child_process'
import {existsSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {expectContract, Janitor, medic, ROOT, SERVICE} from '../helpers/procs.js'

/** pm2 is a real dev dependency: a real pm2 daemon in a private PM2_HOME runs the service. */
const PM2 = join(ROOT, 'node_modules/.bin/pm2')
const j = new Janitor()
let env: NodeJS.ProcessEnv
let port = 0
const FAST = ['--reprobe-delay', '100ms', '--probe-timeout', '500ms', '--verify-interval', '100ms', '--verify-timeout', '10s']

function pm2(...args: string[]) {
  return spawnSync(PM2, args, {env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000})
}

if (!existsSync(PM2)) console.log(`skipped the pm2 tests: ${PM2} is missing (npm ci installs it)`)

describe.skipIf(!existsSync(PM2))('medic health --manager pm2 (real pm2)', () => {
  beforeAll(async () => {
    const home = j.tmp()
    env = {...process.env, PM2_HOME: join(home, '.pm2'), HOME: home, PATH: `${join(ROOT, 'node_modules/.bin')}:${process.env.PATH}`}
    j.pidFile(join(home, '.pm2', 'pm2.pid'))
    const {createServer} = await import('node:net')
    port = await new Promise((resolve) => {
      const s = createServer().listen(0, () => {
        const p = (s.address() as {port: number}).port
        s.close(() => resolve(p))
      })
    })
    const r = pm2('start', SERVICE, '--name', 'gw', '--', '--port', String(port))
    if (r.status !== 0) throw new Error(`pm2 start failed: ${r.stderr}`)
  })

  afterAll(async () => {
    pm2('kill')
    await j.cleanup()
  })

  const args = () => ['health', '--manager', 'pm2', '--pm2-app', 'gw', '--port', String(port), '--url', `http://127.0.0.1:${port}/`, '--state-dir', join(env.HOME!, 'state'), ...FAST]

  it('reads an online app as healthy', async () => {
    // pm2 answers once the app is online; the probe decides whether it serves.
    let r = await medic(args(), {env})
    for (let i = 0; i < 50 && !r.stdout.startsWith('GATEWAY_OK'); i++) r = await medic([...args(), '--no-repair'], {env})
    expectContract(r, 'GATEWAY_OK')
    expect(r.lines[0]).toContain('pm2 app gw online')
  })

  it('restarts a stopped app through pm2 and verifies it', async () => {
    expect(pm2('stop', 'gw').status).toBe(0)
    const r = await medic([...args(), '--json'], {env})
    const out = JSON.parse(r.stdout)
    expect(out.token).toBe('GATEWAY_RECOVERED')
    expect(out.problems.map((p: {code: string}) => p.code)).toEqual(['GATEWAY_DEAD'])
    expect(out.actions.find((a: {action: string}) => a.action === 'start').result).toBe('ok')
    expect(pm2('jlist').stdout).toMatch(/"status":"online"/)
  })

  it('finds pm2 by itself with --manager auto, and counts pm2\'s restarts per hour', async () => {
    // A crash pm2 restarts by itself: restart_time goes from 0 to 1.
    const app = () => JSON.parse(pm2('jlist').stdout.slice(pm2('jlist').stdout.indexOf('['))).find((a: {name: string}) => a.name === 'gw')
    const before = app()
    process.kill(before.pid, 'SIGKILL')
    for (let i = 0; i < 500; i++) {
      const a = app()
      if (a.pm2_env.restart_time === 1 && a.pm2_env.status === 'online' && a.pid !== before.pid) break
      await new Promise((r) => setTimeout(r, 20))
    }
    await medic([...args(), '--no-repair'], {env}) // let the new process bind
    const r = await medic(['health', '--pm2-app', 'gw', '--port', String(port), '--url', `http://127.0.0.1:${port}/`, '--state-dir', join(env.HOME!, 'state'), '--json', ...FAST], {env})
    const out = JSON.parse(r.stdout)
    expect(out.manager).toBe('pm2')
    expect(out.token).toBe('GATEWAY_OK')
    // pm2's lifetime restart_time, sampled by the earlier runs, is counted per hour.
    expect(out.checks.find((c: {name: string}) => c.name === 'restarts').detail).toMatch(/pm2 restart_time, last hour \(counter 1\): 1/)
  })
})
