#!/usr/bin/env node
// Issue 6's figure: the slowdown of a syscall-heavy job (dd, one byte per read/write) under
// `medic kill-trace` against the same job untraced, side by side with strace in the same
// run (target ≤ 1.10× untraced). The job's own elapsed time is read from dd's report, so
// medic's start-up is not counted against the tracepoint.
import {spawnSync} from 'node:child_process'
import {bin, median, ratio} from './lib.mjs'

const N = Number(process.env.BENCH_RUNS ?? 7)
const job = ['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=1', 'count=50000']
const secs = (stderr) => Number(/copied, ([\d.]+) s/.exec(stderr)?.[1] ?? NaN)
const modes = {
  untraced: () => spawnSync(job[0], job.slice(1), {encoding: 'utf8'}).stderr,
  'medic kill-trace (tracefs)': () => spawnSync(process.execPath, [bin, 'kill-trace', '--', ...job], {encoding: 'utf8'}).stderr,
  'strace -f (signals only)': () => spawnSync('strace', ['-f', '-qq', '-e', 'trace=none', '-o', '/dev/null', '--', ...job], {encoding: 'utf8'}).stderr,
}
if (process.getuid?.() !== 0) console.log('note: not root, so kill-trace falls back to strace here')
const t = Object.fromEntries(Object.keys(modes).map((k) => [k, []]))
// strace stops the job at every syscall (ptrace): one run of it is enough to see the order.
for (let i = 0; i < N; i++) for (const [k, f] of Object.entries(modes)) if (i === 0 || !k.startsWith('strace')) t[k].push(secs(f()))
const base = median(t.untraced)
for (const [k, v] of Object.entries(t)) console.log(`${k.padEnd(28)} ${median(v).toFixed(3)}s: ${ratio(median(v), base)} untraced${k.startsWith('medic') ? ' (target ≤ 1.10×)' : ''}`)
