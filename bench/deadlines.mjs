#!/usr/bin/env node
// Issue 9's deadline figure (docs/contract.md §3.9): against a service that accepts and
// never answers, each command run with --timeout T must end with ALERT within T + 250 ms
// of its own start. Printed: the verdict's own durationMs minus T (the overrun, target
// ≤ 250 ms), the median over runs, and the token; a run that is not ALERT fails the bench.
import {spawn, spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {bin, killGroup, median, service} from './lib.mjs'

const N = Number(process.env.BENCH_RUNS ?? 5)
const T = 1000
const tmp = mkdtempSync(join(tmpdir(), 'medic-bench-deadlines-'))
const ready = join(tmp, 'hung.json')
const hung = spawn(process.execPath, [service, '--hang', '--ready', ready], {stdio: 'ignore', detached: true})
let port
for (let i = 0; i < 2000 && !port; i++) {
  try { port = JSON.parse(readFileSync(ready, 'utf8')).port } catch { await new Promise((r) => setTimeout(r, 5)) }
}
const url = `http://127.0.0.1:${port}`
const cases = {
  'health --no-repair': ['health', '--port', String(port), '--url', `${url}/`, '--no-repair', '--manager', 'none'],
  'health (repair on)': ['health', '--port', String(port), '--url', `${url}/`, '--manager', 'command', '--start-cmd', 'true'],
  'ollama frozen-check': ['ollama', 'frozen-check', '--url', url, '--manager', 'none'],
  'ollama metrics': ['ollama', 'metrics', '--url', url],
}
let failed = 0
for (const [name, args] of Object.entries(cases)) {
  const over = []
  let token = ''
  for (let i = 0; i < N; i++) {
    const r = spawnSync(process.execPath, [bin, ...args, '--state-dir', join(tmp, `s-${i}`), '--timeout', `${T}ms`, '--json'], {encoding: 'utf8'})
    const out = JSON.parse(r.stdout)
    token = out.token
    if (out.status !== 'ALERT') failed++
    over.push(out.durationMs - T)
  }
  console.log(`${name.padEnd(22)} --timeout ${T}ms → ${token}: over the deadline by ${median(over).toFixed(0)}ms median, ${Math.max(...over).toFixed(0)}ms worst (target ≤ 250ms)`)
}
killGroup(hung.pid)
rmSync(tmp, {recursive: true, force: true})
process.exit(failed ? 1 : 0)
