#!/usr/bin/env node
// Issue 12's figures. Time from a freeze to OLLAMA_RECOVERED on the scaled test (threshold
// 2s, interval 0.5s, 2 confirmations, canary 1s, cooldown 1s) with --watch, for both
// freezes — inference stalled behind a live API (seed 004) and the API stopped (the seed's
// `pkill -STOP ollama` drill) — as ratios to the policy's own floor, measured here:
//   stall: threshold + confirmations × (interval + canary timeout) + cooldown (research §5.2:
//          each confirmation is a canary that runs to its timeout on a frozen server)
//   stop:  threshold + confirmations × (interval + probe timeout) + cooldown (the liveness
//          probe of a stopped server runs to its timeout: the canary timeout within 1-5s)
// and where the rest goes: nvidia-smi calls (the test's stand-in is a node script; its cost
// per call is measured in the same invocation). BENCH_BASELINE=/path/to/another/checkout
// (built) runs the same scenarios against it, for a before/after ratio.
// Plus the cost of a healthy pass as a ratio to `node -e ''`.
import {spawn, spawnSync} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {bin, killGroup, median, ratio, root, timeSync} from './lib.mjs'

const N = Number(process.env.BENCH_RUNS ?? 3)
const tmp = mkdtempSync(join(tmpdir(), 'medic-bench-ollama-'))
const FAKE = join(root, 'test/fixtures/proc/fake-ollama.mjs')
const LAUNCH = join(root, 'test/fixtures/proc/launch.mjs')
const wait = (ms) => new Promise((r) => setTimeout(r, ms))

async function fake(mode) {
  const dir = mkdtempSync(join(tmp, 'f-'))
  writeFileSync(join(dir, 'mode'), mode)
  writeFileSync(join(dir, 'gpu'), 'idle')
  const common = ['--mode-file', join(dir, 'mode'), '--runner-pid-file', join(dir, 'runner.pid')]
  const c = spawn(process.execPath, [FAKE, ...common, '--ready', join(dir, 'ready.json')], {stdio: 'ignore', detached: true})
  let port
  for (let i = 0; i < 2000 && !port; i++) {
    try {
      port = JSON.parse(readFileSync(join(dir, 'ready.json'), 'utf8')).port
    } catch {
      await wait(5)
    }
  }
  const env = {...process.env, PATH: `${join(root, 'test/fixtures/bin')}:${process.env.PATH}`, FAKE_NVIDIA_MODE_FILE: join(dir, 'gpu'), FAKE_NVIDIA_APPS_FILE: join(dir, 'runner.pid'), FAKE_NVIDIA_CALLS: join(dir, 'nvidia-calls'), OLLAMA_HOST: `127.0.0.1:${port}`}
  const startCmd = [process.execPath, LAUNCH, '--service', FAKE, '--', '--port', String(port), ...common, '--pid-file', join(dir, 'server.pid')].join(' ')
  const relaunched = () => (existsSync(join(dir, 'server.pid')) ? Number(readFileSync(join(dir, 'server.pid'), 'utf8')) : null)
  return {dir, pid: c.pid, env, startCmd, relaunched}
}

const calls = (f) => (existsSync(join(f.dir, 'nvidia-calls')) ? readFileSync(join(f.dir, 'nvidia-calls'), 'utf8').trim().split('\n').filter(Boolean).map((l) => Number(l.split(' ')[0])) : [])

const S = {threshold: 2000, interval: 500, confirmations: 2, canary: 1000, cooldown: 1000}
const floor = {stall: S.threshold + S.confirmations * (S.interval + S.canary) + S.cooldown, stop: S.threshold + S.confirmations * (S.interval + Math.min(5000, Math.max(1000, S.canary))) + S.cooldown}

