#!/usr/bin/env node
// `npm run build` step (after tsc): the run path, one CommonJS file per command.
//
//   dist/run/<spec>.cjs   src/cli/main.ts with only that spec file's commands behind the
//                         registry; the registry's other specs are stubs that throw
//                         (a spec exporting `needsEveryCommand = true` keeps them all);
//                         as one function expression in Node's CommonJS wrapper, which
//                         bin/run.js compiles and calls (the same for main.cjs)
//   dist/run/main.cjs     main.ts with every spec stubbed: help and version (oclif), unknown commands
//   dist/run/route.cjs    src/cli/route.ts + which bundle serves which command id
//   *.cjs.v8cache         V8 code caches, written by bin/run.js itself; for the runs cron
//                         makes most (TRAINING below) after running the command once, so
//                         they hold every function that run compiled, not only the top level
//
// The command ids and their spec files come from running the registry that tsc just built
// (dist/cli/registry.js), so a command added to src/cli/registry.ts is bundled with no
// change here. Why per command: a cron run compiles only its command's code (the all-in-one
// bundle cost ~3.6 ms more at 277 KB, and grows with every command). Why CommonJS: an ESM
// entry starts Node 20's ESM loader, ~5 ms of a ~30 ms `node -e ''`. docs/startup.md.
//
// `--check`: build in memory, exit 1 if anything in dist/run differs (a stale bundle).
import {build} from 'esbuild'
import {execFile, spawnSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {createServer} from 'node:http'
import {tmpdir} from 'node:os'
import {basename, join} from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const OUT = 'dist/run'
const REGISTRY = join(root, 'src/cli/registry.ts')
const SPECS = join(root, 'src/cli/specs')

/**
 * Every `import()` of a Node built-in or a package becomes a lazily called `require()`:
 * esbuild leaves an external `import()` as it is, and in a CommonJS file that would start
 * the ESM loader (and bin/run.js compiles bundles with vm.Script, which has no dynamic
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

/**
 * The registry's spec imports, except `keep`'s, become empty modules — unless `keep`'s spec
 * file exports `needsEveryCommand` (install and verify parse the medic command line they
 * install against its own command's declaration).
 */
function onlySpec(keep, everyCommand) {
  return {
    name: 'only-spec',
    setup(b) {
      b.onResolve({filter: /^\.\/specs\//}, (a) => {
        if (a.importer !== REGISTRY || everyCommand || basename(a.path, '.js') === keep) return undefined
        return {path: a.path, namespace: 'stub'}
      })
      // Loaded only if this bundle's command asks the registry for another command's spec.
      b.onLoad({filter: /.*/, namespace: 'stub'}, (a) => ({
        contents: `throw new Error(${JSON.stringify(`medic: ${a.path} is not in this command's bundle (dist/run/${keep}.cjs); a spec that loads other commands from the registry exports needsEveryCommand = true (scripts/build-run.mjs)`)})`,
        loader: 'js',
      }))
    },
  }
}

/**
 * The observer (--metrics-file, --notify…: src/cli/observe.ts and what it needs, ~30 KB) is
 * a bundle of its own, dist/run/observe.cjs, required by the runner only when a run asks
 * for it: a run without those flags compiles none of it.
 */
const observeApart = {
  name: 'observe-apart',
  setup(b) {
    b.onResolve({filter: /^\.\/observe\.js$/}, (a) => (a.kind === 'dynamic-import' && a.importer === join(root, 'src/cli/runner.ts') ? {path: 'observe', namespace: 'observe-apart'} : undefined))
    b.onLoad({filter: /.*/, namespace: 'observe-apart'}, () => ({contents: 'module.exports = require(require("node:path").join(__dirname, "observe.cjs"))', loader: 'js'}))
  },
}

/** Node's own CommonJS wrapper, on the bundle's first line (stack traces keep their lines); bin/run.js calls it. */
const WRAPPER = '(function (exports, require, module, __filename, __dirname) {'

const common = {
  absWorkingDir: root,
  bundle: true,
  platform: 'node',
  target: 'node20.19',
  format: 'cjs',
  packages: 'external',
  // A bundle sits two levels below the package root, like dist/<dir>/<module>.js, so
  // `new URL('../../bin/run.js', import.meta.url)` means the same in both builds.
  define: {'import.meta.url': '__medicBundleUrl'},
  banner: {js: `"use strict";\nconst __medicBundleUrl = require("node:url").pathToFileURL(__filename).href;`},
  legalComments: 'none',
  write: false,
  metafile: true,
  logLevel: 'silent',
}

/** Spec files whose bundle keeps every command (they export `needsEveryCommand`). */
const everyCommand = new Set()

/** id → spec file stem, from the registry and spec modules that tsc built. */
async function commandFiles() {
  const {COMMANDS} = await import(pathToFileURL(join(root, 'dist/cli/registry.js')).href)
  const owner = new Map()
  for (const f of readdirSync(SPECS).filter((n) => n.endsWith('.ts'))) {
    const stem = basename(f, '.ts')
    const mod = await import(pathToFileURL(join(root, 'dist/cli/specs', `${stem}.js`)).href)
    if (mod.needsEveryCommand === true) everyCommand.add(stem)
    for (const v of Object.values(mod)) if (v && typeof v === 'object' && typeof v.run === 'function') owner.set(v, stem)
  }
  const files = {}
  for (const [id, load] of Object.entries(COMMANDS)) {
    const stem = owner.get(await load())
    if (!stem) throw new Error(`command "${id}": its spec is not exported by a file in src/cli/specs/`)
    files[id] = stem
  }
  return files
}

export async function bundleAll() {
  const files = await commandFiles()
  const out = new Map()
  const add = (r, name, wrap = false) => {
    if (r.warnings.length > 0) throw Object.assign(new Error('warnings'), {errors: r.warnings})
    // An import() left in the output would start the ESM loader, and fails under vm.Script.
    const left = Object.values(r.metafile.outputs).flatMap((o) => o.imports).filter((i) => i.kind === 'dynamic-import' && i.external)
    if (left.length > 0) throw new Error(`${name}: import() of ${left.map((i) => i.path).join(', ')} survived bundling`)
    // A bundle bin/run.js compiles comes wrapped already (its WRAPPER), so the loader hands V8
    // the file's text as it is: no second copy of ~100–200 KB of source to concatenate.
    // ASCII only, so bin/run.js decodes it as latin1 (a copy; UTF-8 decoding of ~200 KB was
    // ~0.6 ms more of every run). esbuild escapes non-ASCII in strings and templates; a
    // comment it kept is escaped here; anywhere else — a regex literal, a tagged template's
    // raw text, where an escape would change the meaning — fails the build: write it \\u… there.
    const lines = r.outputFiles[0].text.split('\n')
    for (const [i, line] of lines.entries()) {
      if (/[^\x00-\x7f]/.test(line) && !/^\s*(\/\/|\/\*|\*)/.test(line)) throw new Error(`${name}: non-ASCII outside a comment on line ${i + 1} of the bundle (a regex literal or a tagged template?): ${line.trim().slice(0, 120)}`)
    }
    const text = lines.join('\n').replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
    out.set(name, wrap ? `${WRAPPER}${text}\n})` : text)
  }
  const stems = [...new Set(Object.values(files))].sort()
  for (const stem of [...stems, 'main']) {
    add(await build({...common, entryPoints: ['src/cli/main.ts'], outfile: `${OUT}/${stem}.cjs`, plugins: [importsByRequire, observeApart, onlySpec(stem, everyCommand.has(stem))]}), `${stem}.cjs`, true)
  }
  add(await build({...common, entryPoints: ['src/cli/observe.ts'], outfile: `${OUT}/observe.cjs`, plugins: [importsByRequire]}), 'observe.cjs')
  const router = `import {route} from './src/cli/route.ts'\nexport const BUNDLES = ${JSON.stringify(files, null, 2)}\n` +
    `/** The bundle (file stem) that runs this argv: its command's, else main (help, version, unknown words); a command's own -h/-V are told apart from a flag's value by its bundle. */\n` +
    `export function bundleFor(argv) {\n  const {id} = route(argv, Object.keys(BUNDLES))\n  return id ? BUNDLES[id] : 'main'\n}\n`
  add(await build({...common, banner: {js: '"use strict";'}, define: {}, stdin: {contents: router, resolveDir: root, sourcefile: 'route-entry.js', loader: 'js'}, outfile: `${OUT}/route.cjs`}), 'route.cjs')
  return out
}

/**
 * The training runs: bundle → the argv of one harmless run whose compiled functions go into
 * that bundle's code cache (bin/run.js MEDIC_CODE_CACHE=train). A cache made after a run
 * saves the lazy compiles of parsing, the op and the verdict: ~5 ms CPU of `cleanup` and
 * ~7 ms of `health` here (docs/startup.md). Each run signals nothing and repairs nothing: a
 * free port, a healthy HTTP server of this script's own with --no-repair, a state dir, HOME
 * and working directory of its own (so no config file of this machine is read), and an
 * environment with nothing of this shell's. A run that fails leaves the compile-only cache.
 */
const TRAINING = {
  cleanup: ({free}) => [['cleanup', '--port', String(free)]],
  // Twice: the first run looks at every process for the port's holders (a full look), the
  // second takes the fast look a steady service gets (ops/health.ts) — the one cron makes most.
  health: ({http}) => [['health', '--port', String(http), '--no-repair'], ['health', '--port', String(http), '--no-repair']],
  'supervise-status': () => [['supervise', 'status']],
}

async function train(dir) {
  const tmp = mkdtempSync(join(tmpdir(), 'medic-build-train-'))
  const server = createServer((_q, res) => res.end('ok\n'))
  try {
    const http = await new Promise((r) => server.listen(0, '127.0.0.1', () => r(server.address().port)))
    const free = await new Promise((r) => {
      const s = createServer().listen(0, () => {
        const p = s.address().port
        s.close(() => r(p))
      })
    })
    const env = {PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: tmp, LANG: 'C.UTF-8', NO_COLOR: '1', MEDIC_CODE_CACHE: 'train'}
    for (const [stem, argv] of Object.entries(TRAINING)) {
      if (!readdirSync(dir).includes(`${stem}.cjs`)) throw new Error(`training run for ${stem}: no dist/run/${stem}.cjs`)
      // Each run compiles with the cache the one before wrote, and writes back all it holds and compiled.
      for (const args of argv({free, http})) await new Promise((r) => execFile(process.execPath, [join(root, 'bin/run.js'), ...args, '--state-dir', join(tmp, 'state')], {cwd: tmp, env, timeout: 20_000}, r))
    }
  } finally {
    server.close()
    rmSync(tmp, {recursive: true, force: true})
  }
}

async function main() {
  const check = process.argv.includes('--check')
  let out
  try {
    out = await bundleAll()
  } catch (e) {
    for (const m of e.errors ?? [e]) console.error(`build-run: ${m.location ? `${m.location.file}:${m.location.line}: ` : ''}${m.text ?? m.message}`)
    process.exit(1)
  }
  const dir = join(root, OUT)
  if (check) {
    const have = readdirSync(dir).filter((n) => n.endsWith('.cjs')).sort()
    const stale = [...out.keys()].filter((n) => {
      try {
        return readFileSync(join(dir, n), 'utf8') !== out.get(n)
      } catch {
        return true
      }
    })
    const extra = have.filter((n) => !out.has(n))
    if (stale.length || extra.length) {
      console.error(`build-run: ${OUT} is stale (${[...stale, ...extra].join(', ')}); run npm run build`)
      process.exit(1)
    }
    return
  }
  rmSync(dir, {recursive: true, force: true})
  mkdirSync(dir, {recursive: true})
  for (const [n, text] of out) writeFileSync(join(dir, n), text)
  // The code caches, written by the loader itself: the same wrapper, the same node, no flags.
  const r = spawnSync(process.execPath, [join(root, 'bin/run.js')], {env: {...process.env, MEDIC_CODE_CACHE: 'write'}, stdio: 'inherit'})
  if (r.status !== 0) {
    console.error('build-run: could not write the code caches')
    process.exit(1)
  }
  await train(dir)
}

await main()
