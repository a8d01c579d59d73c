#!/usr/bin/env node
// Issue 4's and 15's figures: restart latency after a SIGKILL of the supervised service, as
// a ratio to a bash `while true; do CMD; done` loop measured in the same run (target ≤ 1.15×),
// split (as root, from a private tracefs instance) into the restarter's own share — SIGKILL
// to the new service's exec — and the service's start; with BENCH_BASE, another checkout's
// medic in the same rounds;
// the supervisor's RSS and CPU while idle over BENCH_IDLE_S seconds (default 60; targets
// ≤ 60 MB and < 0.5 %); and its RSS after BENCH_RESTARTS (default 1,000) restarts, against
// its own RSS after the first few (it must not grow with restarts).
// Both sides run in cron's environment (lib.mjs cronEnv): a service started with this
// shell's NODE_EXTRA_CA_CERTS pays ~40 ms more per start, which once flattered medic
// (its child gets an explicit environment) against the bash loop (which inherits it).
import {spawn} from 'node:child_process'
import {existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync} from 'node:fs'
import {connect} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {bin, cronEnv, freePort, killGroup, median, ratio, service} from './lib.mjs'

// Each round kills both services once, the order alternating round by round (whichever goes
// second meets a machine the first just loaded); 41 rounds, because on a shared machine one
// restart varies by ±30 %: the figure is the median of the per-round ratios, with p25–p75.
const N = Number(process.env.BENCH_RUNS ?? 41)
const IDLE_S = Number(process.env.BENCH_IDLE_S ?? 60)
const RESTARTS = Number(process.env.BENCH_RESTARTS ?? 1000)
const tmp = mkdtempSync(join(tmpdir(), 'medic-bench-sup-'))
const TICK = 100 // clock ticks per second (USER_HZ)

const connectable = (port) => new Promise((resolve) => {
  const s = connect({port, host: '127.0.0.1'})
  s.once('connect', () => (s.destroy(), resolve(true)))
  s.once('error', () => resolve(false))
})

function listenerPid(port) {
  // The pid now listening, from /proc/net/tcp6 + fds would be heavy; ask the service.
  return new Promise((resolve) => {
    import('node:http').then(({get}) => get({host: '127.0.0.1', port, path: '/'}, (res) => {
      let b = ''
      res.on('data', (d) => (b += d))
      res.on('end', () => resolve(JSON.parse(b).pid))
    }).on('error', () => resolve(null)))
  })
}

async function until(f, ms = 20_000) {
  const end = Date.now() + ms
  for (;;) {
    const v = await f()
    if (v) return v
    if (Date.now() > end) throw new Error('timed out')
  }
}

/** SIGKILL the serving pid; time until a different pid accepts connections on the port. */
async function restartLatency(port) {
  const old = await until(() => listenerPid(port))
  const t0 = process.hrtime.bigint()
  process.kill(old, 'SIGKILL')
  const now = await until(async () => {
    if (!(await connectable(port))) return false
    const now = await listenerPid(port)
    return typeof now === 'number' && now !== old ? now : false
  })
  const t1 = process.hrtime.bigint()
  return {ms: Number(t1 - t0) / 1e6, old, now, answeredAt: Number(t1) / 1e6}
}

/**
 * The supervisor's own share of a restart, from the kernel's clock: the SIGKILL of the old
 * service (signal_generate) to the exec of node by the new one (sched_process_exec). The
 * rest — node starting and listening — is the same program on every side, and is most of
 * the noise on a shared machine. Root and tracefs only (a private instance); null elsewhere.
 */
