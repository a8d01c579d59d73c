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

/**
 * The environment cron and systemd give medic: PATH, HOME, LANG and NO_COLOR, nothing of
 * this shell's. Node variables in particular are left out: this sandbox exports
 * NODE_EXTRA_CA_CERTS, which makes every node start parse ~220 KB of certificates
 * (~40 ms of `node -e ''` here) and would flatter every ratio against node.
 */
export function cronEnv() {
  return {PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', LANG: 'C.UTF-8', NO_COLOR: '1'}
}

/**
 * CPU time (user + system) of this process's reaped children so far, in ms: /proc/self/stat
 * cutime + cstime. Counted in clock ticks (10 ms), so only a sum over many runs means
 * anything: `interleave` reports the mean per run.
 */
function childCpuMs() {
  try {
    const s = readFileSync('/proc/self/stat', 'latin1')
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ')
    return (Number(f[13]) + Number(f[14])) * 10 // fields 16, 17; USER_HZ is 100 on Linux
  } catch {
    return NaN
  }
}

/**
 * Runs each contender once per round, `rounds` times, in turn (load drifts hit all alike);
 * returns each one's wall times in ms, and in `cpu` (not enumerable) each one's mean CPU
 * time per run (user + system, its children included: a spawn of ss counts) — load on the
 * shared machine stretches wall time far more than CPU time, so a real cut shows there
 * first. A contender is [cmd, args] or a function that returns a promise of ms.
 */
export async function interleave(contenders, rounds, env = cronEnv()) {
  const times = Object.fromEntries(Object.keys(contenders).map((k) => [k, []]))
  const cpu = Object.fromEntries(Object.keys(contenders).map((k) => [k, 0]))
  for (let i = 0; i < rounds; i++) {
    for (const [k, c] of Object.entries(contenders)) {
      if (typeof c === 'function') times[k].push(await c())
      else {
        const c0 = childCpuMs()
        const t = performance.now()
        // stdout and stderr are pipes, as cron and Docker give them (not /dev/null).
        const r = spawnSync(c[0], c[1], {stdio: ['ignore', 'pipe', 'pipe'], env})
        if (r.status === null) throw new Error(`${k}: killed by ${r.signal}`)
        times[k].push(performance.now() - t)
        cpu[k] += childCpuMs() - c0
      }
    }
  }
  Object.defineProperty(times, 'cpu', {value: Object.fromEntries(Object.entries(cpu).map(([k, ms]) => [k, ms / rounds]))})
  return times
}

/** `a` against `b` as the ratio of medians, and the spread of the per-round ratios (p25–p75). */
export function compare(a, b) {
  const rs = a.map((x, i) => x / b[i]).sort((x, y) => x - y)
  const q = (p) => rs[Math.min(rs.length - 1, Math.floor(p * rs.length))]
  return {ratio: median(a) / median(b), p25: q(0.25), p75: q(0.75), text: `${ratio(median(a), median(b))} (per-round p25–p75 ${q(0.25).toFixed(2)}–${q(0.75).toFixed(2)})`}
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
