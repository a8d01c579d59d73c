import {createServer, type Server} from 'node:net'
import {spawn, spawnSync} from 'node:child_process'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {procTable} from '../../src/sys/proc-table.js'
import {writeFileAtomic} from '../../src/sys/state-store.js'
import {alive, BIN, expectContract, Janitor, medic, startService} from '../helpers/procs.js'

const j = new Janitor()
afterEach(() => j.cleanup())

const state = () => ['--state-dir', join(j.tmp(), 'state')]

async function exited(pid: number): Promise<boolean> {
  // The holder is not our child once orphaned; poll its identity until gone (bounded).
  for (let i = 0; i < 400 && alive(pid); i++) await new Promise((r) => setTimeout(r, 5))
  return !alive(pid)
}

/** Null when this machine lets the test run medic as `nobody` against a root listener. */
async function cannotRunAsNobody(): Promise<string | null> {
  if (process.getuid?.() !== 0) return 'needs root to start a root-owned listener and run medic as nobody'
  const r = spawnSync(process.execPath, ['-e', `require('fs').accessSync(${JSON.stringify(BIN)}, require('fs').constants.R_OK)`], {uid: 65534, gid: 65534})
  return r.status === 0 ? null : `user nobody cannot read ${BIN} (the checkout is not world-readable)`
}

