import {spawn} from 'node:child_process'
import {copyFileSync, existsSync, linkSync, mkdirSync, readFileSync, renameSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {expect} from 'vitest'
import {expectContract, Janitor, LAUNCH, medic, ROOT, waitReady, type MedicResult} from './procs.js'

export const FAKE_OLLAMA = join(ROOT, 'test/fixtures/proc/fake-ollama.mjs')
export const BIN_DIR = join(ROOT, 'test/fixtures/bin')

export interface Fake {
  url: string
  port: number
  pid: number
  dir: string
  mode: (m: string) => void
  gpu: (m: string) => void
  canaries: () => number
  runner: () => number | null
  env: NodeJS.ProcessEnv
  /** `--start-cmd` that launches a new fake Ollama on the same port (detached, like a service), counting launches. */
  startCmd: () => string
  launches: () => number
  /** The pid of the last relaunched server, or null. */
  relaunched: () => number | null
  args: (...extra: string[]) => string[]
}

/**
 * Node under the name `ollama` (a hard link, or a copy across filesystems), cached: the
 * fake server runs as `ollama <fake-ollama.mjs> serve`, so it is the Ollama server by
 * identity (its exe's basename is `ollama`, `serve` in its argv) as medic checks it.
 */
export function ollamaExe(): string {
  const dir = join(ROOT, 'node_modules/.cache/medic-test')
  const exe = join(dir, 'ollama')
  if (existsSync(exe)) return exe
  mkdirSync(dir, {recursive: true})
  const tmp = `${exe}.${process.pid}.tmp`
  try {
    linkSync(process.execPath, tmp)
  } catch {
    copyFileSync(process.execPath, tmp)
  }
  renameSync(tmp, exe) // atomic: two test files racing both end with a whole one
  return exe
}

/**
 * A server speaking Ollama's API (test/fixtures/proc/fake-ollama.mjs) in its own process
 * group, with the fake nvidia-smi on PATH, and the scaled-down frozen-check flags.
 */
export async function fakeOllama(j: Janitor, mode: string, gpuMode = 'idle', opts: {nvidia?: boolean; exe?: string} = {}): Promise<Fake> {
  const dir = j.tmp()
  const f = (n: string) => join(dir, n)
  writeFileSync(f('mode'), mode)
  writeFileSync(f('gpu'), gpuMode)
  const common = ['--mode-file', f('mode'), '--runner-pid-file', f('runner.pid'), '--canary-log', f('canaries')]
  const c = spawn(opts.exe ?? ollamaExe(), [FAKE_OLLAMA, 'serve', ...common, '--ready', f('ready.json')], {stdio: 'ignore', detached: true})
  j.child(c)
  const r = await waitReady(f('ready.json'), 'fake ollama')
  j.pidFile(f('server.pid'))
  const url = `http://127.0.0.1:${r.port}`
  const env = {
    PATH: opts.nvidia === false ? process.env.PATH : `${BIN_DIR}:${process.env.PATH}`,
    FAKE_NVIDIA_MODE_FILE: f('gpu'), FAKE_NVIDIA_APPS_FILE: f('runner.pid'), OLLAMA_HOST: url,
  }
  const lines = (n: string) => (existsSync(f(n)) ? readFileSync(f(n), 'utf8').trim().split('\n').filter(Boolean) : [])
  return {
    url, port: r.port, pid: r.pid, dir, env,
    mode: (m) => writeFileSync(f('mode'), m),
    gpu: (m) => writeFileSync(f('gpu'), m),
    canaries: () => lines('canaries').length,
    runner: () => {
      const t = existsSync(f('runner.pid')) ? readFileSync(f('runner.pid'), 'utf8').trim() : ''
      return t ? Number(t) : null
    },
    startCmd: () => [process.execPath, LAUNCH, '--count-file', f('launches'), '--exec', ollamaExe(), '--service', FAKE_OLLAMA, '--', 'serve', '--port', String(r.port), ...common, '--pid-file', f('server.pid')].join(' '),
    launches: () => lines('launches').length,
    relaunched: () => {
      const t = lines('server.pid')[0]
      return t ? Number(t) : null
    },
    args: (...extra) => ['ollama', 'frozen-check', '--state-dir', f('state'), '--metrics-file', f('textfile/ollama_selfheal.prom'), '--threshold', '0s', '--confirmations', '2', '--canary-timeout', '1s', '--cooldown', '100ms', '--gpu-samples', '1', '--ps-timeout', '500ms', '--nvidia-timeout', '5s', '--grace', '500ms', ...extra],
  }
}

export const runCheck = (o: Fake, ...extra: string[]): Promise<MedicResult> => medic(o.args(...extra), {env: o.env})
export const monitorMetrics = (o: Fake): string => readFileSync(join(o.dir, 'textfile/ollama_selfheal.prom'), 'utf8')

export function sample(text: string, name: string): number | undefined {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)
  return m ? Number(m[1]) : undefined
}

export {procState} from './procs.js'

/** A manager command that does nothing but count its calls (one `x` per call) in `file`. */
export const countingCmd = (file: string): string => `${process.execPath} -e "require('fs').appendFileSync(process.argv[1], 'x')" ${file}`

/**
 * After a remediation that did not help (with --max-restarts 1): the next freeze is
 * confirmed (one pass) and then refused by the budget; the command ran once; the metrics say so.
 */
export async function expectBudgetHeld(o: Fake, args: string[], countFile: string): Promise<void> {
  await runCheck(o, ...args)
  const spent = await runCheck(o, ...args)
  expectContract(spent, 'OLLAMA_ALERT')
  expect(spent.lines[0]).toMatch(/restart budget spent: 1 in the last 1h \(max 1\)/)
  expect(readFileSync(countFile, 'utf8')).toBe('x')
  const m = monitorMetrics(o)
  expect(sample(m, 'ollama_selfheal_restart_budget_exhausted')).toBe(1)
  expect(sample(m, 'ollama_selfheal_restarts_total')).toBe(1)
}
