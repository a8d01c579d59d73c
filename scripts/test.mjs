#!/usr/bin/env node
// npm test: vitest with its default reporter for people and the JSON reporter for the
// plain closing line CI reads: `N passed, N failed, N skipped`. Exit status is vitest's.
import {spawnSync} from 'node:child_process'
import {readFileSync, rmSync} from 'node:fs'

const out = '.vitest.json'
rmSync(out, {force: true})
const r = spawnSync(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${out}`, ...process.argv.slice(2)], {
  stdio: 'inherit',
  env: {...process.env, NO_COLOR: '1'},
})
let code = r.status ?? 1
try {
  const j = JSON.parse(readFileSync(out, 'utf8'))
  console.log(`${j.numPassedTests} passed, ${j.numFailedTests} failed, ${j.numPendingTests + j.numTodoTests} skipped`)
  if (j.numTotalTests === 0) code = code || 1
} catch {
  console.log('0 passed, 1 failed, 0 skipped')
  code = code || 1
}
process.exit(code)