describe('medic cleanup', () => {
  it('says PORT_OK for a free port, exit 0 in both modes', async () => {
    const s = await startService(j)
    process.kill(-s.child.pid!, 'SIGKILL')
    await new Promise((r) => s.child.once('exit', r))
    for (const [mode, code] of [['nagios', 0], ['binary', 0]] as const) {
      const r = await medic(['cleanup', '--port', String(s.port), '--exit-codes', mode, ...state()])
      expectContract(r, 'PORT_OK')
      expect(r.code).toBe(code)
    }
  })

  it('frees a port held by the seed-000 orphan: RECOVERED, exit 1 (nagios) / 0 (binary)', async () => {
    for (const [mode, code] of [['nagios', 1], ['binary', 0]] as const) {
      const s = await startService(j, ['--orphan'])
      expect(s.pid).not.toBe(s.child.pid)
      const r = await medic(['cleanup', '--port', String(s.port), '--exit-codes', mode, '-v', ...state()])
      expectContract(r, 'PORT_RECOVERED')
      expect(r.code).toBe(code)
      expect(r.lines[0]).toContain(`pid ${s.pid} (node)`)
      expect(r.stdout).toMatch(/action SIGTERM pid \d+ \(node\): sent/)
      expect(r.stdout).toMatch(/action bind-test port \d+: bindable/)
      expect(r.stdout).not.toContain('_ALERT')
      expect(await exited(s.pid)).toBe(true)
    }
  })

  it('kills every process sharing the listening socket, parent and forked child', async () => {
    // Parent keeps running and shares its listening socket with a child (like a gateway
    // that forked a worker): both are owners, both must go.
    const script = `
      const net = require('net'), cp = require('child_process'), fs = require('fs')
      const s = net.createServer().listen(0, () => {
        const c = cp.spawn(process.execPath, ['-e', 'require("net").createServer().listen({fd: 3}, () => process.send ? 0 : console.log("up"))'], {stdio: ['ignore', 'pipe', 'inherit', s._handle.fd]})
        c.stdout.once('data', () => fs.writeFileSync(process.argv[1], JSON.stringify({pid: process.pid, child: c.pid, port: s.address().port})))
      })`
    const ready = join(j.tmp(), 'r.json')
    const c = spawn(process.execPath, ['-e', script, ready], {stdio: 'ignore', detached: true})
    j.child(c)
    const {waitReady} = await import('../helpers/procs.js')
    const info = (await waitReady(ready, 'shared socket')) as unknown as {pid: number; child: number; port: number}
    const r = await medic(['cleanup', String(info.port), '--json', ...state()])
    const out = JSON.parse(r.stdout)
    expect(out.token).toBe('PORT_RECOVERED')
    expect(out.ports[0].before.holders.map((h: {pid: number}) => h.pid).sort()).toEqual([info.pid, info.child].sort())
    expect(await exited(info.pid)).toBe(true)
    expect(await exited(info.child)).toBe(true)
  })

  it('frees a SIGSTOPped holder with TERM+CONT, no SIGKILL needed', async () => {
    const s = await startService(j, ['--orphan'])
    process.kill(s.pid, 'SIGSTOP')
    const r = await medic(['cleanup', '--port', String(s.port), '--grace', '10s', '--json', ...state()])
    const out = JSON.parse(r.stdout)
    expect(out.token).toBe('PORT_RECOVERED')
    expect(out.actions.map((a: {action: string}) => a.action)).not.toContain('SIGKILL')
    expect(out.actions.find((a: {action: string}) => a.action === 'exit').result).toBe('exited after SIGTERM')
  })

  it('escalates to SIGKILL after the grace for a holder that ignores SIGTERM', async () => {
    const s = await startService(j, ['--orphan', '--ignore-term'])
    const r = await medic(['cleanup', '--port', String(s.port), '--grace', '300ms', '--json', ...state()])
    const out = JSON.parse(r.stdout)
    expect(out.token).toBe('PORT_RECOVERED')
    // The exact timing of the escalation is pinned by the pure kill-plan tests.
    expect(out.actions.map((a: {action: string}) => a.action).slice(0, 2)).toEqual(['SIGTERM', 'SIGKILL'])
    expect(out.actions.find((a: {action: string}) => a.action === 'SIGKILL').result).toBe('sent')
    expect(out.actions.find((a: {action: string}) => a.action === 'exit').result).toBe('exited after SIGKILL')
  })

  it('never kills a client connected to the port', async () => {
    const s = await startService(j, ['--orphan', '--host', '127.0.0.1'])
    const client = await startService(j, ['--connect', String(s.port)])
    const r = await medic(['cleanup', '--port', String(s.port), ...state()])
    expectContract(r, 'PORT_RECOVERED')
    expect(r.lines[0]).not.toContain(String(client.pid))
    expect(alive(client.pid)).toBe(true)
  })

  it('changes nothing with --dry-run and prints the plan', async () => {
    const s = await startService(j, ['--orphan'])
    const r = await medic(['cleanup', '--port', String(s.port), '--dry-run', '-v', ...state()])
    expectContract(r, 'PORT_ALERT')
    expect(r.code).toBe(2)
    expect(r.lines[0]).toContain('dry run')
    expect(r.stdout).toMatch(/plan: SIGTERM\+SIGCONT → pid \d+ \(node\); SIGKILL after 5s/)
    expect(alive(s.pid)).toBe(true)
  })

  it('refuses a holder matching --protect and names it in the ALERT', async () => {
    const s = await startService(j, ['--orphan'])
    const r = await medic(['cleanup', '--port', String(s.port), '--protect', 'service\\.mjs', '--exit-codes', 'binary', ...state()])
    expectContract(r, 'PORT_ALERT')
    expect(r.code).toBe(1)
    expect(r.lines[0]).toMatch(new RegExp(`pid ${s.pid} \\(node, user root, sleeping\\): matches --protect`))
    expect(alive(s.pid)).toBe(true)
  })

  it('refuses a holder outside --match', async () => {
    const s = await startService(j, ['--orphan'])
    const r = await medic(['cleanup', '--port', String(s.port), '--match', 'clawdbot|openclaw', ...state()])
    expectContract(r, 'PORT_ALERT')
    expect(r.lines[0]).toContain('does not match --match')
    expect(alive(s.pid)).toBe(true)
  })

  it('refuses a job registered by run-dev-safe (the protected registry, in the per-state-dir place of earlier versions)', async () => {
    const dir = join(j.tmp(), 'state')
    const s = await startService(j, ['--orphan'])
    const st = procTable.stat(s.pid)!
    writeFileAtomic(join(dir, 'protected', `${s.pid}-${st.startTime}.json`), JSON.stringify({version: 1, pid: s.pid, startTime: st.startTime, name: 'train-500', cmdline: [], descendants: true, registeredAt: new Date().toISOString()}))
    const r = await medic(['cleanup', '--port', String(s.port), '--state-dir', dir])
    expectContract(r, 'PORT_ALERT')
    expect(r.lines[0]).toContain('protected by run-dev-safe (job "train-500")')
    expect(alive(s.pid)).toBe(true)
  })

  it("never signals medic's own ancestor holding the port", async () => {
    // This test process listens, and is medic's parent.
    const srv: Server = createServer()
    await new Promise<void>((r) => srv.listen(0, r))
    const port = (srv.address() as {port: number}).port
    try {
      const r = await medic(['cleanup', '--port', String(port), ...state()])
      expectContract(r, 'PORT_ALERT')
      expect(r.lines[0]).toContain('ancestor of medic')
    } finally {
      srv.close()
    }
  })

  it('as a non-root user, never calls a root-owned listener free', async () => {
    const why = await cannotRunAsNobody()
    if (why) {
      console.log(`skipped: ${why}`)
      return
    }
    const s = await startService(j, ['--orphan'])
    const r = await medic(['cleanup', '--port', String(s.port), '--state-dir', join(j.tmp(), 'st')], {uid: 65534, env: {HOME: '/nonexistent'}})
    expectContract(r, 'PORT_ALERT')
    expect(r.lines[0]).toContain('invisible process')
    expect(alive(s.pid)).toBe(true)
  })

  it('ends ALERT when --timeout expires before a TERM-ignoring holder is killed', async () => {
    const s = await startService(j, ['--orphan', '--ignore-term'])
    const r = await medic(['cleanup', '--port', String(s.port), '--grace', '30s', '--timeout', '300ms', ...state()])
    expectContract(r, 'PORT_ALERT')
    expect(r.lines[0]).toContain('--timeout')
    expect(alive(s.pid)).toBe(true)
  })

  it('handles several ports in one run and reports the worst', async () => {
    const a = await startService(j, ['--orphan'])
    const b = await startService(j, ['--orphan'])
    const escaped = b.readyFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    const r = await medic(['cleanup', '--port', String(a.port), '--port', String(b.port), `--protect=${escaped}`, '--json', ...state()])
    const out = JSON.parse(r.stdout)
    expect(out.token).toBe('PORT_ALERT')
    expect(out.checks.map((c: {status: string}) => c.status)).toEqual(['RECOVERED', 'ALERT'])
    expect(out.summary.indexOf(`port ${b.port}`)).toBeLessThan(out.summary.indexOf(`port ${a.port}`))
    expect(await exited(a.pid)).toBe(true)
    expect(alive(b.pid)).toBe(true)
  })

  it('rejects a bad port as a usage error', async () => {
    for (const bad of ['0', '70000', 'http', '-1']) {
      const r = await medic(['cleanup', '--port', bad])
      expectContract(r, 'PORT_UNKNOWN')
      expect(r.code).toBe(3)
    }
    const r = await medic(['cleanup', '--match', '(unclosed'])
    expectContract(r, 'PORT_UNKNOWN')
    expect(r.lines[0]).toContain('not a valid regular expression')
  })

  it('takes the port from OPENCLAW_GATEWAY_PORT like gateway_prestart.sh', async () => {
    const s = await startService(j, ['--orphan'])
    const r = await medic(['cleanup', '--dry-run', ...state()], {env: {OPENCLAW_GATEWAY_PORT: String(s.port)}})
    expect(r.lines[0]).toContain(`port ${s.port} held by pid ${s.pid}`)
  })

  it('logs each action with an ISO-8601 stamp when --log-file is given', async () => {
    const s = await startService(j, ['--orphan'])
    const log = join(j.tmp(), 'memory', 'gateway-prestart.log')
    await medic(['cleanup', '--port', String(s.port), '--log-file', log, ...state()])
    const {readFileSync} = await import('node:fs')
    const text = readFileSync(log, 'utf8')
    expect(text).toMatch(/^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d\] SIGTERM pid \d+ \(node\): sent$/m)
    expect(text).toMatch(/RECOVERED port \d+ freed/)
  })
})