function startTrace() {
  const dir = `/sys/kernel/tracing/instances/medic-bench-sup-${process.pid}`
  if (process.getuid?.() !== 0 || !existsSync('/sys/kernel/tracing/instances')) return null
  try {
    mkdirSync(dir)
    writeFileSync(join(dir, 'trace_clock'), 'mono')
    writeFileSync(join(dir, 'buffer_size_kb'), '4096')
    writeFileSync(join(dir, 'events/signal/signal_generate/filter'), 'sig == 9')
    writeFileSync(join(dir, 'events/sched/sched_process_exec/filter'), `filename == "${process.execPath}"`)
    writeFileSync(join(dir, 'events/signal/signal_generate/enable'), '1')
    writeFileSync(join(dir, 'events/sched/sched_process_exec/enable'), '1')
    return dir
  } catch {
    stopTrace(dir)
    return null
  }
}
function stopTrace(dir) {
  try {
    writeFileSync(join(dir, 'tracing_on'), '0')
    const text = readFileSync(join(dir, 'trace'), 'latin1')
    rmdirSync(dir)
    const killed = new Map()
    const exec = new Map()
    for (const line of text.split('\n')) {
      const m = /\s(\d+\.\d+): (signal_generate|sched_process_exec): .*?\bpid=(\d+)/.exec(line)
      if (!m) continue
      if (m[2] === 'signal_generate') killed.set(Number(m[3]), Number(m[1]) * 1000)
      else exec.set(Number(m[3]), Number(m[1]) * 1000)
    }
    // CLOCK_MONOTONIC on both sides (trace_clock mono, process.hrtime): exec → answering too.
    return {
      kill: (r) => (killed.has(r.old) && exec.has(r.now) ? exec.get(r.now) - killed.get(r.old) : NaN),
      start: (r) => (exec.has(r.now) ? r.answeredAt - exec.get(r.now) : NaN),
    }
  } catch {
    try {
      rmdirSync(dir)
    } catch {}
    return null
  }
}

const svcCmd = (port) => [process.execPath, service, '--port', String(port)]

// bash loop
const bport = await freePort()
const bash = spawn('bash', ['-c', `while true; do ${svcCmd(bport).join(' ')}; done`], {stdio: 'ignore', detached: true, env: cronEnv()})
// medic supervise (min-uptime short so every kill follows a stable run: immediate restart;
// a budget above BENCH_RUNS, or the 11th restart would wait out the backoff cap). Short, but
// past the service's start (~50–150 ms here): a stable run is when supervise forks its
// spare, and a spare forked while the service still starts takes CPU from it — which at the
// default --min-uptime (60s) never happens.
// BENCH_BASE=<another checkout's bin/run.js> races that medic too, in the same rounds: a
// before/after figure on a shared machine, where two separate runs differ by more than the change.
const superviseWith = (binPath, name, port) => spawn(process.execPath, [binPath, 'supervise', '--name', name, '--state-dir', join(tmp, 'state'), '--port', String(port), '--min-uptime', '500ms', '--max-restarts', '1000', '--', ...svcCmd(port)], {stdio: 'ignore', detached: true, env: cronEnv()})
const mport = await freePort()
const sup = superviseWith(bin, 'bench', mport)
const sides = {b: {label: 'bash while-loop', pid: bash.pid, port: bport, ms: [], runs: []}, m: {label: 'medic supervise', pid: sup.pid, port: mport, ms: [], runs: []}}
let base = null
if (process.env.BENCH_BASE) {
  const oport = await freePort()
  base = superviseWith(process.env.BENCH_BASE, 'bench-base', oport)
  sides.o = {label: `medic supervise of ${process.env.BENCH_BASE}`, pid: base.pid, port: oport, ms: [], runs: []}
}

const cpuTicks = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'latin1')
  const x = f.slice(f.lastIndexOf(')') + 2).split(' ')
  return Number(x[11]) + Number(x[12]) // utime + stime of the process itself, not its children
}
const settle = () => new Promise((r) => setTimeout(r, 800)) // each run stable (past --min-uptime), its spare made, before it is killed
await settle()
const trace = startTrace()
const keys = Object.keys(sides)
const cpu0 = Object.fromEntries(keys.map((k) => [k, cpuTicks(sides[k].pid)]))
for (let i = 0; i < N; i++) {
  // The order rotates round by round: each side goes first as often as the others.
  for (const k of keys.map((_, j) => keys[(i + j) % keys.length])) {
    await settle()
    const r = await restartLatency(sides[k].port)
    sides[k].ms.push(r.ms)
    sides[k].runs.push(r)
  }
}
const share = trace ? stopTrace(trace) : null
const cpuMs = Object.fromEntries(keys.map((k) => [k, ((cpuTicks(sides[k].pid) - cpu0[k]) / TICK) * 1000 / N]))
killGroup(bash.pid)
const q = (xs, p) => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))]
const against = (a, ref) => {
  const per = a.map((x, i) => x / ref[i]).sort((x, y) => x - y)
  return `per-round ratio median ${median(per).toFixed(2)}× (p25–p75 ${q(per, 0.25).toFixed(2)}–${q(per, 0.75).toFixed(2)}; ratio of medians ${ratio(median(a), median(ref))})`
}
console.log(`restart after SIGKILL (${N} interleaved rounds): ${keys.map((k) => `${sides[k].label} ${median(sides[k].ms).toFixed(0)}ms`).join(', ')}`)
console.log(`  medic against the bash loop: ${against(sides.m.ms, sides.b.ms)} (target ≤ 1.15×)`)
if (sides.o) console.log(`  base against the bash loop: ${against(sides.o.ms, sides.b.ms)}; medic against base: ${against(sides.m.ms, sides.o.ms)}`)
if (share) {
  for (const [part, what] of [['kill', "SIGKILL → exec of the next node (kernel trace: the restarter's own share)"], ['start', 'exec → answering (the service starting)']]) {
    const ok = (k) => sides[k].runs.map(share[part]).filter((x) => !Number.isNaN(x)).sort((x, y) => x - y)
    console.log(`  ${what}: ${keys.map((k) => `${sides[k].label} median ${median(ok(k)).toFixed(2)}ms (p25–p75 ${q(ok(k), 0.25).toFixed(2)}–${q(ok(k), 0.75).toFixed(2)}, ${ok(k).length}/${N} traced)`).join('; ')}`)
  }
} else console.log('  SIGKILL → exec share: not traced (needs root and tracefs)')
console.log(`CPU per round (one restart and 800 ms idle) of the restarting process itself: ${keys.map((k) => `${sides[k].label} ${cpuMs[k].toFixed(1)}ms`).join(', ')} (${TICK} Hz ticks over ${N} restarts)`)
if (base) {
  process.kill(base.pid, 'SIGTERM')
  await new Promise((r) => base.once('exit', r))
}

