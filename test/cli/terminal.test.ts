import {spawn} from 'node:child_process'
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {alive, BIN, expectContract, Janitor, LAUNCH, medic, startService, until} from '../helpers/procs.js'

// A person at a terminal (issue 11): under a real pseudo-terminal (`script`), the waits are
// live on stderr (a spinner with the step and its elapsed time) and the token is coloured;
// piped, with NO_COLOR, CI, TERM=dumb or --json, the bytes are exactly the contract.
const j = new Janitor()
afterEach(() => j.cleanup())

const ESC = '\x1b'
const SPINNER = /[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]/
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`

/** A person's terminal: no CI, no NO_COLOR, a terminal type that has colours. */
function personEnv(over: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {...process.env, TERM: 'xterm-256color', ...over}
  for (const k of ['CI', 'NO_COLOR', 'FORCE_COLOR']) if (!(k in over)) delete env[k]
  return env
}

/** Runs medic under `script`'s pseudo-terminal (stdout and stderr both on it unless `stdoutTo`). */
function underPty(args: string[], o: {env?: NodeJS.ProcessEnv; stdoutTo?: string; stderrTo?: string} = {}): Promise<{code: number; screen: string}> {
  // script's pty has no size when its own stdin is not a terminal: give it one, as a terminal has.
  const cmd = 'stty cols 160 rows 40; ' + [process.execPath, BIN, ...args].map(q).join(' ') + (o.stdoutTo ? ` > ${q(o.stdoutTo)}` : '') + (o.stderrTo ? ` 2> ${q(o.stderrTo)}` : '')
  return new Promise((resolve, reject) => {
    const c = spawn('script', ['-qfec', cmd, '/dev/null'], {env: o.env ?? personEnv(), stdio: ['ignore', 'pipe', 'pipe']})
    let screen = ''
    c.stdout.on('data', (d) => (screen += d))
    c.stderr.on('data', (d) => (screen += d))
    c.on('error', reject)
    c.on('close', (code) => resolve({code: code ?? -1, screen}))
  })
}

/** The elapsed times the spinner showed for a step (e.g. "0.3s", "1.1s"). */
function elapsedShown(screen: string, step: string): string[] {
  const plain = screen.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '')
  return [...new Set([...plain.matchAll(new RegExp(`${step.replace(/[()+.]/g, '\\$&')}[^\\r\\n]*? (\\d+(?:\\.\\d)?(?:ms|s))`, 'g'))].map((m) => m[1]))]
}

describe('at a terminal', () => {
  it('a stubborn holder: the grace is a live step with its elapsed time, and the token is coloured', async () => {
    const s = await startService(j, ['--orphan', '--ignore-term'])
    const r = await underPty(['cleanup', '--port', String(s.port), '--grace', '1500ms', '--state-dir', join(j.tmp(), 'state')])
    expect(r.code).toBe(1)
    const step = `waiting for pid ${s.pid} (node) to exit after SIGTERM (SIGKILL at 1.5s)`
    expect(r.screen).toContain(step)
    expect(r.screen).toMatch(SPINNER)
    // live: the same step shown with elapsed times that change while the grace runs
    expect(elapsedShown(r.screen, step).length).toBeGreaterThanOrEqual(3)
    // the token, bold yellow (RECOVERED), then the summary as it always is
    expect(r.screen).toMatch(new RegExp(`${ESC}\\[1m${ESC}\\[33mPORT_RECOVERED${ESC}\\[39m${ESC}\\[22m: port ${s.port} freed: pid ${s.pid} \\(node\\) terminated in`))
  })

  it('stdout redirected away from the terminal keeps exactly the contract; the terminal still sees the steps', async () => {
    const s = await startService(j, ['--orphan', '--ignore-term'])
    const file = join(j.tmp(), 'stdout')
    const r = await underPty(['cleanup', '--port', String(s.port), '--grace', '500ms', '--state-dir', join(j.tmp(), 'state')], {stdoutTo: file})
    expect(r.code).toBe(1)
    const out = readFileSync(file, 'utf8')
    expect(out).toMatch(new RegExp(`^PORT_RECOVERED: port ${s.port} freed: pid ${s.pid} \\(node\\) terminated in \\S+; bindable\\n$`))
    expect(r.screen).toMatch(SPINNER)
  })

  it('a health repair: stop → free the port → start → verify are live steps on stderr', async () => {
    const orphan = await startService(j, ['--orphan', '--wedge', '--ignore-term'])
    const dir = j.tmp()
    const pidFile = join(dir, 'svc.pid')
    j.pidFile(pidFile)
    const start = [process.execPath, LAUNCH, '--', '--port', String(orphan.port), '--pid-file', pidFile].join(' ')
    const r = await underPty(['health', '--manager', 'command', '--start-cmd', start, '--pid-file', pidFile, '--port', String(orphan.port), '--state-dir', join(dir, 'state'),
      '--reprobe-delay', '100ms', '--probe-timeout', '400ms', '--verify-interval', '50ms', '--verify-timeout', '10s', '--grace', '1s'])
    expect(r.code).toBe(1)
    const plain = r.screen.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '')
    const order = [
      `waiting for pid ${orphan.pid} (node) to exit after SIGTERM (SIGKILL at 1s)`,
      'starting via command manager',
      `verifying http://127.0.0.1:${orphan.port}/health`,
    ].map((t) => plain.indexOf(t))
    for (const i of order) expect(i).toBeGreaterThanOrEqual(0)
    expect([...order].sort((a, b) => a - b)).toEqual(order)
    expect(elapsedShown(r.screen, `waiting for pid ${orphan.pid} (node) to exit after SIGTERM (SIGKILL at 1s)`).length).toBeGreaterThanOrEqual(2)
    expect(r.screen).toMatch(new RegExp(`${ESC}\\[1m${ESC}\\[33mGATEWAY_RECOVERED${ESC}`))
  })

  it.each([
    ['NO_COLOR=1', {NO_COLOR: '1'}, []],
    ['CI=true', {CI: 'true'}, []],
    ['TERM=dumb', {TERM: 'dumb'}, []],
    ['--json', {}, ['--json']],
  ] as const)('with %s: no spinner, no colour, not one escape byte', async (_, env, extra) => {
    const s = await startService(j, ['--orphan', '--ignore-term'])
    const r = await underPty(['cleanup', '--port', String(s.port), '--grace', '300ms', '--state-dir', join(j.tmp(), 'state'), ...extra], {env: personEnv(env)})
    expect(r.code).toBe(1)
    expect(r.screen).not.toContain(ESC)
    expect(r.screen).not.toMatch(SPINNER)
    const lines = r.screen.split('\r\n').filter(Boolean)
    if (extra.length) expect(JSON.parse(lines.find((l) => l.startsWith('{'))!).token).toBe('PORT_RECOVERED')
    else expect(lines.some((l) => l.startsWith(`PORT_RECOVERED: port ${s.port} freed`))).toBe(true)
  })

  it('piped (no terminal), the same run prints the plain progress lines and the contract, byte for byte as before', async () => {
    const s = await startService(j, ['--orphan', '--ignore-term'])
    const r = await medic(['cleanup', '--port', String(s.port), '--grace', '300ms', '--state-dir', join(j.tmp(), 'state')], {env: personEnv({TERM: 'xterm-256color', NO_COLOR: ''})})
    expectContract(r, 'PORT_RECOVERED')
    expect(r.stdout + r.stderr).not.toContain(ESC)
    expect(r.stderr.split('\n').filter(Boolean)).toEqual([
      `SIGTERM → pid ${s.pid} (node): sent`,
      `SIGKILL → pid ${s.pid} (node): sent`,
      `pid ${s.pid} (node): exited after SIGKILL`,
    ])
  })
})

