#!/usr/bin/env node
// `npm run build` step: the run path as ONE CommonJS file, dist/run/medic.cjs, that
// bin/run.js requires. Entry: src/cli/main.ts. Every command that src/cli/registry.ts
// imports (dynamically) is followed by esbuild and lands in the same file behind a lazy
// initialiser, so a new command needs no change here and costs nothing until it runs.
//
// Why one file: Node 20 reads, resolves and links every ESM file separately (~26 files on
// `cleanup`'s path). Why CommonJS and not ESM: an ESM entry initialises Node 20's ESM loader,
// ~5–6 ms of a ~30 ms `node -e ''` on this machine (measured: docs/startup.md). Packages
// stay external (`yaml`, `@oclif/core`, the TTY-only listr2/ora/chalk): they are loaded from
// node_modules by the `import()` that needs them, never at start.
//
// `--check` builds into memory and exits 1 if dist/run/medic.cjs differs (a stale bundle).
import {build} from 'esbuild'
import {spawnSync} from 'node:child_process'
import {readFileSync} from 'node:fs'
import {fileURLToPath} from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
export const OUTFILE = 'dist/run/medic.cjs'

/**
 * Every `import()` of a Node built-in or a package becomes a lazily called `require()`:
 * esbuild leaves an external `import()` as it is, and in a CommonJS file that would start
 * the ESM loader (and bin/run.js compiles the bundle with vm.Script, which has no dynamic
 * import at all). ESM-only packages (listr2, ora, chalk) load through require(esm), on by
 * default since Node 20.19.
 */
const importsByRequire = {
  name: 'imports-by-require',
  setup(b) {
    b.onResolve({filter: /^[^./]/}, (a) => (a.kind === 'dynamic-import' ? {path: a.path, namespace: 'require'} : undefined))
    b.onLoad({filter: /.*/, namespace: 'require'}, (a) => ({contents: `module.exports = require(${JSON.stringify(a.path)})`, loader: 'js', resolveDir: root}))
  },
}

export async function bundle(write = true) {
  return build({
    absWorkingDir: root,
    entryPoints: ['src/cli/main.ts'],
    outfile: OUTFILE,
    bundle: true,
    platform: 'node',
    target: 'node20.19',
    format: 'cjs',
    packages: 'external',
    // The bundle sits two levels below the package root, like dist/<dir>/<module>.js, so
    // `new URL('../../bin/run.js', import.meta.url)` means the same in both builds.
    define: {'import.meta.url': '__medicBundleUrl'},
    banner: {js: `"use strict";\nconst __medicBundleUrl = require("node:url").pathToFileURL(__filename).href;`},
    legalComments: 'none',
    plugins: [importsByRequire],
    write,
    logLevel: 'silent',
  })
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const check = process.argv.includes('--check')
  let r
  try {
    r = await bundle(!check)
  } catch (e) {
    for (const m of e.errors ?? [e]) console.error(`build-run: ${m.location ? `${m.location.file}:${m.location.line}: ` : ''}${m.text ?? m.message}`)
    process.exit(1)
  }
  // A warning here is a run-path bug (import.meta other than .url, a missing export…).
  if (r.warnings.length > 0) {
    for (const w of r.warnings) console.error(`build-run: ${w.location ? `${w.location.file}:${w.location.line}: ` : ''}${w.text}`)
    process.exit(1)
  }
  if (!check) {
    // The code cache, written by the loader itself (the same wrapper, the same node, no flags).
    const r = spawnSync(process.execPath, [`${root}bin/run.js`], {env: {...process.env, MEDIC_CODE_CACHE: 'write'}, stdio: 'inherit'})
    if (r.status !== 0) {
      console.error('build-run: could not write the code cache')
      process.exit(1)
    }
  }
  if (check) {
    let current = ''
    try {
      current = readFileSync(new URL(`../${OUTFILE}`, import.meta.url), 'utf8')
    } catch {}
    if (current !== r.outputFiles[0].text) {
      console.error(`build-run: ${OUTFILE} is stale; run npm run build`)
      process.exit(1)
    }
  }
}
