#!/usr/bin/env node
// Issue 14's figure: the CPU medic guard itself uses while idle in `--watch 2s` (target
// under 0.5 % of one core), against an idle node process with the same 2 s timer measured
// over the same window; then the same guard while a resource is over its limit (the
// process table read every sample); and proof that a sample spawns no process (strace of
// the guard counting execve and non-thread clones).
//
// CPU is read from /proc/<pid>/stat (utime + stime, 10 ms ticks) over BENCH_GUARD_SECONDS
// (default 30), after a 4 s warm-up so start-up is not counted.
import {spawn, spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {bin, ratio} from './lib.mjs'

const SECONDS = Number(process.env.BENCH_GUARD_SECONDS ?? 30)
const WARMUP_MS = 4000
const tmp = mkdtempSync(join(tmpdir(), 'medic-bench-guard-'))
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const ticks = (pid) => {
  const st = readFileSync(`/proc/${pid}/stat`, 'latin1')
  const f = st.slice(st.lastIndexOf(')') + 2).split(' ')
  return Number(f[11]) + Number(f[12])
}

// Idle: no limit can be exceeded (busy % and use % never exceed 100), PSI memory off.
const idle = join(tmp, 'idle.json')
writeFileSync(idle, JSON.stringify({limits: {dev: {cpuPercent: 100, memoryPercent: 100, diskPercent: 100, memoryPressurePercent: null, startupGraceSeconds: 0}}}))
// Over: memory over its limit every sample, nothing ever matches --match: the table is read and ranked each time, nothing is done.
const over = join(tmp, 'over.json')
writeFileSync(over, JSON.stringify({limits: {dev: {cpuPercent: 100, memoryPercent: 1, diskPercent: 100, memoryPressurePercent: null, startupGraceSeconds: 0}}}))

const start = (args) => spawn(process.execPath, args, {stdio: 'ignore', env: {PATH: process.env.PATH, HOME: process.env.HOME ?? '/root', NO_COLOR: '1'}})
const procs = {
  'idle node, setInterval 2 s': start(['-e', 'setInterval(() => {}, 2000)']),
  'medic guard --watch 2s (idle)': start([bin, 'guard', '--watch', '2s', '--config', idle, '--state-dir', tmp]),
  'medic guard --watch 2s (memory over, table read)': start([bin, 'guard', '--watch', '2s', '--config', over, '--state-dir', tmp, '--match', `nothing-matches-${process.pid}`]),
}
try {
  await sleep(WARMUP_MS)
  const t0 = Object.fromEntries(Object.entries(procs).map(([k, p]) => [k, ticks(p.pid)]))
  await sleep(SECONDS * 1000)
  const pct = Object.fromEntries(Object.entries(procs).map(([k, p]) => [k, ((ticks(p.pid) - t0[k]) / 100 / SECONDS) * 100]))
  const ref = pct['idle node, setInterval 2 s']
  console.log(`CPU over ${SECONDS}s, % of one core (10 ms ticks: ±${(1 / SECONDS).toFixed(3)} %):`)
  for (const [k, v] of Object.entries(pct)) {
    const vsBudget = k.includes('(idle)') ? `; ${ratio(v, 0.5)} the 0.5 % budget` : ''
    console.log(`  ${k.padEnd(50)} ${v.toFixed(3)} %${k === 'idle node, setInterval 2 s' ? ' (reference)' : ` = ${ref > 0 ? ratio(v, ref) : 'n/a (reference 0 ticks)'} the idle node${vsBudget}`}`)
  }
  const ok = pct['medic guard --watch 2s (idle)'] < 0.5
  console.log(ok ? 'idle guard under 0.5 % of a core: yes' : 'idle guard under 0.5 % of a core: NO')
  // A sample spawns nothing: watch the idle guard's process creations for three samples.
  const s = spawnSync('strace', ['-f', '-qq', '-e', 'trace=execve,clone,clone3,fork,vfork', '-p', String(procs['medic guard --watch 2s (idle)'].pid)], {encoding: 'utf8', timeout: 6500})
  if (s.error && !String(s.error).includes('ETIMEDOUT')) console.log(`strace unavailable: ${s.error.message}`)
  else {
    const lines = (s.stderr ?? '').split('\n')
    const spawned = lines.filter((l) => /execve\(|fork\(|clone3?\(/.test(l) && !/CLONE_THREAD/.test(l) && !/resumed>/.test(l))
    console.log(`processes spawned by the guard over 3 samples (strace): ${spawned.length}${spawned.length ? `\n  ${spawned.join('\n  ')}` : ''}`)
  }
  process.exitCode = ok ? 0 : 1
} finally {
  await Promise.all(Object.values(procs).map((p) => (p.exitCode !== null || p.signalCode !== null ? null : new Promise((r) => (p.once('exit', r), p.kill('SIGTERM'))))))
  rmSync(tmp, {recursive: true, force: true})
}