// Idle: RSS and CPU of the supervisor process alone, default probes (every 30s).
await new Promise((r) => setTimeout(r, 300))
const stat = () => {
  const f = readFileSync(`/proc/${sup.pid}/stat`, 'latin1')
  const x = f.slice(f.lastIndexOf(')') + 2).split(' ')
  return Number(x[11]) + Number(x[12])
}
const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${sup.pid}/status`, 'latin1'))[1]) / 1024
const c0 = stat()
const t0 = Date.now()
let peak = rss()
while (Date.now() - t0 < IDLE_S * 1000) {
  await new Promise((r) => setTimeout(r, 1000))
  peak = Math.max(peak, rss())
}
const cpu = ((stat() - c0) / TICK) / ((Date.now() - t0) / 1000) * 100
console.log(`supervisor idle over ${IDLE_S}s: RSS peak ${peak.toFixed(1)} MB (target ≤ 60 MB), CPU ${cpu.toFixed(2)}% (target < 0.5%)`)
process.kill(sup.pid, 'SIGTERM')
await new Promise((r) => sup.once('exit', r))

// RSS after many restarts: a second supervisor whose child is killed as soon as it is up,
// RESTARTS times (no budget, no backoff: every run counts as stable at once). The service
// still listens on --port, so every start takes the whole path (reap, port check, spawn).
if (RESTARTS > 0) {
  const rport = await freePort()
  const childPid = join(tmp, 'child.pid')
  const r = spawn(process.execPath, [bin, 'supervise', '--name', 'bench-rss', '--state-dir', join(tmp, 'state'), '--port', String(rport), '--child-pid-file', childPid,
    '--min-uptime', '0', '--max-restarts', '1000000000', '--', ...svcCmd(rport)], {stdio: 'ignore', detached: true, env: cronEnv()})
  const rssOf = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'latin1'))[1]) / 1024
  const current = () => {
    try {
      return Number(readFileSync(childPid, 'latin1').trim()) || null
    } catch {
      return null
    }
  }
  const marks = new Map()
  let last = await until(current)
  const t0 = Date.now()
  for (let i = 1; i <= RESTARTS; i++) {
    try {
      process.kill(last, 'SIGKILL')
    } catch {}
    last = await until(async () => {
      const p = current()
      if (p && p !== last) return p
      await new Promise((res) => setTimeout(res, 1))
      return null
    })
    if (i === 50 || i === Math.floor(RESTARTS / 2) || i === RESTARTS) marks.set(i, rssOf(r.pid))
  }
  const secs = (Date.now() - t0) / 1000
  const first = marks.get(50) ?? marks.get(RESTARTS)
  console.log(`supervisor RSS after restarts: ${[...marks].map(([n, mb]) => `${n}: ${mb.toFixed(1)} MB`).join(', ')}; after ${RESTARTS} against after ${Math.min(50, RESTARTS)}: ${ratio(marks.get(RESTARTS), first)} (${(RESTARTS / secs).toFixed(1)} restarts/s)`)
  process.kill(r.pid, 'SIGTERM')
  await new Promise((res) => r.once('exit', res))
}
rmSync(tmp, {recursive: true, force: true})
