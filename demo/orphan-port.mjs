#!/usr/bin/env node
// npm run demo: the seed-000 incident on a throwaway service, and medic cleanup fixing it.
// 1. start an HTTP service on a free port; it forks a child that inherits the listening
//    socket, and the parent dies: the orphan keeps the port (the gateway could never restart);
// 2. `medic cleanup --dry-run` shows the plan and changes nothing;
// 3. `medic cleanup` frees the port; 4. a second run finds it free.
// Everything runs in a temporary state dir, and every process it started is gone at the end.
import {spawn, spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {get} from 'node:http'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const bin = join(root, 'bin/run.js')
const work = mkdtempSync(join(tmpdir(), 'medic-demo-'))
const ready = join(work, 'ready.json')
const say = (t) => console.log(`\n\x1b[1m# ${t}\x1b[0m`.replace(/\x1b\[\d+m/g, process.stdout.isTTY && !process.env.NO_COLOR ? '$&' : ''))
let orphanPid = 0

function cleanupAndExit(code) {
  if (orphanPid) {
    try { process.kill(-orphanPid, 'SIGKILL') } catch {}
  }
  rmSync(work, {recursive: true, force: true})
  process.exit(code)
}
process.on('SIGINT', () => cleanupAndExit(130))

async function waitReady(pred) {
  for (let i = 0; i < 2000; i++) {
    try {
      const r = JSON.parse(readFileSync(ready, 'utf8'))
      if (pred(r)) return r
    } catch {}
    await new Promise((r) => setTimeout(r, 5))
  }
  throw new Error('the demo service did not come up')
}

function fetchHealth(port) {
  return new Promise((resolve) => {
    const req = get({host: '127.0.0.1', port, path: '/health', timeout: 2000}, (res) => {
      let body = ''
      res.on('data', (d) => (body += d))
      res.on('end', () => resolve(`HTTP ${res.statusCode} ${body}`))
    })
    req.on('error', (e) => resolve(`no answer (${e.code})`))
  })
}

function run(args) {
  console.log(`$ medic ${args.join(' ')}`)
  const r = spawnSync(process.execPath, [bin, ...args, '--state-dir', join(work, 'state')], {encoding: 'utf8', env: {...process.env, NO_COLOR: '1'}})
  process.stdout.write(r.stdout)
  if (r.stderr.trim()) process.stdout.write(r.stderr.trimEnd().replace(/^/gm, '  (stderr) ') + '\n')
  console.log(`→ exit ${r.status}`)
  return r
}

try {
  say('A gateway starts, forks a child that inherits its listening socket, and crashes')
  const parent = spawn(process.execPath, [join(root, 'test/fixtures/proc/service.mjs'), '--orphan', '--ready', ready], {stdio: 'ignore', detached: true})
  const svc = await waitReady((r) => r.pid !== parent.pid)
  orphanPid = svc.pid
  await new Promise((r) => (parent.exitCode !== null ? r() : parent.once('exit', r)))
  console.log(`parent pid ${parent.pid} exited (code ${parent.exitCode}); orphan pid ${svc.pid} still holds port ${svc.port}`)
  console.log(`GET /health → ${await fetchHealth(svc.port)}   (systemd would now restart into EADDRINUSE, 388 times an hour)`)

  say('What would medic do? --dry-run changes nothing')
  run(['cleanup', '--port', String(svc.port), '--dry-run', '-v'])

  say('Free the port: SIGTERM (+SIGCONT), grace, SIGKILL only if needed, then prove it bindable')
  const fixed = run(['cleanup', '--port', String(svc.port), '-v'])

  say('Run it again, as ExecStartPre would (binary exit codes): the port is free')
  const again = run(['cleanup', '--port', String(svc.port), '--exit-codes', 'binary'])

  say('The same as one JSON object, for scripts')
  run(['cleanup', '--port', String(svc.port), '--json'])

  const ok = fixed.status === 1 && fixed.stdout.startsWith('PORT_RECOVERED') && again.status === 0 && again.stdout.startsWith('PORT_OK')
  console.log(`\ndemo ${ok ? 'passed' : 'FAILED'}: PORT_RECOVERED (exit 1) then PORT_OK (exit 0)`)
  cleanupAndExit(ok ? 0 : 1)
} catch (e) {
  console.error(`demo failed: ${e.message}`)
  cleanupAndExit(1)
}
