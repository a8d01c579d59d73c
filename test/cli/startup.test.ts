import {spawn, spawnSync} from 'node:child_process'
import {existsSync, readFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {COMMANDS} from '../../src/cli/registry.js'
import {BIN, expectContract, freePort, Janitor, medic, ROOT, startService} from '../helpers/procs.js'

// Start-up guards (issue 16; the numbers are in bench/ and docs/startup.md): a cron or
// ExecStartPre run is one CommonJS bundle, no package from node_modules, no ESM loader.
const j = new Janitor()
afterEach(() => j.cleanup())

const PROBE = join(ROOT, 'test/fixtures/load-probe.cjs')
const TTY_ONLY = /node_modules\/(@oclif\/|listr2\/|ora\/|chalk\/)/

interface Loaded {
  required: string[]
  internal: string[]
}

async function loadedBy(args: string[]): Promise<{r: Awaited<ReturnType<typeof medic>>; loaded: Loaded}> {
  const out = join(j.tmp(), `load-${Math.random().toString(36).slice(2)}.json`)
  const r = await medic(args, {env: {NODE_OPTIONS: `--require ${PROBE}`, LOAD_PROBE_OUT: out}})
  return {r, loaded: JSON.parse(readFileSync(out, 'utf8')) as Loaded}
}

function expectLean(loaded: Loaded): void {
  expect(loaded.required.filter((f) => TTY_ONLY.test(f))).toEqual([])
  // Nothing from node_modules at all on these paths, and medic's code is the bundle only.
  expect(loaded.required.filter((f) => f.includes('/node_modules/'))).toEqual([])
  // (the command's bundle itself is compiled by bin/run.js through vm.Script, not require)
  expect(loaded.required.filter((f) => f.startsWith(ROOT) && !/\/(bin\/run\.js|dist\/run\/route\.cjs|test\/fixtures\/load-probe\.cjs)$/.test(f))).toEqual([])
  expect(loaded.internal).not.toContain('NativeModule internal/modules/esm/module_job')
  // node:crypto alone is ~6 ms of start-up (src/sys/protected-registry.ts hashes without it)
  expect(loaded.internal.filter((m) => /crypto/.test(m))).toEqual([])
  // node:util parseArgs is ~1 ms of loading and first-call compiling: src/cli/argv-parse.ts stands in
  expect(loaded.internal.filter((m) => /parse_args/.test(m))).toEqual([])
}

/**
 * The probe to an IP literal goes out on node's TCP handle (src/sys/raw-http.ts): medic's
 * code requires neither node:http (~3.7 ms of start-up with net) nor node:net. (node:net
 * itself still arrives on a health run: internal/child_process loads it for the ss spawn.)
 */
function expectNoHttpClient(loaded: Loaded): void {
  expect(loaded.required.filter((f) => /^(node:)?(http|https|net|tls|dns)$/.test(f))).toEqual([])
  expect(loaded.internal.filter((m) => /^NativeModule (http|https|_http_\w+|internal\/http)$/.test(m))).toEqual([])
}

describe('the run path (no TTY)', () => {
  it('cleanup of a free port loads no oclif, listr2, ora or chalk, nothing from node_modules, and no ES module', async () => {
    const {r, loaded} = await loadedBy(['cleanup', '--port', String(await freePort()), '--state-dir', join(j.tmp(), 'state')])
    expectContract(r, 'PORT_OK')
    expectLean(loaded)
    // A free port spawns nothing: node:child_process is ~2–3 ms of start-up (the runner's
    // interrupt path reaches exec.ts's in-flight commands through sys/in-flight.ts, which imports nothing).
    expect(loaded.internal.filter((m) => /^NativeModule child_process$/.test(m))).toEqual([])
  })

  it('a healthy health run and supervise status load none of them either', async () => {
    const s = await startService(j)
    const h = await loadedBy(['health', '--port', String(s.port), '--manager', 'none', '--state-dir', join(j.tmp(), 'state')])
    expectContract(h.r, 'GATEWAY_OK')
    expectLean(h.loaded)
    expectNoHttpClient(h.loaded)
    // --tcp: the connect on the handle too
    const t = await loadedBy(['health', '--port', String(s.port), '--tcp', '--manager', 'none', '--state-dir', join(j.tmp(), 'state')])
    expectContract(t.r, 'GATEWAY_OK')
    expectNoHttpClient(t.loaded)
    const st = await loadedBy(['supervise', 'status', '--state-dir', join(j.tmp(), 'state')])
    expect(st.r.lines[0]).toMatch(/^SUPERVISOR_[A-Z]+: /)
    expectLean(st.loaded)
  })

  it("a cron line's > /dev/null 2>&1 builds no stream for it (a character device, not a terminal)", async () => {
    const out = join(j.tmp(), 'load.json')
    const r = spawnSync(process.execPath, [BIN, 'cleanup', '--port', String(await freePort()), '--state-dir', join(j.tmp(), 'state')], {stdio: 'ignore', env: {...process.env, NODE_OPTIONS: `--require ${PROBE}`, LOAD_PROBE_OUT: out}})
    expect(r.status).toBe(0)
    const loaded = JSON.parse(readFileSync(out, 'utf8')) as Loaded
    expectLean(loaded)
    expect(loaded.internal.filter((m) => /sync_write_stream|NativeModule tty/.test(m))).toEqual([])
  })

  it('a steady health run (manager auto, holders known from the last run) spawns nothing: no ss, no node:child_process', async () => {
    const s = await startService(j)
    const state = join(j.tmp(), 'state')
    expectContract(await medic(['health', '--port', String(s.port), '--state-dir', state]), 'GATEWAY_OK') // the full look, recorded
    const h = await loadedBy(['health', '--port', String(s.port), '--state-dir', state])
    expectContract(h.r, 'GATEWAY_OK')
    expect(h.loaded.internal.filter((m) => /^NativeModule child_process$/.test(m))).toEqual([])
    // …nor node:net, streams or node:http: the probe is on node's TCP handle (sys/raw-http.ts).
    expect(h.loaded.internal.filter((m) => /^NativeModule (net|http|_http_\w+|stream|internal\/streams\/(readable|writable|duplex))$/.test(m))).toEqual([])
  })

  it('the probe sees what a run loads: --help goes through oclif', async () => {
    const {r, loaded} = await loadedBy(['--help'])
    expect(r.code).toBe(0)
    expect(loaded.required.some((f) => f.includes('/node_modules/@oclif/core/'))).toBe(true)
  })
})

describe('the verdict written straight to fd 1 (no process.stdout stream)', () => {
  it('keeps the exit code and prints no stack trace when the reader of the pipe is gone', async () => {
    const c = spawn(process.execPath, [BIN, 'cleanup', '--port', String(await freePort()), '--state-dir', join(j.tmp(), 'state'), '-v'], {stdio: ['ignore', 'pipe', 'pipe']})
    c.stdout.destroy() // long before medic has started: its write gets EPIPE
    let stderr = ''
    c.stderr.on('data', (d) => (stderr += d))
    const code = await new Promise((r) => c.on('close', r))
    expect(stderr).toBe('')
    expect(code).toBe(0)
  })
})

describe('the bundles', () => {
  it('serve every command of the registry, each from its own file; help of a command from its own, the root and unknown words from main', () => {
    const {bundleFor} = createRequire(import.meta.url)(join(ROOT, 'dist/run/route.cjs')) as {bundleFor: (argv: string[]) => string}
    for (const id of Object.keys(COMMANDS)) {
      const name = bundleFor([...id.split(' '), '--json'])
      expect(name).not.toBe('main')
      expect(existsSync(join(ROOT, 'dist/run', `${name}.cjs`))).toBe(true)
      // its own bundle tells `--help` from a flag's value (`--unit -h`), and hands help to oclif
      expect(bundleFor([...id.split(' '), '--help'])).toBe(name)
    }
    for (const argv of [[], ['--help'], ['nope'], ['constructor'], ['protect']]) expect(bundleFor(argv)).toBe('main')
  })

  it('are what npm run build makes of the current sources', () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'scripts/build-run.mjs'), '--check'], {encoding: 'utf8'})
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
  })

  it('have code caches that this node accepts', () => {
    const r = spawnSync(process.execPath, [BIN], {encoding: 'utf8', env: {...process.env, MEDIC_CODE_CACHE: 'check'}})
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
  })
})