describe('a verdict that goes to stderr (stdout carries a document) is coloured by stderr, not stdout', () => {
  const args = (dir: string) => ['ollama', 'metrics', '--stdout', '--url', 'http://127.0.0.1:1', '--state-dir', join(dir, 'state')]

  it('the exposition on the terminal, the verdict to a file: the file has not one escape byte', async () => {
    const dir = j.tmp()
    const err = join(dir, 'stderr')
    const r = await underPty(args(dir), {stderrTo: err})
    expect(r.screen).toContain('# TYPE ollama_up gauge')
    expect(readFileSync(err, 'utf8')).toMatch(/^OLLAMA_ALERT: down: connection refused/)
    expect(readFileSync(err, 'utf8')).not.toContain(ESC)
  })

  it('the exposition to a file, the verdict on the terminal: the token is coloured, the file plain', async () => {
    const dir = j.tmp()
    const out = join(dir, 'stdout')
    const r = await underPty(args(dir), {stdoutTo: out})
    expect(r.screen).toContain(`${ESC}[1m${ESC}[31mOLLAMA_ALERT${ESC}[39m${ESC}[22m: down: connection refused`)
    expect(readFileSync(out, 'utf8')).toMatch(/^# HELP ollama_up/)
    expect(readFileSync(out, 'utf8')).not.toContain(ESC)
  })
})

describe('an interrupt never loses the verdict', () => {
  const summary = (pid: number, grace: string) => `interrupted by SIGTERM while waiting for pid ${pid} (node) to exit after SIGTERM (SIGKILL at ${grace}); what medic did until then is on stderr`

  it("piped: `timeout`'s SIGTERM during the grace is <SUBJECT>_UNKNOWN naming the wait, exit 3 (binary: 1), one line or one JSON object", async () => {
    for (const extra of [[], ['--json', '--exit-codes', 'binary']]) {
      const s = await startService(j, ['--orphan', '--ignore-term'])
      const c = spawn(process.execPath, [BIN, 'cleanup', '--port', String(s.port), '--grace', '1h', '--state-dir', join(j.tmp(), 'state'), ...extra], {stdio: ['ignore', 'pipe', 'pipe'], env: {...process.env, NO_COLOR: '1'}})
      j.child(c)
      let out = ''
      let err = ''
      c.stdout.on('data', (d) => (out += d))
      c.stderr.on('data', (d) => (err += d))
      const closed = new Promise<number | null>((r) => c.once('close', r))
      await until('SIGTERM sent to the holder', () => err.includes(`SIGTERM → pid ${s.pid} (node): sent`))
      c.kill('SIGTERM')
      const code = await closed
      if (extra.length === 0) {
        expect(code).toBe(3)
        expect(out).toBe(`PORT_UNKNOWN: ${summary(s.pid, '1h')}\n`)
      } else {
        expect(code).toBe(1)
        expect(JSON.parse(out)).toMatchObject({token: 'PORT_UNKNOWN', exitCode: 1, summary: summary(s.pid, '1h')})
        expect(out.trim().split('\n')).toHaveLength(1)
      }
      expect(alive(s.pid)).toBe(true) // medic stopped where it was: no SIGKILL after it was told to stop
    }
  })

  it('at a terminal, Ctrl+C (SIGINT) during the spinner: the cursor comes back and stdout still gets the verdict', async () => {
    const s = await startService(j, ['--orphan', '--ignore-term'])
    const dir = j.tmp()
    const file = join(dir, 'stdout')
    const pidFile = join(dir, 'pid')
    const cmd = `stty cols 160 rows 40; echo $$ > ${q(pidFile)}; exec ${[process.execPath, BIN, 'cleanup', '--port', String(s.port), '--grace', '1h', '--state-dir', join(dir, 'state')].map(q).join(' ')} > ${q(file)}`
    const c = spawn('script', ['-qfec', cmd, '/dev/null'], {env: personEnv(), stdio: ['ignore', 'pipe', 'pipe']})
    j.child(c)
    let screen = ''
    c.stdout.on('data', (d) => (screen += d))
    const closed = new Promise<number | null>((r) => c.once('close', r))
    await until('the spinner', () => SPINNER.test(screen) && screen.includes(`waiting for pid ${s.pid} (node)`) && existsSync(pidFile))
    process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGINT')
    expect(await closed).toBe(3)
    expect(readFileSync(file, 'utf8')).toBe(`PORT_UNKNOWN: ${summary(s.pid, '1h').replace('by SIGTERM', 'by SIGINT')}\n`)
    expect(screen.lastIndexOf(`${ESC}[?25h`)).toBeGreaterThan(screen.lastIndexOf(`${ESC}[?25l`)) // the cursor is shown again
  })

  it('a command that handles the signal itself still does: a --watch loop ends with exit 0 and no interrupt verdict', async () => {
    const c = spawn(process.execPath, [BIN, 'ollama', 'frozen-check', '--watch', '--interval', '50ms', '--url', 'http://127.0.0.1:1', '--manager', 'none', '--state-dir', join(j.tmp(), 'state')], {stdio: ['ignore', 'pipe', 'pipe'], env: {...process.env, NO_COLOR: '1'}})
    j.child(c)
    let out = ''
    c.stdout.on('data', (d) => (out += d))
    const closed = new Promise<number | null>((r) => c.once('close', r))
    await until('the first pass', () => out.includes('OLLAMA_'))
    c.kill('SIGINT')
    expect(await closed).toBe(0)
    expect(out).not.toContain('interrupted')
  })
})
