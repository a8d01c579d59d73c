import {spawn, spawnSync} from 'node:child_process'
import {chownSync, existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {lintExposition} from '../../src/core/prom.js'
import {fakeOllama as fake, runCheck, type Fake} from '../helpers/ollama.js'
import {BIN, expectContract, Janitor, medic, until} from '../helpers/procs.js'

// F11: the Ollama textfiles (`ollama metrics --file`, `ollama frozen-check --metrics-file`)
// are written through the file gate: never through a symlink, never over a FIFO or a file
// medic did not write, and one writer per file.

const j = new Janitor()
afterEach(() => j.cleanup())

const metrics = (o: Fake, file: string, state = join(o.dir, 'state')) => medic(['ollama', 'metrics', '--file', file, '--state-dir', state], {env: o.env})
const FOREIGN = '# HELP node_textfile_thing Somebody else\'s series.\n# TYPE node_textfile_thing gauge\nnode_textfile_thing 1\n'

const promtool = (text: string) => spawnSync('promtool', ['check', 'metrics'], {input: text, encoding: 'utf8'})
const havePromtool = !spawnSync('promtool', ['--version']).error

describe('the Ollama textfiles go through the file gate', () => {
  it('writes its own file with medic\'s header line, replaces it next pass, and it stays promtool-valid', async () => {
    const o = await fake(j, 'healthy', 'idle')
    const file = join(o.dir, 'ollama.prom')
    expectContract(await metrics(o, file), 'OLLAMA_OK')
    const first = readFileSync(file, 'utf8')
    expect(first.split('\n')[0]).toMatch(/^# medic ollama metrics textfile, written by pid \d+ \(start \d+\); rewritten every pass: do not edit$/)
    expectContract(await metrics(o, file), 'OLLAMA_OK') // its own file: replaced
    const again = readFileSync(file, 'utf8')
    expect(lintExposition(again)).toEqual([])
    if (!havePromtool) return void console.log('skipped promtool check metrics: promtool not installed (Debian package prometheus)')
    const r = promtool(again)
    expect(r.status, r.stdout + r.stderr).toBe(0)
  })

  it('refuses (UNKNOWN, naming it) a file medic did not write, and leaves it as it was', async () => {
    const o = await fake(j, 'healthy', 'idle')
    const file = join(o.dir, 'ollama.prom')
    writeFileSync(file, FOREIGN)
    const r = await metrics(o, file)
    expectContract(r, 'OLLAMA_UNKNOWN')
    expect(r.code).toBe(3)
    expect(r.lines[0]).toContain(file)
    expect(r.lines[0]).toMatch(/not written by medic/)
    expect(readFileSync(file, 'utf8')).toBe(FOREIGN)
    const fc = await runCheck(o, '--metrics-file', file)
    expectContract(fc, 'OLLAMA_UNKNOWN') // frozen-check: healthy, but its textfile refused
    expect(fc.lines[0]).toMatch(/not written by medic/)
    expect(readFileSync(file, 'utf8')).toBe(FOREIGN)
  })

  it('never replaces or follows a symlink planted at the path', async () => {
    const o = await fake(j, 'healthy', 'idle')
    const target = join(o.dir, 'precious')
    writeFileSync(target, 'keep me\n')
    const file = join(o.dir, 'ollama.prom')
    symlinkSync(target, file)
    const r = await metrics(o, file)
    expectContract(r, 'OLLAMA_UNKNOWN')
    expect(r.lines[0]).toMatch(/symlink/)
    expect(lstatSync(file).isSymbolicLink()).toBe(true)
    expect(readlinkSync(file)).toBe(target)
    expect(readFileSync(target, 'utf8')).toBe('keep me\n')
    const fc = await runCheck(o, '--metrics-file', file)
    expectContract(fc, 'OLLAMA_UNKNOWN')
    expect(lstatSync(file).isSymbolicLink()).toBe(true)
    expect(readFileSync(target, 'utf8')).toBe('keep me\n')
  })

  it('never replaces a FIFO (and never blocks on one)', async () => {
    const o = await fake(j, 'healthy', 'idle')
    const file = join(o.dir, 'ollama.prom')
    expect(spawnSync('mkfifo', [file]).status).toBe(0)
    const r = await metrics(o, file)
    expectContract(r, 'OLLAMA_UNKNOWN')
    expect(r.lines[0]).toMatch(/not a regular file/)
    expect(lstatSync(file).isFIFO()).toBe(true)
  })

  it('the exporter and the monitor pointed at one file: the second is refused, naming whose file it is', async () => {
    const o = await fake(j, 'healthy', 'idle')
    mkdirSync(join(o.dir, 'textfile'), {recursive: true})
    const file = join(o.dir, 'textfile/shared.prom')
    expectContract(await runCheck(o, '--metrics-file', file), 'OLLAMA_OK')
    const monitor = readFileSync(file, 'utf8')
    const r = await metrics(o, file)
    expectContract(r, 'OLLAMA_UNKNOWN')
    expect(r.lines[0]).toMatch(/ollama frozen-check's textfile/)
    expect(readFileSync(file, 'utf8')).toBe(monitor)
  })

  it('two writers of one file: the --watch loop holds it for its life; a second is refused naming the holder; once it ends the file is free', async () => {
    const o = await fake(j, 'healthy', 'idle')
    const file = join(o.dir, 'ollama.prom')
    const c = spawn(process.execPath, [BIN, 'ollama', 'metrics', '--watch', '100ms', '--file', file, '--state-dir', join(o.dir, 'state')], {env: {...process.env, ...o.env}, stdio: ['ignore', 'pipe', 'ignore']})
    j.child(c)
    let out = ''
    c.stdout!.on('data', (d) => (out += d))
    await until('the loop wrote its file', () => existsSync(file) && readFileSync(file, 'utf8').includes(`pid ${c.pid} `))
    const second = await metrics(o, file, join(o.dir, 'other-state'))
    expectContract(second, 'OLLAMA_UNKNOWN')
    expect(second.lines[0]).toMatch(new RegExp(`held by medic pid ${c.pid} \\(ollama metrics\\)`))
    const watch2 = spawn(process.execPath, [BIN, 'ollama', 'frozen-check', '--watch', '--interval', '100ms', '--metrics-file', file, '--state-dir', join(o.dir, 'fc-state')], {env: {...process.env, ...o.env}, stdio: ['ignore', 'pipe', 'ignore']})
    j.child(watch2)
    let out2 = ''
    watch2.stdout!.on('data', (d) => (out2 += d))
    await until('the monitor loop was refused', () => out2.includes('OLLAMA_UNKNOWN'))
    expect(out2).toMatch(/ollama metrics's textfile/)
    watch2.kill('SIGTERM')
    await new Promise((r) => watch2.once('exit', r))
    expect(readFileSync(file, 'utf8')).toContain(`pid ${c.pid} `) // still the loop's
    c.kill('SIGTERM')
    expect(await new Promise((r) => c.once('exit', r))).toBe(0)
    expect(out).toMatch(/^OLLAMA_OK: /)
    expect(out).not.toContain('OLLAMA_UNKNOWN') // the loop itself was never refused
    expectContract(await metrics(o, file), 'OLLAMA_OK') // its holder gone: the file is free
  })
})

describe('an Ollama textfile owned by another user, with medic’s header forged on line 1', () => {
  // chown to another user needs root (CI runs as root).
  it.skipIf(process.geteuid?.() !== 0)('is not medic’s: refused (UNKNOWN naming the owner), left as it was (needs root to chown)', async () => {
    const o = await fake(j, 'healthy', 'idle')
    const file = join(o.dir, 'ollama.prom')
    // Another user (uid 65534) wrote line 1 as medic's header, naming a writer long gone.
    const forged = `# medic ollama metrics textfile, written by pid 999999 (start 1); rewritten every pass: do not edit\n${FOREIGN}`
    writeFileSync(file, forged)
    chownSync(file, 65534, 65534)
    const r = await metrics(o, file)
    expectContract(r, 'OLLAMA_UNKNOWN')
    expect(r.lines[0]).toContain('owned by uid 65534')
    expect(readFileSync(file, 'utf8')).toBe(forged)
  })
})
