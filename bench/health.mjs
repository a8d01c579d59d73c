#!/usr/bin/env node
// Issue 3's figure: the seed-000 replay's time to GATEWAY_RECOVERED, split into what medic
// waits for by policy (the re-probe delay, verification spacing) and the rest. A healthy
// run's cost against `node -e ''` is in startup.mjs.
import {spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {bin, killGroup, median, ratio, root, startHolder} from './lib.mjs'

const N = Number(process.env.BENCH_RUNS ?? 7)
const tmp = mkdtempSync(join(tmpdir(), 'medic-bench-health-'))

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
