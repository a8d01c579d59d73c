#!/usr/bin/env node
// Issue 3's figures: a healthy `medic health` run's wall time as a ratio to `node -e ''`
// (target ≤ 2.5×), and the seed-000 replay's time to GATEWAY_RECOVERED, split into what
// medic waits for by policy (the re-probe delay, verification spacing) and the rest.
import {spawn, spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {bin, killGroup, median, ratio, root, startHolder, timeSync} from './lib.mjs'

const N = Number(process.env.BENCH_RUNS ?? 7)
const tmp = mkdtempSync(join(tmpdir(), 'medic-bench-health-'))

// A healthy service, probed by a default `medic health` (manager auto).
const ready = join(tmp, 'svc.json')
const svc = spawn(process.execPath, [join(root, 'test/fixtures/proc/service.mjs'), '--ready', ready], {stdio: 'ignore', detached: true})
let port
for (let i = 0; i < 2000 && !port; i++) {
  try { port = JSON.parse(readFileSync(ready, 'utf8')).port } catch { await new Promise((r) => setTimeout(r, 5)) }
}
const args = [bin, 'health', '--port', String(port), '--state-dir', join(tmp, 'state')]
const check = spawnSync(process.execPath, args, {encoding: 'utf8'})
if (!check.stdout.startsWith('GATEWAY_OK')) throw new Error(`not healthy: ${check.stdout}`)
const node = []
const medic = []
for (let i = 0; i < N * 3; i++) {
  node.push(timeSync(process.execPath, ['-e', '']).ms)
  medic.push(timeSync(process.execPath, args).ms)
}
console.log(`healthy run: medic health ${median(medic).toFixed(1)}ms, node -e '' ${median(node).toFixed(1)}ms: ${ratio(median(medic), median(node))} (target ≤ 2.5×)`)
killGroup(svc.pid)

// Seed 000 replayed: an orphan keeps the listening socket and never answers.
const REPROBE = 3000
const INTERVAL = 1000
const times = []
for (let i = 0; i < Math.min(N, 3); i++) {
  const o = await startHolder(tmp, ['--wedge'])
  const pid = join(tmp, `svc-${i}.pid`)
  const start = `${process.execPath} ${join(root, 'test/fixtures/proc/launch.mjs')} -- --port ${o.port} --pid-file ${pid}`
  const t = Date.now()
  const r = spawnSync(process.execPath, [bin, 'health', '--manager', 'command', '--start-cmd', start, '--pid-file', pid, '--port', String(o.port), '--state-dir', join(tmp, `s${i}`), '--json'], {encoding: 'utf8'})
  const ms = Date.now() - t
  const out = JSON.parse(r.stdout)
  if (out.token !== 'GATEWAY_RECOVERED') throw new Error(`replay did not recover: ${out.summary}`)
  times.push(ms)
  try { killGroup(Number(readFileSync(pid, 'utf8'))) } catch {}
  killGroup(o.pid)
}
const policy = 5000 + REPROBE + 5000 + 2 * INTERVAL // probe timeout, re-probe delay, re-probe timeout, verify spacing
const med = median(times)
console.log(`seed-000 replay → GATEWAY_RECOVERED: ${med}ms with default flags, of which ${policy}ms is policy (two 5s probe timeouts against the wedged orphan, 3s re-probe delay, 3 verify probes 1s apart); medic's own work ${med - policy}ms; ratio to the policy floor ${ratio(med, policy)}`)
rmSync(tmp, {recursive: true, force: true})
