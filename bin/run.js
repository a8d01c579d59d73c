#!/usr/bin/env node
// The `medic` executable. CommonJS on purpose (bin/package.json): with no ESM file on the
// run path, Node 20 never starts its ESM loader (~5 ms). dist/run/medic.cjs is the whole
// run path in one file, built from src/cli/main.ts by `npm run build`
// (scripts/build-run.mjs), and compiled here with the V8 code cache that the build wrote
// beside it (~5 ms less parsing). A cache that this node rejects (another node version,
// other V8 flags) or a missing one only costs that time back. docs/startup.md has the numbers.
'use strict'
const {readFileSync, writeFileSync} = require('node:fs')
const {join} = require('node:path')
const {Script} = require('node:vm')

const dir = join(__dirname, '..', 'dist', 'run')
const file = join(dir, 'medic.cjs')
const cacheFile = join(dir, 'medic.cjs.v8cache')
// MEDIC_CODE_CACHE=write (the build) writes the cache; =check exits 1 if this node rejects it.
const cacheMode = process.env.MEDIC_CODE_CACHE
let cachedData
try {
  if (cacheMode !== 'write') cachedData = readFileSync(cacheFile)
} catch {}
// The same wrapper as Node's own CommonJS loader, on one line: stack traces keep their lines.
const script = new Script(`(function (exports, require, module, __filename, __dirname) {${readFileSync(file, 'utf8')}\n})`, {filename: file, cachedData})
if (cacheMode === 'write') {
  writeFileSync(cacheFile, script.createCachedData())
  process.exit(0)
}
if (cacheMode === 'check') {
  if (!cachedData || script.cachedDataRejected) process.stderr.write(`medic: code cache ${cachedData ? 'rejected by this node' : 'missing'}: ${cacheFile}\n`)
  process.exit(!cachedData || script.cachedDataRejected ? 1 : 0)
}
const mod = {exports: {}}
script.runInThisContext()(mod.exports, require, mod, file, dir)
mod.exports.main(process.argv.slice(2), require('node:url').pathToFileURL(__filename).href)
