#!/usr/bin/env node
// The `medic` executable. CommonJS on purpose (bin/package.json): with no ESM file on the
// run path, Node 20 never starts its ESM loader (~5 ms). `npm run build`
// (scripts/build-run.mjs) bundles the run path into dist/run/: one file per command, picked
// here by dist/run/route.cjs, and `main` for help and unknown commands. Each is compiled
// with the V8 code cache the build wrote beside it (~3–5 ms less parsing; for the commands
// the build runs once, every function that run compiled: ~5 ms more); a cache this node
// rejects (another node version, other V8 flags) or a missing one only costs that time
// back. docs/startup.md has the numbers.
'use strict'
const {readFileSync, readdirSync, writeFileSync} = require('node:fs')
const {join} = require('node:path')
const {Script} = require('node:vm')

const dir = join(__dirname, '..', 'dist', 'run')

function compile(name, withCache) {
  const file = join(dir, `${name}.cjs`)
  let cachedData
  try {
    if (withCache) cachedData = readFileSync(`${file}.v8cache`)
  } catch {}
  // The build wrote the bundle inside the wrapper of Node's own CommonJS loader: compiled as it is.
  // The build writes ASCII only (scripts/build-run.mjs): latin1 decodes it exactly, and faster than UTF-8.
  const script = new Script(readFileSync(file).toString('latin1'), {filename: file, cachedData})
  return {file, script, cachedData}
}

// MEDIC_CODE_CACHE=write (the build) writes every bundle's cache; =check exits 1 if this
// node rejects one (test/cli/startup.test.ts); =train (the build's training runs) runs the
// command, then rewrites its bundle's cache with every function that run compiled.
const cacheMode = process.env.MEDIC_CODE_CACHE
if (cacheMode === 'write' || cacheMode === 'check') {
  let bad = 0
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.cjs') && n !== 'route.cjs' && n !== 'observe.cjs').map((n) => n.slice(0, -4))) {
    const {file, script, cachedData} = compile(name, cacheMode === 'check')
    if (cacheMode === 'write') writeFileSync(`${file}.v8cache`, script.createCachedData())
    else if (!cachedData || script.cachedDataRejected) {
      process.stderr.write(`medic: code cache ${cachedData ? 'rejected by this node' : 'missing'}: ${file}.v8cache\n`)
      bad++
    }
  }
  process.exit(bad ? 1 : 0)
}

const argv = process.argv.slice(2)
const {file, script} = compile(require('../dist/run/route.cjs').bundleFor(argv), true)
const mod = {exports: {}}
if (cacheMode === 'train') {
  process.on('exit', () => {
    writeFileSync(`${file}.v8cache.tmp`, script.createCachedData())
    require('node:fs').renameSync(`${file}.v8cache.tmp`, `${file}.v8cache`)
  })
}
script.runInThisContext()(mod.exports, require, mod, file, dir)
mod.exports.main(argv, require('node:url').pathToFileURL(__filename).href)
