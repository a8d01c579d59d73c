#!/usr/bin/env node
// Issue 10's figure: seed 000 under a REAL systemd (the test tier's namespace), time to
// GATEWAY_RECOVERED with --manager systemd against a manager that cannot see the unit's
// processes and so waits out every probe against the orphan (the behaviour that took 18 s),
// both measured in this run. Needs root and what test/helpers/real-systemd.ts needs.
import {spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {median, ratio, root} from './lib.mjs'

const tmp = mkdtempSync(join(tmpdir(), 'medic-bench-systemd-'))
const outFile = join(tmp, 'out.json')
const r = spawnSync(process.execPath, [join(root, 'node_modules/vitest/vitest.mjs'), 'run', '--config', 'bench/systemd/vitest.config.ts', 'bench/systemd/seed000.bench-run.ts'], {cwd: root, stdio: ['ignore', 'pipe', 'inherit'], env: {...process.env, BENCH_OUT: outFile}, encoding: 'utf8'})
let out
try {
  out = JSON.parse(readFileSync(outFile, 'utf8'))
} catch {
  console.log(r.stdout)
  console.log(/skipped|cannot boot/.test(r.stdout) ? 'skipped: no real systemd here' : 'bench failed')
  process.exit(r.status === 0 ? 0 : 1)
}
rmSync(tmp, {recursive: true, force: true})
const a = median(out.systemd)
const b = median(out.blind)
console.log(`seed 000 under a real systemd → GATEWAY_RECOVERED (median of ${out.systemd.length}): --manager systemd ${(a / 1000).toFixed(1)}s, a manager blind to the unit's processes ${(b / 1000).toFixed(1)}s: ${ratio(a, b)} of the reference (issue 10 measured 18 s before the fix; ${ratio(a, 18000)} of that)`)
