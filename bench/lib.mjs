// Shared helpers of the bench scripts: every figure is a ratio against a reference
// measured in the same invocation, on the same machine, interleaved run by run.
import {spawn, spawnSync} from 'node:child_process'
import {readFileSync} from 'node:fs'
import {createServer} from 'node:net'
import {performance} from 'node:perf_hooks'
import {fileURLToPath} from 'node:url'
import {join} from 'node:path'

export const root = fileURLToPath(new URL('..', import.meta.url))
export const bin = join(root, 'bin/run.js')
export const service = join(root, 'test/fixtures/proc/service.mjs')

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

export function timeSync(cmd, args, env = {}) {
  const t = performance.now()
  const r = spawnSync(cmd, args, {stdio: 'ignore', env: {...process.env, NO_COLOR: '1', ...env}})
  return {ms: performance.now() - t, status: r.status}
}

export function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, () => {
      const p = s.address().port
      s.close(() => resolve(p))
    })
  })
}

export function bindable(port) {
  return new Promise((resolve) => {
    const s = createServer()
    s.once('error', () => resolve(false))
    s.listen({port, host: '::', exclusive: true}, () => s.close(() => resolve(true)))
  })
}

/** An orphan holding a listening socket (service.mjs --orphan), extra args appended. */
export async function startHolder(tmp, args) {
  const ready = join(tmp, `ready-${Math.random().toString(36).slice(2)}.json`)
  const p = spawn(process.execPath, [service, '--orphan', '--ready', ready, ...args], {stdio: 'ignore', detached: true})
  for (let i = 0; i < 4000; i++) {
    try {
      const r = JSON.parse(readFileSync(ready, 'utf8'))
      if (r.pid !== p.pid) return r
    } catch {}
    await new Promise((r) => setTimeout(r, 2))
  }
  throw new Error('holder did not start')
}

export function killGroup(pid) {
  try {
    process.kill(-pid, 'SIGKILL')
  } catch {}
}

export function ratio(a, b) {
  return (a / b).toFixed(2) + '×'
}