/** Freeze → RECOVERED with --watch; returns the time and the nvidia-smi calls in between. */
async function scenario(checkout, how) {
  const f = await fake('healthy')
  const w = spawn(process.execPath, [join(checkout, 'bin/run.js'), 'ollama', 'frozen-check', '--watch', '--state-dir', join(f.dir, 'st'),
    '--threshold', `${S.threshold}ms`, '--interval', `${S.interval}ms`, '--confirmations', String(S.confirmations), '--canary-timeout', `${S.canary}ms`, '--cooldown', `${S.cooldown}ms`,
    '--manager', 'command', '--start-cmd', f.startCmd], {env: f.env, stdio: ['ignore', 'pipe', 'ignore'], detached: true})
  let out = ''
  w.stdout.on('data', (d) => (out += d))
  while (!out.includes('OLLAMA_OK')) await wait(5)
  const t0 = Date.now()
  if (how === 'stop') process.kill(-f.pid, 'SIGSTOP')
  else writeFileSync(join(f.dir, 'mode'), 'frozen')
  const deadline = t0 + 60_000
  while (!out.includes('OLLAMA_RECOVERED') && Date.now() < deadline) await wait(5)
  const ms = out.includes('OLLAMA_RECOVERED') ? Date.now() - t0 : null
  const during = calls(f).filter((t) => t >= t0 && t <= t0 + (ms ?? 60_000)).length
  killGroup(w.pid)
  killGroup(f.pid)
  const again = f.relaunched()
  if (again) killGroup(again)
  return {ms, calls: during}
}

// One nvidia-smi stand-in call, as medic makes it.
const h = await fake('healthy')
const smi = []
for (let i = 0; i < N * 3; i++) smi.push(timeSync(join(root, 'test/fixtures/bin/nvidia-smi'), ['--query-gpu=index', '--format=csv,noheader,nounits'], h.env).ms)
const smiMs = median(smi)

// Healthy pass: a loaded, idle model.
const args = [bin, 'ollama', 'frozen-check', '--state-dir', join(h.dir, 'st')]
spawnSync(process.execPath, args, {env: h.env})
const node = []
const medic = []
for (let i = 0; i < N * 3; i++) {
  node.push(timeSync(process.execPath, ['-e', '']).ms)
  medic.push(timeSync(process.execPath, args, h.env).ms)
}
writeFileSync(join(h.dir, 'nvidia-calls'), '')
spawnSync(process.execPath, args, {env: h.env})
const perPass = calls(h).length
console.log(`healthy pass: medic ollama frozen-check ${median(medic).toFixed(1)}ms, node -e '' ${median(node).toFixed(1)}ms: ${ratio(median(medic), median(node))} (${perPass} nvidia-smi stand-in calls, run side by side, ${smiMs.toFixed(0)}ms each)`)
const cpu = []
const noGpuEnv = {...h.env, PATH: process.env.PATH}
for (let i = 0; i < N * 3; i++) cpu.push(timeSync(process.execPath, args, noGpuEnv).ms)
console.log(`healthy pass without nvidia-smi (CPU mode): ${median(cpu).toFixed(1)}ms: ${ratio(median(cpu), median(node))} of node -e ''`)
killGroup(h.pid)

const checkouts = [['this checkout', root], ...(process.env.BENCH_BASELINE ? [['baseline', process.env.BENCH_BASELINE]] : [])]
const results = {}
for (const how of ['stall', 'stop']) {
  for (const [name, dir] of checkouts) {
    const runs = []
    for (let i = 0; i < N; i++) runs.push(await scenario(dir, how))
    const done = runs.filter((r) => r.ms !== null)
    results[`${how} ${name}`] = done.length ? median(done.map((r) => r.ms)) : null
    const t = results[`${how} ${name}`]
    const c = median(runs.map((r) => r.calls))
    const what = how === 'stall' ? 'inference stalled (seed 004)' : 'server SIGSTOPped'
    console.log(t === null
      ? `${what} → OLLAMA_RECOVERED (${name}): never within 60s (${runs.length} runs)`
      : `${what} → OLLAMA_RECOVERED (${name}): ${t}ms = ${ratio(t, floor[how])} of its floor ${floor[how]}ms; ${c} nvidia-smi stand-in calls in it (${smiMs.toFixed(0)}ms each, two side by side per reading) (${done.length}/${runs.length} runs recovered)`)
  }
  if (process.env.BENCH_BASELINE && results[`${how} this checkout`] && results[`${how} baseline`]) console.log(`  ${how}: this checkout takes ${ratio(results[`${how} this checkout`], results[`${how} baseline`])} the baseline's time`)
}
rmSync(tmp, {recursive: true, force: true})
