#!/usr/bin/env node
// npm run bench: every bench script in this folder, one after the other.
import {spawnSync} from 'node:child_process'
import {readdirSync} from 'node:fs'
import {fileURLToPath} from 'node:url'

const dir = fileURLToPath(new URL('.', import.meta.url))
const only = process.argv.slice(2)
let failed = 0
for (const f of readdirSync(dir).filter((n) => n.endsWith('.mjs') && !['run.mjs', 'lib.mjs'].includes(n)).sort()) {
  if (only.length && !only.some((o) => f.includes(o))) continue
  console.log(`\n== bench/${f}`)
  const r = spawnSync(process.execPath, [dir + f], {stdio: 'inherit'})
  if (r.status !== 0) failed++
}
process.exit(failed ? 1 : 0)
