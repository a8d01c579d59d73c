#!/usr/bin/env node
// Issue 16's figures: what a run costs over bare node, for the runs that cron, systemd and
// heartbeats make most: `cleanup --port <free>` (every ExecStartPre), a healthy `health`
// and `supervise status`, against `node -e ''` — all interleaved round by round, medians,
// in a cron-like environment (lib.mjs cronEnv). Targets: cleanup ≤ 1.4×, health ≤ 1.8×.
// health is measured steady, as cron meets it: the check below makes the first run (a full
// look at the port's holders), every measured one takes the fast look (ops/health.ts).
// The inherited environment's figure is printed too when it carries NODE_EXTRA_CA_CERTS.
import {spawn, spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {bin, compare, cronEnv, freePort, interleave, killGroup, median, root} from './lib.mjs'

const ROUNDS = Number(process.env.BENCH_STARTUP_RUNS ?? 41)
const tmp = mkdtempSync(join(tmpdir(), 'medic-bench-startup-'))
const state = join(tmp, 'state')

// A healthy service for `health` (the default --manager auto, as a cron line would run it).
const ready = join(tmp, 'svc.json')
const svc = spawn(process.execPath, [join(root, 'test/fixtures/proc/service.mjs'), '--ready', ready], {stdio: 'ignore', detached: true})
let port
for (let i = 0; i < 2000 && !port; i++) {
  try {
    port = JSON.parse(readFileSync(ready, 'utf8')).port
  } catch {
    await new Promise((r) => setTimeout(r, 5))
  }
}
const free = await freePort()
const node = process.execPath
const runs = {
  cleanup: ['cleanup', '--port', String(free)],
  health: ['health', '--port', String(port)],
  'supervise status': ['supervise', 'status'],
}
// BENCH_BASELINE=<another built checkout> adds that build's runs, interleaved too.
const baseline = process.env.BENCH_BASELINE && join(process.env.BENCH_BASELINE, 'bin/run.js')
const contenders = {node: [node, ['-e', '']]}
for (const [k, args] of Object.entries(runs)) {
  contenders[k] = [node, [bin, ...args, '--state-dir', state]]
  if (baseline) contenders[`${k} (baseline)`] = [node, [baseline, ...args, '--state-dir', `${state}-baseline`]]
}
for (const [k, [cmd, args]] of Object.entries(contenders).filter(([k]) => k in runs)) {
  const r = spawnSync(cmd, args, {encoding: 'utf8', env: cronEnv()})
  if (!/^(PORT_OK|GATEWAY_OK|SUPERVISOR_[A-Z]+):/.test(r.stdout)) throw new Error(`${k} is not the run this bench means: ${r.stdout}${r.stderr}`)
}

function report(label, env) {
  return interleave(contenders, ROUNDS, env).then((t) => {
    console.log(`start-up, ${label}: ${ROUNDS} interleaved rounds, wall medians (and mean CPU per run, user+sys incl. children); node -e '' ${median(t.node).toFixed(1)}ms (CPU ${t.cpu.node.toFixed(1)}ms)`)
    const targets = {cleanup: '≤ 1.4×', health: '≤ 1.8×', 'supervise status': 'no target'}
    for (const k of Object.keys(contenders).filter((k) => k !== 'node')) {
      const cpu = `CPU ${t.cpu[k].toFixed(1).padStart(5)}ms ${(t.cpu[k] / t.cpu.node).toFixed(2)}×`
      console.log(`  ${k.padEnd(27)} ${median(t[k]).toFixed(1).padStart(6)}ms  ${compare(t[k], t.node).text}  ${cpu}  ${targets[k] ? `target ${targets[k]}` : ''}`)
    }
  })
}
await report('cron-like environment', cronEnv())
if (process.env.NODE_EXTRA_CA_CERTS) await report('this shell\'s environment (NODE_EXTRA_CA_CERTS makes every node start slower, which flatters ratios)', {...process.env, NO_COLOR: '1'})
killGroup(svc.pid)
rmSync(tmp, {recursive: true, force: true})
