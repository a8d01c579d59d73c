#!/usr/bin/env node
// Issue 2's and 16's figures: time-to-bindable for `medic cleanup` against a polite, a
// SIGSTOPped and a SIGTERM-ignoring holder, side by side with `fuser -k` and kill-port (its
// bin, without npx's own start-up, which only flatters medic). Runs are interleaved so load
// drifts hit every contender alike; every run in a cron-like environment (lib.mjs cronEnv).
// Target (issue 16): medic no slower than kill-port (≤ 1.0×) for polite and SIGSTOPped
// holders, while it still sends TERM, waits up to the grace, then KILL. Start-up against
// `node -e ''` is in startup.mjs.
import {spawnSync} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {performance} from 'node:perf_hooks'
import {bin, bindable, compare, cronEnv, killGroup, median, root, startHolder} from './lib.mjs'

const N = Number(process.env.BENCH_RUNS ?? 11)
const GRACE_MS = 500
const tmp = mkdtempSync(join(tmpdir(), 'medic-bench-'))
const state = join(tmp, 'state')

const contenders = {
  medic: (port) => [process.execPath, [bin, 'cleanup', '--port', String(port), '--grace', `${GRACE_MS}ms`, '--state-dir', state, '--json']],
  'fuser -k': (port) => ['fuser', ['-k', '-n', 'tcp', String(port)]],
  'kill-port': (port) => [process.execPath, [join(root, 'node_modules/kill-port/cli.js'), String(port)]],
}
// BENCH_BASELINE=<another built checkout> races that build too.
if (process.env.BENCH_BASELINE) contenders['medic (baseline)'] = (port) => [process.execPath, [join(process.env.BENCH_BASELINE, 'bin/run.js'), 'cleanup', '--port', String(port), '--grace', `${GRACE_MS}ms`, '--state-dir', `${state}-baseline`, '--json']]

let termToBind = []
async function timeToBindable(make, holderArgs, stop) {
  const h = await startHolder(tmp, holderArgs)
  if (stop) process.kill(h.pid, 'SIGSTOP')
  const [cmd, args] = make(h.port)
  const t0 = performance.now()
  const r = spawnSync(cmd, args, {stdio: ['ignore', 'pipe', 'ignore'], encoding: 'utf8', env: cronEnv()})
  let ok = await bindable(h.port)
  for (let i = 0; !ok && i < 5000; i++) ok = await bindable(h.port)
  const ms = performance.now() - t0
  killGroup(h.pid)
  // medic's own account: from its SIGTERM to its successful bind test, and that it did
  // send TERM first (the grace-then-kill behaviour the race must not give up).
  if (args.includes('--json') && args[0] === bin) {
    const acts = JSON.parse(r.stdout).actions
    const term = acts.find((a) => a.action === 'SIGTERM')
    if (!term) throw new Error(`medic sent no SIGTERM: ${r.stdout}`)
    termToBind.push(acts.find((a) => a.action === 'bind-test').ms - term.ms)
  }
  return ok ? ms : Infinity
}

const holders = {
  polite: [[], false],
  SIGSTOPped: [[], true],
  'TERM-ignoring': [['--ignore-term'], false],
}

console.log(`medic cleanup bench: ${N} interleaved runs each, medians; grace ${GRACE_MS}ms for medic; cron-like environment`)
const results = {}
for (const [hname, [args, stop]] of Object.entries(holders)) {
  termToBind = []
  const times = Object.fromEntries(Object.keys(contenders).map((c) => [c, []]))
  for (let i = 0; i < N; i++) {
    for (const [cname, make] of Object.entries(contenders)) times[cname].push(await timeToBindable(make, args, stop))
  }
  const med = Object.fromEntries(Object.entries(times).map(([c, t]) => [c, median(t)]))
  results[hname] = {...med, termToBind: median(termToBind)}
  const line = Object.entries(med).map(([c, ms]) => `${c} ${ms.toFixed(0)}ms`).join(', ')
  const target = hname === 'TERM-ignoring' ? '' : ' (target ≤ 1.00×)'
  console.log(`time-to-bindable, ${hname.padEnd(13)} ${line}\n  medic/kill-port ${compare(times.medic, times['kill-port']).text}${target}; medic/fuser ${compare(times.medic, times['fuser -k']).text}`)
  if (times['medic (baseline)']) console.log(`  baseline/kill-port ${compare(times['medic (baseline)'], times['kill-port']).text}`)
}
const ti = results['TERM-ignoring']
console.log(`TERM-ignoring holder: SIGTERM → bindable ${ti.termToBind.toFixed(0)}ms = grace + ${(ti.termToBind - GRACE_MS).toFixed(0)}ms (target: grace + 150ms); whole run incl. start-up ${ti.medic.toFixed(0)}ms`)
rmSync(tmp, {recursive: true, force: true})
