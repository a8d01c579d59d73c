#!/usr/bin/env node
// Issue 5's figures: time from the freeze to OLLAMA_RECOVERED with scaled thresholds, as
// a ratio to threshold + confirmations × interval; and the cost of a healthy pass as a
// ratio to `node -e ''`.
import {spawn, spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {bin, killGroup, median, ratio, root, timeSync} from './lib.mjs'

const N = Number(process.env.BENCH_RUNS ?? 7)
const tmp = mkdtempSync(join(tmpdir(), 'medic-bench-ollama-'))

async function fake(mode) {
  const dir = mkdtempSync(join(tmp, 'f-'))
  writeFileSync(join(dir, 'mode'), mode)
  writeFileSync(join(dir, 'gpu'), 'idle')
  const c = spawn(process.execPath, [join(root, 'test/fixtures/proc/fake-ollama.mjs'), '--mode-file', join(dir, 'mode'), '--ready', join(dir, 'ready.json'), '--runner-pid-file', join(dir, 'runner.pid')], {stdio: 'ignore', detached: true})
  let port
  for (let i = 0; i < 2000 && !port; i++) {
    try { port = JSON.parse(readFileSync(join(dir, 'ready.json'), 'utf8')).port } catch { await new Promise((r) => setTimeout(r, 5)) }
  }
  const env = {...process.env, PATH: `${join(root, 'test/fixtures/bin')}:${process.env.PATH}`, FAKE_NVIDIA_MODE_FILE: join(dir, 'gpu'), FAKE_NVIDIA_APPS_FILE: join(dir, 'runner.pid'), OLLAMA_HOST: `127.0.0.1:${port}`}
  return {dir, pid: c.pid, env}
}

// Healthy pass: a loaded, idle model.
const h = await fake('healthy')
const args = [bin, 'ollama', 'frozen-check', '--state-dir', join(h.dir, 'st'), '--gpu-samples', '1']
spawnSync(process.execPath, args, {env: h.env})
const node = []
const medic = []
for (let i = 0; i < N * 3; i++) {
  node.push(timeSync(process.execPath, ['-e', '']).ms)
  medic.push(timeSync(process.execPath, args, h.env).ms)
}
console.log(`healthy pass: medic ollama frozen-check ${median(medic).toFixed(1)}ms, node -e '' ${median(node).toFixed(1)}ms: ${ratio(median(medic), median(node))} (with the test's nvidia-smi stand-in, itself a node script called twice)`)
const cpu = []
const noGpuEnv = {...h.env, PATH: process.env.PATH}
for (let i = 0; i < N * 3; i++) cpu.push(timeSync(process.execPath, args, noGpuEnv).ms)
console.log(`healthy pass without nvidia-smi (CPU mode): ${median(cpu).toFixed(1)}ms: ${ratio(median(cpu), median(node))} of node -e ''`)
killGroup(h.pid)

// Freeze → RECOVERED with --watch, scaled: threshold 1s, interval 500ms, 2 confirmations.
const THRESHOLD = 1000
const INTERVAL = 500
const CONF = 2
const times = []
for (let i = 0; i < 3; i++) {
  const f = await fake('healthy')
  const w = spawn(process.execPath, [bin, 'ollama', 'frozen-check', '--watch', '--state-dir', join(f.dir, 'st'), '--threshold', `${THRESHOLD}ms`, '--interval', `${INTERVAL}ms`, '--confirmations', String(CONF), '--canary-timeout', '300ms', '--cooldown', '0s', '--gpu-samples', '1'], {env: f.env, stdio: ['ignore', 'pipe', 'ignore'], detached: true})
  let out = ''
  w.stdout.on('data', (d) => (out += d))
  while (!out.includes('OLLAMA_OK')) await new Promise((r) => setTimeout(r, 10))
  const t0 = Date.now()
  writeFileSync(join(f.dir, 'mode'), 'frozen')
  while (!out.includes('OLLAMA_RECOVERED')) await new Promise((r) => setTimeout(r, 5))
  times.push(Date.now() - t0)
  killGroup(w.pid)
  killGroup(f.pid)
}
const floor = THRESHOLD + CONF * INTERVAL
const worst = THRESHOLD + CONF * (INTERVAL + 300)
console.log(`freeze → OLLAMA_RECOVERED: ${median(times)}ms with threshold ${THRESHOLD}ms, interval ${INTERVAL}ms, ${CONF} confirmations, canary timeout 300ms: ${ratio(median(times), floor)} of threshold + confirmations × interval (${floor}ms); ${ratio(median(times), worst)} of research §5.2's threshold + confirmations × (interval + canary timeout)`)
rmSync(tmp, {recursive: true, force: true})
