import {spawn} from 'node:child_process'
import {existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {COMMANDS} from '../../src/cli/registry.js'
import {lintExposition} from '../../src/core/prom.js'
import {expectContract, freePort, Janitor, medic, SERVICE, startService} from '../helpers/procs.js'
import {have, httpGet, NODE_EXPORTER, promtool, PROMTOOL, sample, startNodeExporter} from '../helpers/prom-tools.js'

const j = new Janitor()
afterEach(() => j.cleanup())

const havePromtool = have(PROMTOOL)
const haveNodeExporter = have(NODE_EXPORTER)

function checkMetrics(file: string): void {
  const text = readFileSync(file, 'utf8')
  expect(lintExposition(text), file).toEqual([])
  if (!havePromtool) return
  const r = promtool(['check', 'metrics'], text)
  expect(r.status, `${file}: ${r.out}`).toBe(0)
}

/** Kills, by the pids in their state files, the supervisors a test started. */
function superviseLater(state: string, name: string): void {
  j.later(() => {
    const st = JSON.parse(readFileSync(join(state, 'supervise', `${name}.json`), 'utf8'))
    return [st.supervisor.pid, st.child?.pid ?? 0]
  })
}

describe('--metrics-file on every verdict command', () => {
  it('every command writes a textfile promtool accepts, and a real node_exporter serves them all beside the ollama files with no scrape error', async () => {
    const state = j.tmp()
    const tf = j.tmp()
    const work = j.tmp()
    const svc = await startService(j)
    const sleeper = spawn('sleep', ['60'], {detached: true, stdio: 'ignore'})
    j.child(sleeper)
    const closed = await freePort()
    const ollama = `http://127.0.0.1:${closed}`
    superviseLater(state, 'obsboot')
    const bootPort = await freePort()
    const runs: Record<string, string[]> = {
      cleanup: ['cleanup', '--port', String(await freePort())],
      health: ['health', '--port', String(svc.port), '--manager', 'none'],
      boot: ['boot', '--name', 'obsboot', '--port', String(bootPort), '--', process.execPath, SERVICE, '--port', String(bootPort)],
      drill: ['drill', 'kill', '--pid', String(sleeper.pid), '--within', '500ms'],
      'kill-trace': ['kill-trace', '--', 'true'],
      'locks clean': ['locks', 'clean', '--dir', work],
      'sessions archive': ['sessions', 'archive', '--dir', work],
      watchdog: ['watchdog', '--once', '--sessions-dir', work],
      'ollama frozen-check': ['ollama', 'frozen-check', '--url', ollama, '--metrics-file', join(tf, 'ollama_selfheal.prom')],
      'ollama metrics': ['ollama', 'metrics', '--url', ollama, '--file', join(tf, 'ollama.prom')],
      'ollama rules': ['ollama', 'rules'],
      'protect list': ['protect', 'list'],
      'protect add': ['protect', 'add', '--pid', String(svc.pid)],
      'protect remove': ['protect', 'remove', '--pid', String(svc.pid)],
      'run-dev-safe': ['run-dev-safe', '--', 'true'],
      supervise: ['supervise', '--name', 'obsfg', '--timeout', '1500ms', '--', process.execPath, SERVICE],
      'supervise status': ['supervise', 'status', '--name', 'obsboot'],
      install: ['install', '--target', 'print', '--name', 'obs', '--', 'health'],
      uninstall: ['uninstall', '--name', 'obs'],
      verify: ['verify', '--name', 'obs'],
      rules: ['rules'],
      dashboard: ['dashboard'],
      guard: ['guard', '--match', `nothing-matches-${process.pid}`, '--sample', '100ms'],
      'guard status': ['guard', 'status', '--sample', '100ms'],
      isolation: ['isolation', work, 'test'],
      isolate: ['isolate', '--', 'true'],
    }
    expect(Object.keys(runs).sort(), 'a run for every command of the registry').toEqual(Object.keys(COMMANDS).sort())
    superviseLater(state, 'obsfg')
    const UNMEASURED = new Set(['install', 'uninstall', 'rules', 'dashboard'])
    const files: string[] = []
    for (const [id, args] of Object.entries(runs)) {
      const file = join(tf, `medic-${id.replace(/ /g, '-')}.prom`)
      // ollama frozen-check's own --metrics-file is the seed monitor's textfile: its check series go to $MEDIC_TEXTFILE_DIR.
      // install, uninstall, rules and dashboard measure nothing: --metrics-file is a usage error there (contract).
      if (UNMEASURED.has(id)) {
        const u = await medic([...args.slice(0, args.indexOf('--') < 0 ? args.length : args.indexOf('--')), '--metrics-file', file, '--state-dir', state, ...(args.includes('--') ? args.slice(args.indexOf('--')) : [])])
        expect(u.lines[0], `${id}: ${u.stdout}${u.stderr}`).toMatch(/^[A-Z0-9_]+_UNKNOWN: /)
        expect(u.code, id).toBe(3)
        expect(existsSync(file), `${id} wrote no ${file}`).toBe(false)
        continue
      }
      const env = id === 'ollama frozen-check' ? {MEDIC_TEXTFILE_DIR: tf} : {}
      const extra = id === 'ollama frozen-check' ? [] : ['--metrics-file', file]
      const r = await medic([...args.slice(0, args.indexOf('--') < 0 ? args.length : args.indexOf('--')), ...extra, '--state-dir', state, ...(args.includes('--') ? args.slice(args.indexOf('--')) : [])], {env})
      // run-dev-safe and isolate are wrappers: their verdict line is on stderr.
      const line = (id === 'run-dev-safe' || id === 'isolate' ? r.stderr.split('\n').find((l) => /^DEVRUN_/.test(l)) : r.lines[0]) ?? ''
      expect(line, `${id}: ${r.stdout}${r.stderr}`).toMatch(/^[A-Z0-9_]+_(OK|RECOVERED|ALERT|UNKNOWN): /)
      expect(r.stderr, id).not.toMatch(/metrics: not written/)
      const written = id === 'ollama frozen-check' ? join(tf, 'medic-ollama-frozen-check-ollama.prom') : file
      expect(existsSync(written), `${id} wrote ${written}`).toBe(true)
      files.push(written)
      const text = readFileSync(written, 'utf8')
      const status = {OK: 0, RECOVERED: 1, ALERT: 2, UNKNOWN: 3}[/_(OK|RECOVERED|ALERT|UNKNOWN):/.exec(line)![1] as 'OK']
      expect(text, id).toContain(`medic_check_status{command="${id}",subject="${/^([A-Z0-9_]+?)_(?:OK|RECOVERED|ALERT|UNKNOWN):/.exec(line)![1]}"} ${status}\n`)
    }
    for (const f of [...files, join(tf, 'ollama.prom'), join(tf, 'ollama_selfheal.prom')]) checkMetrics(f)
    expect(readFileSync(join(tf, 'medic-health.prom'), 'utf8')).toMatch(/^medic_health_problem\{command="health",subject="GATEWAY",problem="RESTART_LOOP"\} 0$/m)
    expect(readFileSync(join(tf, 'medic-supervise.prom'), 'utf8')).toMatch(/^medic_supervise_restarts_total\{command="supervise",subject="SUPERVISOR"\} 0$/m)

    if (!haveNodeExporter) return void console.log('skipped the node_exporter half: prometheus-node-exporter not installed')
    const ne = await startNodeExporter(j, tf)
    const {text} = await httpGet(ne.url)
    expect(sample(text, 'node_textfile_scrape_error'), ne.logs()).toBe(0)
    // A series two files share, or a HELP two files disagree on, is a gathering error, not a scrape error.
    expect(text).not.toMatch(/promhttp_metric_handler_errors_total\{cause="gathering"\} [1-9]/)
    expect(ne.logs()).not.toMatch(/error gathering metrics|was collected before|inconsistent/)
    for (const id of Object.keys(runs).filter((k) => !UNMEASURED.has(k))) expect(text, id).toMatch(new RegExp(`^medic_check_status\\{command="${id}",[^}]*\\} [0-3]$`, 'm'))
    expect(text).toMatch(/^ollama_up\{collector="metrics"\} 0$/m)
    expect(text).toMatch(/^ollama_up\{collector="frozen-check"\} 0$/m)
    for (const f of readdirSync(tf).filter((n) => n.endsWith('.prom'))) expect(text, f).toContain(`node_textfile_mtime_seconds{file="${join(tf, f)}"}`)
  }, 180_000) // 26 medic runs, promtool and node_exporter in a row: 7-9 s idle, over 30 s on a loaded host; a safety net, no timing asserted

  it('counters survive runs (state dir): a port freed twice is 2 recovered repairs and the signals it took', async () => {
    const state = j.tmp()
    const file = join(j.tmp(), 'm.prom')
    for (let i = 0; i < 2; i++) {
      const s = await startService(j)
      const r = await medic(['cleanup', '--port', String(s.port), '--state-dir', state, '--metrics-file', file])
      expectContract(r, 'PORT_RECOVERED')
    }
    const text = readFileSync(file, 'utf8')
    expect(text).toMatch(/^medic_repairs_total\{command="cleanup",subject="PORT",result="recovered"\} 2$/m)
    expect(Number(/^medic_kills_total\{command="cleanup",subject="PORT"\} (\d+)$/m.exec(text)![1])).toBeGreaterThanOrEqual(2)
    checkMetrics(file)
  })

  it('two commands, one textfile dir and one shared file, run at once: every series survives, node_exporter sees no clash', async () => {
    const state = j.tmp()
    const tf = j.tmp()
    const shared = join(tf, 'shared.prom')
    const svc = await startService(j)
    const runs = await Promise.all([
      medic(['cleanup', '--port', String(await freePort()), '--state-dir', state], {env: {MEDIC_TEXTFILE_DIR: tf}}),
      medic(['health', '--port', String(svc.port), '--manager', 'none', '--state-dir', state], {env: {MEDIC_TEXTFILE_DIR: tf}}),
      medic(['health', '--name', 'other', '--port', String(svc.port), '--manager', 'none', '--state-dir', state], {env: {MEDIC_TEXTFILE_DIR: tf}}),
      ...Array.from({length: 4}, async (_, i) => medic(['cleanup', '--port', String(await freePort()), '--state-dir', state, '--metrics-file', shared])),
      ...Array.from({length: 4}, (_, i) => medic(['health', '--name', `svc${i}`, '--port', String(svc.port), '--manager', 'none', '--state-dir', state, '--metrics-file', shared])),
    ])
    for (const r of runs) expect(r.lines[0]).toMatch(/_OK: /)
    expect(readdirSync(tf).sort()).toEqual(['medic-cleanup-port.prom', 'medic-health-gateway.prom', 'medic-health-other.prom', 'shared.prom'])
    const text = readFileSync(shared, 'utf8')
    for (const s of ['SVC0', 'SVC1', 'SVC2', 'SVC3']) expect(text, s).toMatch(new RegExp(`^medic_check_status\\{command="[a-z]+",subject="${s}"\\} 0$`, 'm'))
    for (const f of readdirSync(tf)) checkMetrics(join(tf, f))
    // cleanup PORT ran into both medic-cleanup-port.prom and shared.prom: it lives in one of them only.
    const holding = readdirSync(tf).filter((f) => /^medic_check_status\{command="cleanup",subject="PORT"\}/m.test(readFileSync(join(tf, f), 'utf8')))
    expect(holding).toHaveLength(1)
    if (!haveNodeExporter) return void console.log('skipped the node_exporter half: prometheus-node-exporter not installed')
    const ne = await startNodeExporter(j, tf)
    const {text: served} = await httpGet(ne.url)
    expect(sample(served, 'node_textfile_scrape_error')).toBe(0)
    expect(served).not.toMatch(/promhttp_metric_handler_errors_total\{cause="gathering"\} [1-9]/)
    expect(ne.logs()).not.toMatch(/error gathering metrics|was collected before/)
    expect(served).toMatch(/^medic_check_status\{command="health",subject="OTHER"\} 0$/m)
    for (const s of ['PORT', 'SVC0', 'SVC3']) expect(served, s).toMatch(new RegExp(`^medic_check_status\\{command="[a-z]+",subject="${s}"\\} 0$`, 'm'))
  })

  it('a metrics file that is a symlink, a directory or someone else\'s textfile is left alone; the verdict does not change', async () => {
    const state = j.tmp()
    const dir = j.tmp()
    const victim = join(dir, 'victim.txt')
    writeFileSync(victim, 'precious\n')
    const link = join(dir, 'medic.prom')
    symlinkSync(victim, link)
    const port = String(await freePort())
    const r = await medic(['cleanup', '--port', port, '--state-dir', state, '--metrics-file', link])
    expectContract(r, 'PORT_OK')
    expect(r.stderr).toMatch(/metrics: not written to .*medic\.prom: a symlink: refused/)
    expect(readFileSync(victim, 'utf8')).toBe('precious\n')
    expect(lstatSync(link).isSymbolicLink()).toBe(true)
    expect(readlinkSync(link)).toBe(victim)

    mkdirSync(join(dir, 'adir.prom'))
    const d = await medic(['cleanup', '--port', port, '--state-dir', state, '--metrics-file', join(dir, 'adir.prom')])
    expectContract(d, 'PORT_OK')
    expect(d.stderr).toMatch(/not a regular file: refused/)

    const foreign = join(dir, 'node.prom')
    writeFileSync(foreign, '# HELP my_metric x\n# TYPE my_metric gauge\nmy_metric 1\n')
    const f = await medic(['cleanup', '--port', port, '--state-dir', state, '--metrics-file', foreign, '--json'])
    expect(JSON.parse(f.stdout).status).toBe('OK')
    expect(f.stderr).toMatch(/not a medic metrics file/)
    expect(readFileSync(foreign, 'utf8')).toBe('# HELP my_metric x\n# TYPE my_metric gauge\nmy_metric 1\n')
  })

  it('counters that cannot be saved (the state dir\'s metrics/ is a file): said on stderr, the textfile and the verdict still right', async () => {
    const state = j.tmp()
    writeFileSync(join(state, 'metrics'), 'not a directory\n')
    const file = join(j.tmp(), 'm.prom')
    const r = await medic(['cleanup', '--port', String(await freePort()), '--state-dir', state, '--metrics-file', file])
    expectContract(r, 'PORT_OK')
    expect(r.stderr).toMatch(/metrics: counters not saved/)
    expect(readFileSync(file, 'utf8')).toMatch(/^medic_check_status\{command="cleanup",subject="PORT"\} 0$/m)
    checkMetrics(file)
  })

  it('a run without the flags loads no observer (its own bundle), and --dry-run writes nothing', async () => {
    const state = j.tmp()
    const tf = j.tmp()
    const s = await startService(j)
    const r = await medic(['cleanup', '--port', String(s.port), '--dry-run', '--state-dir', state], {env: {MEDIC_TEXTFILE_DIR: tf}})
    expect(r.lines[0]).toMatch(/^PORT_/)
    expect(readdirSync(tf)).toEqual([])
  })
})
