import {spawn} from 'node:child_process'
import {chmodSync, chownSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {alive, BIN, expectContract, freePort, Janitor, medic, ROOT, SERVICE, startService, type MedicResult} from '../helpers/procs.js'

/**
 * Issue 9, defect 9: every log medic appends to — --log-file, the health log and its
 * commands.log, the supervise log and the child's output, run-dev-safe's log, boot's
 * supervisor.err — is opened without following a symlink, with its own mode whatever the
 * umask; and as root, a state dir another user could plant such links in is refused.
 */
const j = new Janitor()
afterEach(() => j.cleanup())

const root = process.getuid?.() === 0
const SECRET = 'TOP-SECRET root-only line\n'

/** A 0600 file a planted symlink points at; it must come out of every run as it went in. */
function secret(): string {
  const p = join(j.tmp(), 'secret')
  writeFileSync(p, SECRET, {mode: 0o600})
  chmodSync(p, 0o600)
  return p
}

function plant(link: string, target: string): void {
  mkdirSync(join(link, '..'), {recursive: true})
  symlinkSync(target, link)
}

/** No file below `dir` holds the secret (a rotation once copied a linked-to file into a new 0644 log). */
function leaked(dir: string): string[] {
  const out: string[] = []
  for (const e of readdirSync(dir, {withFileTypes: true, recursive: true})) {
    const p = join(e.parentPath ?? (e as unknown as {path: string}).path, e.name)
    if (lstatSync(p).isFile() && readFileSync(p, 'utf8').includes('TOP-SECRET')) out.push(p)
  }
  return out
}

function run(args: string[], umask?: number): Promise<MedicResult> {
  if (umask === undefined) return medic(args)
  return new Promise((resolve) => {
    const c = spawn('sh', ['-c', `umask ${umask.toString(8).padStart(3, '0')}; exec "$@"`, 'sh', process.execPath, BIN, ...args], {stdio: ['ignore', 'pipe', 'pipe'], cwd: ROOT, env: {...process.env, NO_COLOR: '1'}})
    let stdout = ''
    let stderr = ''
    c.stdout.on('data', (d) => (stdout += d))
    c.stderr.on('data', (d) => (stderr += d))
    c.on('close', (code) => resolve({code: code ?? -1, stdout, stderr, lines: stdout.split('\n').filter(Boolean)}))
  })
}

describe('appends never follow a planted symlink', () => {
  it('--log-file, the health log and its commands.log', async () => {
    const s = secret()
    const state = j.tmp()
    const logFile = join(j.tmp(), 'medic.log')
    plant(logFile, s)
    plant(join(state, 'health', 'gw.log'), s)
    plant(join(state, 'health', 'gw.commands.log'), s)
    const port = await freePort()
    await medic(['cleanup', '--port', String(port), '--log-file', logFile, '--state-dir', state])
    // A dead service: health repairs it through --start-cmd, whose output goes to commands.log.
    const r = await medic(['health', '--name', 'gw', '--port', String(port), '--reprobe-delay', '10ms', '--verify-timeout', '300ms', '--manager', 'command', '--start-cmd', 'echo started', '--state-dir', state])
    expect(r.lines[0]).toMatch(/^GW_ALERT/) // nothing listens after "echo started"
    expect(r.stderr).toMatch(/cannot write log .*gw\.log: a symlink: refused/)
    expect(readFileSync(s, 'utf8')).toBe(SECRET)
    expect(statSync(s).mode & 0o777).toBe(0o600)
    expect(leaked(state)).toEqual([])
  })

  it("the supervise log and the child's output", async () => {
    const s = secret()
    const state = j.tmp()
    plant(join(state, 'supervise', 'gw.log'), s)
    plant(join(state, 'supervise', 'gw.out.log'), s)
    const r = await medic(['supervise', '--name', 'gw', '--state-dir', state, '--timeout', '1s', '--', 'sh', '-c', 'echo child output; exec sleep 100'])
    expectContract(r, 'SUPERVISOR_OK')
    expect(readFileSync(s, 'utf8')).toBe(SECRET)
    expect(leaked(state)).toEqual([])
  })

  it("run-dev-safe's log", async () => {
    const s = secret()
    const state = j.tmp()
    plant(join(state, 'run-dev-safe', 'job.log'), s)
    const r = await medic(['run-dev-safe', '--name', 'job', '--no-trace', '--state-dir', state, '--', 'echo', 'job output'])
    expect(r.code).toBe(0)
    expect(r.stdout).toBe('job output\n')
    expect(readFileSync(s, 'utf8')).toBe(SECRET)
    expect(leaked(state)).toEqual([])
  })

  it("boot's supervisor.err", async () => {
    const s = secret()
    const state = j.tmp()
    plant(join(state, 'supervise', 'bt.supervisor.err'), s)
    j.later(() => {
      const st = JSON.parse(readFileSync(join(state, 'supervise', 'bt.json'), 'utf8'))
      return [st.supervisor?.pid ?? 0, st.child?.pid ?? 0]
    })
    const r = await medic(['boot', '--name', 'bt', '--wait', '5s', '--state-dir', state, '--', process.execPath, SERVICE])
    expectContract(r, 'BOOT_RECOVERED')
    expect(readFileSync(s, 'utf8')).toBe(SECRET)
    expect(leaked(state)).toEqual([])
  })
})

describe('modes whatever the umask', () => {
  it('with umask 000, logs are 0640, the child output 0600, state 0644 — never 0666', async () => {
    const state = j.tmp()
    const port = await freePort()
    await run(['health', '--name', 'gw', '--port', String(port), '--no-repair', '--manager', 'none', '--reprobe-delay', '10ms', '--state-dir', state], 0)
    await run(['supervise', '--name', 'sv', '--state-dir', state, '--timeout', '500ms', '--', 'sh', '-c', 'echo out; exec sleep 100'], 0)
    const mode = (p: string) => (statSync(join(state, p)).mode & 0o777).toString(8)
    expect(mode('health/gw.log')).toBe('640')
    expect(mode('health/gw.json')).toBe('644')
    expect(mode('supervise/sv.log')).toBe('640')
    expect(mode('supervise/sv.out.log')).toBe('600')
    expect(mode('supervise/sv.json')).toBe('644')
  })
})

describe.skipIf(!root)('as root, a state dir another user can change is refused', () => {
  it('world-writable: ALERT naming it, and the port holder is not touched', async () => {
    const state = j.tmp()
    chmodSync(state, 0o777)
    const holder = await startService(j)
    const r = await medic(['cleanup', '--port', String(holder.port), '--state-dir', state])
    expectContract(r, 'PORT_ALERT')
    expect(r.code).toBe(2)
    expect(r.lines[0]).toContain(`state dir ${state} refused: ${state} is writable by every user (mode 0777)`)
    expect(alive(holder.pid)).toBe(true)
    expect(readdirSync(state)).toEqual([])
  })

  it('owned by another user, or under a parent others can write without the sticky bit: ALERT', async () => {
    const owned = join(j.tmp(), 'state')
    mkdirSync(owned)
    chownSync(owned, 65534, 65534)
    expectContract(await medic(['health', '--name', 'gw', '--port', String(await freePort()), '--no-repair', '--manager', 'none', '--state-dir', owned]), 'GW_ALERT')
    const parent = j.tmp()
    chmodSync(parent, 0o777)
    const r = await medic(['watchdog', '--once', '--sessions-dir', join(parent, 'none'), '--ops-dir', '', '--restart-flag', '', '--manager', 'none', '--state-dir', join(parent, 'state')])
    expectContract(r, 'WATCHDOG_ALERT')
    expect(r.lines[0]).toContain(`${parent} is writable by every user`)
  })

  it('protect add writes no registry entry there', async () => {
    const state = j.tmp()
    chmodSync(state, 0o777)
    const s = await startService(j)
    const r = await medic(['protect', 'add', '--pid', String(s.pid), '--state-dir', state])
    expectContract(r, 'PROTECT_ALERT')
    expect(readdirSync(state)).toEqual([])
  })

  it('run-dev-safe says so on stderr (stdout is the job\'s) and does not start the job', async () => {
    const state = j.tmp()
    chmodSync(state, 0o777)
    const marker = join(j.tmp(), 'ran')
    const r = await medic(['run-dev-safe', '--no-trace', '--state-dir', state, '--', 'touch', marker])
    expect(r.stdout).toBe('')
    expect(r.stderr).toMatch(/^DEVRUN_ALERT: state dir .* refused/m)
    expect(r.code).toBe(2)
    expect(() => statSync(marker)).toThrow()
  })
})

if (!root) console.log('files-appends: root-only cases skipped: not root (cannot chown, and the state-dir rule is for root)')
