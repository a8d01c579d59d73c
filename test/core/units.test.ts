import {describe, expect, it} from 'vitest'
import {splitCommandLine} from '../../src/core/command-line.js'
import {cronCommand, cronSchedule, dockerHealthcheck, findBlock, MARK, mergeBlock, mergeWslConf, shellWord, systemdSpan, systemdWord, timerUnit, unmergeWslConf, wslBootLine} from '../../src/core/units.js'
import {decideRemove, decideWrite, manifestProblems, unifiedDiff, type Manifest} from '../../src/core/units-manifest.js'
import {buildPlan, classify, defaultName, defaultTarget, type HostFacts, type InnerCommand, type InstallRequest} from '../../src/core/units-plan.js'
import {judgeFile, judgeHeartbeat, judgeLastRun, judgeTextfile, judgeUnit, verifyVerdict} from '../../src/core/units-verify.js'

const host: HostFacts = {
  medic: ['/usr/bin/node', '/opt/medic/bin/run.js'], root: true, uid: 0, hasSystemd: true, stateDir: '/var/lib/medic',
  systemUnitDir: '/etc/systemd/system', userUnitDir: '/home/u/.config/systemd/user', cronDir: '/etc/cron.d', wslConf: '/etc/wsl.conf',
  installLog: (dir, name) => `${dir}/install/${name}.log`,
  recordDirs: (dir) => [`${dir}/install`, `${dir}/last`],
}
const inner = (id: string, args: string[] = [], flags: InnerCommand['flags'] = {}, subject = 'GATEWAY'): InnerCommand => ({id, args, subject, flags})
const req = (o: Partial<InstallRequest> = {}): InstallRequest => ({version: 1, name: 'health-gateway', target: 'systemd', everyMs: null, unit: null, port: null, textfileDir: null, rulesFile: null, stateDir: null, command: ['health'], ...o})

describe('systemd and shell words', () => {
  it('quotes an ExecStart word so systemd hands the program exactly that text', () => {
    expect(systemdWord('/usr/bin/node')).toBe('/usr/bin/node')
    expect(systemdWord('--port=18789')).toBe('--port=18789')
    expect(systemdWord('a b')).toBe('"a b"')
    expect(systemdWord('100%')).toBe('"100%%"')
    expect(systemdWord('$HOME')).toBe('"$$HOME"')
    expect(systemdWord('say "hi"\\')).toBe('"say \\"hi\\"\\\\"')
    expect(systemdWord(';')).toBe('";"')
    expect(systemdWord('')).toBe('""')
    // Without specifiers or variables, systemd's splitting is medic's own splitCommandLine.
    for (const w of ['a b', 'it\'s', 'say "hi"', 'back\\slash', 'tab\there', ';']) expect(splitCommandLine(systemdWord(w))).toEqual([w])
  })

  it('quotes shell words for cron and wsl.conf, and escapes % for cron', () => {
    expect(shellWord('/usr/bin/node')).toBe('/usr/bin/node')
    expect(shellWord("it's $HOME")).toBe(`'it'\\''s $HOME'`)
    expect(cronCommand(['/bin/x', '100%', 'a b'])).toBe("/bin/x '100\\%' 'a b'")
  })

  it('writes exact systemd time spans', () => {
    expect(systemdSpan(600_000)).toBe('10min')
    expect(systemdSpan(3_600_000)).toBe('1h')
    expect(systemdSpan(90_000)).toBe('90s')
    expect(systemdSpan(250)).toBe('250ms')
  })

  it('turns --every into a cron schedule, or refuses what cron cannot express', () => {
    expect(cronSchedule(60_000)).toEqual({ok: true, spec: '* * * * *'})
    expect(cronSchedule(600_000)).toEqual({ok: true, spec: '*/10 * * * *'})
    expect(cronSchedule(3_600_000)).toEqual({ok: true, spec: '0 * * * *'})
    expect(cronSchedule(6 * 3_600_000)).toEqual({ok: true, spec: '0 */6 * * *'})
    expect(cronSchedule(86_400_000)).toEqual({ok: true, spec: '0 0 * * *'})
    for (const bad of [30_000, 7 * 60_000, 90_000, 5 * 3_600_000, 2 * 86_400_000]) expect(cronSchedule(bad).ok).toBe(false)
  })

  it('starts a timer soon after boot (Persistent= does nothing on monotonic timers) and then every --every', () => {
    const t = timerUnit('medic-x', 600_000, false)
    expect(t).toMatch(/^OnBootSec=2min$/m)
    expect(t).toMatch(/^OnUnitActiveSec=10min$/m)
    expect(t).toMatch(/^WantedBy=timers\.target$/m)
    expect(t).not.toMatch(/Persistent/)
    expect(timerUnit('medic-x', 30_000, false)).toMatch(/^OnBootSec=30s$/m)
  })

  it('prints the seed’s Docker HEALTHCHECK in exec form', () => {
    expect(dockerHealthcheck(['medic', 'health', '--exit-codes', 'binary'], {intervalMs: 30_000, timeoutMs: 10_000, retries: 3, startPeriodMs: 40_000}))
      .toBe('HEALTHCHECK --interval=30s --timeout=10s --retries=3 --start-period=40s CMD ["medic","health","--exit-codes","binary"]')
  })
})

describe('wsl.conf', () => {
  const line = wslBootLine(['/usr/bin/node', '/opt/medic/bin/run.js', 'boot', '--port', '18789'])
  const seed = '[automount]\r\nenabled = true\r\n\r\n[boot]\r\nsystemd=true\r\n\r\n[user]\r\ndefault=root\r\n# trailing comment, no newline'

  it('adds the command to [boot], keeping every other byte (CRLF and all)', () => {
    const m = mergeWslConf(seed, line, null)
    expect(m.ok).toBe(true)
    if (!m.ok) return
    expect(m.appended).toBeNull()
    expect(m.text).toBe(seed.replace('[boot]\r\n', `[boot]\r\n${line}\r\n`))
    // Again: the same bytes.
    const again = mergeWslConf(m.text, line, line)
    expect(again.ok && again.text).toBe(m.text)
    expect(unmergeWslConf(m.text, line, null)).toEqual({ok: true, text: seed})
  })

  it('appends a [boot] section when there is none, and takes exactly that off again', () => {
    for (const text of ['', '[user]\ndefault=root\n', '[user]\ndefault=root']) {
      const m = mergeWslConf(text, line, null)
      expect(m.ok).toBe(true)
      if (!m.ok) continue
      expect(m.text.startsWith(text)).toBe(true)
      expect(m.text.endsWith(`[boot]\n${line}\n`)).toBe(true)
      expect(unmergeWslConf(m.text, line, m.appended)).toEqual({ok: true, text})
    }
  })

  it('refuses a [boot] command medic did not write (the seed’s wsl_boot.sh)', () => {
    const theirs = '[boot]\ncommand=/root/clawd/scripts/wsl_boot.sh\n'
    expect(mergeWslConf(theirs, line, null)).toMatchObject({ok: false, reason: expect.stringMatching(/did not write: command=\/root\/clawd\/scripts\/wsl_boot\.sh/)})
    expect(mergeWslConf(theirs, line, 'command=/something/else')).toMatchObject({ok: false})
    // Its own older line is replaced.
    const older = '[boot]\ncommand=/old/medic boot\n'
    const m = mergeWslConf(older, line, 'command=/old/medic boot')
    expect(m.ok && m.text).toBe(`[boot]\n${line}\n`)
    expect(unmergeWslConf('[boot]\ncommand=changed by hand\n', line, null).ok).toBe(false)
    // Only a command= line of [boot]: the same text elsewhere (or in another file) is not medic's.
    expect(unmergeWslConf(`[user]\n${line}\n`, line, null).ok).toBe(false)
    expect(unmergeWslConf('root:x:0:0\n', 'root:x:0:0', null).ok).toBe(false)
  })
})

describe('crontab blocks', () => {
  const block = '# BEGIN medic-x (medic install)\n*/10 * * * * /bin/true >/dev/null 2>&1\n# END medic-x (medic install)\n'
  it('puts medic’s block in or takes it out, every other byte kept', () => {
    const mine = 'MAILTO=me\n0 3 * * * backup\n'
    const merged = mergeBlock(mine, 'medic-x', block) as string
    expect(merged).toBe(mine + block)
    expect(mergeBlock(merged, 'medic-x', block)).toBe(merged)
    expect(mergeBlock(merged, 'medic-x', null)).toBe(mine)
    expect(mergeBlock('no newline', 'medic-x', block)).toBe(`no newline\n${block}`)
    expect(findBlock(merged + block, 'medic-x')).toBe('ambiguous')
    expect(findBlock('# BEGIN medic-x (medic install)\nbroken\n', 'medic-x')).toBe('ambiguous')
    // Another install's block is someone else's.
    expect(findBlock(merged.replace(/medic-x/g, 'medic-y'), 'medic-x')).toBeNull()
  })
})

describe('ownership: medic writes only where nothing is, or over what it wrote', () => {
  const old = `${MARK} (medic-x): old\n`
  const mine = `${MARK} (medic-x): mine\n`
  it('decides each write', () => {
    expect(decideWrite('/p', 'new', {kind: 'missing'}, null)).toEqual({action: 'create'})
    expect(decideWrite('/p', 'new', {kind: 'file', text: 'new', mode: 0o644}, null)).toEqual({action: 'same'})
    expect(decideWrite('/p', 'new', {kind: 'file', text: old, mode: 0o644}, old)).toEqual({action: 'update', before: old})
    // A manifest that claims a file without medic's mark (forged, or a lost mark) cannot make medic rewrite it.
    expect(decideWrite('/p', 'new', {kind: 'file', text: 'root:x:0:0\n', mode: 0o644}, 'root:x:0:0\n')).toMatchObject({action: 'refuse'})
    expect(decideWrite('/p', 'new', {kind: 'file', text: 'theirs', mode: 0o644}, null)).toMatchObject({action: 'refuse', reason: '/p exists and medic did not write it; not overwriting'})
    expect(decideWrite('/p', 'new', {kind: 'file', text: 'old + hand edit', mode: 0o644}, 'old')).toMatchObject({action: 'refuse', reason: expect.stringMatching(/changed since medic wrote it/)})
    expect(decideWrite('/p', 'new', {kind: 'symlink'}, 'old')).toMatchObject({action: 'refuse', reason: expect.stringMatching(/symlink/)})
    expect(decideWrite('/p', 'new', {kind: 'other', what: 'a directory'}, null)).toMatchObject({action: 'refuse'})
  })

  it('a file with medic’s bytes but another mode or owner is fixed, never the same', () => {
    expect(decideWrite('/p', 'new', {kind: 'file', text: 'new', mode: 0o644, uid: 0}, null, {mode: 0o644, uid: 0})).toEqual({action: 'same'})
    expect(decideWrite('/p', 'new', {kind: 'file', text: 'new', mode: 0o666, uid: 0}, null, {mode: 0o644, uid: 0})).toMatchObject({action: 'fix', why: expect.stringMatching(/^\/p has mode 0666, medic wrote it 0644 \(writable by others/)})
    expect(decideWrite('/p', 'new', {kind: 'file', text: 'new', mode: 0o644, uid: 1000}, null, {mode: 0o644, uid: 0})).toMatchObject({action: 'fix', why: '/p is owned by uid 1000, medic wrote it as uid 0'})
    expect(judgeFile('/u', {kind: 'file', text: 'a', mode: 0o664, uid: 0}, 'a', 'a', {mode: 0o644, uid: 0})).toMatchObject({status: 'ALERT', detail: expect.stringMatching(/\/u has mode 0664/)})
  })

  it('refuses a manifest that names anything but medic’s own', () => {
    const unit = `${MARK} (medic-x): a check\n`
    const m = {
      version: 1, name: 'x', unitName: 'medic-x', kind: 'check', target: 'systemd', crontab: null, wsl: null, dirs: [],
      systemd: {user: false, service: 'medic-x.service', timer: 'medic-x.timer', hardened: 'gw.service'},
      files: [
        {path: '/etc/systemd/system/medic-x.service', text: unit, mode: 0o644, role: 'service', createdDirs: []},
        {path: '/etc/systemd/system/gw.service.d/medic-x.conf', text: unit, mode: 0o644, role: 'dropin', createdDirs: ['/etc/systemd/system/gw.service.d']},
        {path: '/srv/rules.yml', text: unit, mode: 0o644, role: 'rules', createdDirs: []},
      ],
    } as unknown as Manifest
    expect(manifestProblems(m, host)).toEqual([])
    const bad = (patch: object) => manifestProblems({...m, ...patch} as Manifest, host)
    expect(bad({systemd: {...m.systemd, service: 'sshd.service'}})).toEqual(['it names the unit "sshd.service", not medic-x.service'])
    expect(bad({unitName: 'sshd'})).toEqual(['it names the unit "sshd", not medic-x'])
    expect(bad({files: [{...m.files[0], path: '/etc/systemd/system/sshd.service'}]})[0]).toMatch(/sshd\.service is not where medic install puts medic-x’s service file/)
    expect(bad({files: [{...m.files[2], path: '/srv/../etc/passwd'}]})[0]).toMatch(/not a plain absolute path/)
    expect(bad({files: [{...m.files[2], text: `${MARK} (medic-y): theirs\n`}]})[0]).toMatch(/does not carry medic’s header for medic-x/)
    expect(bad({files: [{...m.files[2], path: '/etc/cron.d/rules'}]})[0]).toMatch(/not where medic install puts/)
    expect(bad({files: [{...m.files[1], createdDirs: ['/var/empty']}]})[0]).toMatch(/"\/var\/empty" is not a folder of/)
  })

  it('judges a loop’s heartbeat against its interval', () => {
    const rec = (ageMs: number) => ({token: 'WATCHDOG_OK', status: 'OK' as const, summary: 'fine', at: new Date(1_000_000_000 - ageMs).toISOString()})
    const now = 1_000_000_000
    expect(judgeHeartbeat('w', rec(1000), now, 5000, now - 60_000, 0).status).toBe('OK')
    expect(judgeHeartbeat('w', rec(41_000), now, 5000, now - 600_000, 0)).toMatchObject({status: 'ALERT', detail: expect.stringMatching(/last pass was 41s ago, more than 2 × 5s \+ 30s: its loop is frozen/)})
    expect(judgeHeartbeat('w', null, now, 5000, now - 10_000, 0)).toMatchObject({status: 'OK', detail: expect.stringMatching(/first pass is due/)})
    expect(judgeHeartbeat('w', null, now, 5000, now - 60_000, 0).status).toBe('ALERT')
    // A record from before the unit started is a previous run's.
    expect(judgeHeartbeat('w', rec(600_000), now, 5000, now - 100_000, 0).status).toBe('ALERT')
    expect(judgeHeartbeat('w', rec(-3_600_000), now, 5000, now - 100_000, 0).detail).toMatch(/in the future/)
  })

  it('decides each removal', () => {
    expect(decideRemove('/p', mine, {kind: 'file', text: mine, mode: 0o644})).toEqual({action: 'remove'})
    expect(decideRemove('/p', mine, {kind: 'missing'})).toEqual({action: 'gone'})
    expect(decideRemove('/p', mine, {kind: 'file', text: `${mine}edited\n`, mode: 0o644})).toMatchObject({action: 'leave'})
    expect(decideRemove('/p', mine, {kind: 'symlink'})).toMatchObject({action: 'leave'})
    expect(decideRemove('/etc/passwd', 'root:x:0:0\n', {kind: 'file', text: 'root:x:0:0\n', mode: 0o644})).toMatchObject({action: 'leave', reason: expect.stringMatching(/does not carry medic's mark/)})
  })

  it('diffs line by line', () => {
    expect(unifiedDiff('/p', 'a\nb\nc\n', 'a\nb\nc\n')).toEqual([])
    expect(unifiedDiff('/p', '', 'x\ny\n')).toEqual(['--- /dev/null', '+++ /p', '@@', '+x', '+y'])
    expect(unifiedDiff('/p', 'a\nb\nc\nd\ne\nf\ng\n', 'a\nb\nc\nD\ne\nf\ng\n', 1)).toEqual(['--- /p', '+++ /p', '@@', ' c', '-d', '+D', ' e'])
  })
})

describe('the install plan', () => {
  it('classifies long-running commands, checks and boot', () => {
    expect(classify(inner('supervise'))).toEqual({ok: true, kind: 'service'})
    expect(classify(inner('watchdog'))).toEqual({ok: true, kind: 'service'})
    expect(classify(inner('watchdog', [], {once: true}))).toEqual({ok: true, kind: 'check'})
    expect(classify(inner('ollama frozen-check', [], {watch: true}))).toEqual({ok: true, kind: 'service'})
    expect(classify(inner('ollama frozen-check'))).toEqual({ok: true, kind: 'check'})
    expect(classify(inner('ollama metrics', [], {watch: 15_000}))).toEqual({ok: true, kind: 'service'})
    expect(classify(inner('health'))).toEqual({ok: true, kind: 'check'})
    expect(classify(inner('boot'))).toEqual({ok: true, kind: 'boot'})
    expect(classify(inner('kill-trace')).ok).toBe(false)
    expect(classify(inner('run-dev-safe')).ok).toBe(false)
  })

  it('names and targets by default', () => {
    expect(defaultName(inner('health', [], {name: 'gateway'}), null)).toBe('health-gateway')
    expect(defaultName(inner('ollama frozen-check'), null)).toBe('ollama-frozen-check')
    expect(defaultName(inner('health', [], {name: 'my.svc@x'}), null)).toBe('health-my-svc-x')
    expect(defaultName(null, 'clawdbot-gateway.service')).toBe('harden-clawdbot-gateway')
    expect(defaultTarget('check', {root: true, hasSystemd: true})).toBe('systemd')
    expect(defaultTarget('check', {root: false, hasSystemd: true})).toBe('systemd-user')
    expect(defaultTarget('check', {root: true, hasSystemd: false})).toBe('cron')
    expect(defaultTarget('boot', {root: true, hasSystemd: true})).toBe('wsl')
  })

  it('plans a check as a oneshot and timer, with its log, and the hardening drop-in for --unit', () => {
    const p = buildPlan(req({unit: 'clawdbot-gateway', port: 18789, everyMs: 300_000, command: ['health', '--port', '18789']}), inner('health', ['--port', '18789'], {name: 'gateway', port: 18789}), host)
    expect(p.ok).toBe(true)
    if (!p.ok) return
    expect(p.plan.files.map((f) => f.path)).toEqual(['/etc/systemd/system/medic-health-gateway.service', '/etc/systemd/system/medic-health-gateway.timer', '/etc/systemd/system/clawdbot-gateway.service.d/medic-health-gateway.conf'])
    const [svc, timer, dropIn] = p.plan.files.map((f) => f.text)
    expect(svc).toMatch(/^Type=oneshot$/m)
    expect(svc).toMatch(/^ExecStart=\/usr\/bin\/node \/opt\/medic\/bin\/run\.js health --port 18789 --log-file \/var\/lib\/medic\/install\/health-gateway\.log$/m)
    expect(svc).toMatch(/^SuccessExitStatus=1$/m)
    expect(svc).toMatch(/^Environment=PATH=\/usr\/local\/sbin:/m)
    expect(timer).toMatch(/^OnUnitActiveSec=5min$/m)
    expect(dropIn).toMatch(/^ExecStartPre=\/usr\/bin\/node \/opt\/medic\/bin\/run\.js cleanup --port 18789 --exit-codes binary$/m)
    expect(dropIn).toMatch(/^KillMode=control-group$/m)
    expect(dropIn).toMatch(/^TimeoutStopSec=30s$/m)
    expect(p.plan.watch).toMatchObject({commandId: 'health', subject: 'GATEWAY', stateDir: '/var/lib/medic', everyMs: 300_000, logFile: '/var/lib/medic/install/health-gateway.log'})
  })

  it('plans a long-running command as a service: Restart=on-failure, KillMode=control-group, ollama ordering, textfile dir', () => {
    const p = buildPlan(req({name: 'ollama-metrics', textfileDir: '/var/lib/prometheus/node-exporter', rulesFile: '/etc/prometheus/rules/medic.yml', command: ['ollama', 'metrics', '--watch', '15s']}), inner('ollama metrics', ['--watch', '15s'], {watch: 15_000}, 'OLLAMA'), host)
    expect(p.ok).toBe(true)
    if (!p.ok) return
    const svc = p.plan.files[0].text
    for (const l of ['Type=simple', 'Restart=on-failure', 'RestartSec=10s', 'KillMode=control-group', 'After=network.target ollama.service', 'Wants=ollama.service', 'Environment=TEXTFILE_DIR=/var/lib/prometheus/node-exporter', 'WantedBy=multi-user.target']) expect(svc.split('\n')).toContain(l)
    expect(p.plan.files.map((f) => f.role)).toEqual(['service', 'rules'])
    expect(p.plan.files[1].text).toMatch(/^groups:/m)
    expect(p.plan.dirs).toEqual(['/var/lib/prometheus/node-exporter'])
    expect(p.plan.watch.textfiles).toEqual([{path: '/var/lib/prometheus/node-exporter/ollama.prom', intervalMs: 15_000}])
  })

  it('puts its own flags before a -- that belongs to the supervised command', () => {
    const p = buildPlan(req({name: 'sup', command: ['supervise', '--port', '1', '--', 'node', 'x.js']}), inner('supervise', ['--port', '1', '--', 'node', 'x.js']), host)
    expect(p.ok && p.plan.argv).toEqual(['/usr/bin/node', '/opt/medic/bin/run.js', 'supervise', '--port', '1', '--log-file', '/var/lib/medic/install/sup.log', '--', 'node', 'x.js'])
  })

  it('writes /etc/cron.d as root and a crontab block otherwise', () => {
    const p = buildPlan(req({target: 'cron', everyMs: 600_000}), inner('health'), host)
    expect(p.ok && p.plan.files[0].path).toBe('/etc/cron.d/medic-health-gateway')
    expect(p.ok && p.plan.files[0].text).toMatch(/^\*\/10 \* \* \* \* root \/usr\/bin\/node \/opt\/medic\/bin\/run\.js health --log-file \/var\/lib\/medic\/install\/health-gateway\.log >\/dev\/null 2>&1$/m)
    const u = buildPlan(req({target: 'cron', everyMs: 600_000}), inner('health'), {...host, root: false})
    expect(u.ok && u.plan.files).toEqual([])
    expect(u.ok && u.plan.crontabBlock).toMatch(/^# BEGIN medic-health-gateway \(medic install\)\n\*\/10 \* \* \* \* MEDIC_INSTALL_NAME=health-gateway \/usr\/bin\/node/)
  })

  it('refuses what a target cannot run, as bad input', () => {
    const refuse = (r: Partial<InstallRequest>, c: InnerCommand | null, h: HostFacts = host) => {
      const p = buildPlan(req(r), c, h)
      return p.ok ? 'planned' : p.reason
    }
    expect(refuse({target: 'cron'}, inner('supervise'))).toMatch(/needs a service manager/)
    expect(refuse({target: 'systemd'}, inner('boot'))).toMatch(/--target wsl/)
    expect(refuse({target: 'wsl'}, inner('health'))).toMatch(/medic boot/)
    expect(refuse({target: 'docker'}, inner('supervise'))).toMatch(/HEALTHCHECK runs a check/)
    expect(refuse({target: 'cron', everyMs: 7 * 60_000}, inner('health'))).toMatch(/cron cannot run something every 7min/)
    expect(refuse({everyMs: 60_000}, inner('supervise'))).toMatch(/--every is for checks/)
    expect(refuse({target: 'cron', unit: 'x', port: 1}, inner('health'))).toMatch(/--unit hardens a systemd unit/)
    expect(refuse({unit: 'x'}, inner('health'))).toMatch(/needs the port/)
    expect(refuse({name: 'bad.name'}, inner('health'))).toMatch(/letters, digits/)
    expect(refuse({name: '../x'}, inner('health'))).toMatch(/letters, digits/)
    expect(refuse({rulesFile: 'rules.yml'}, inner('health'))).toMatch(/absolute path/)
    expect(refuse({}, inner('health', ['--log-file', 'rel.log'], {logFile: 'rel.log'}))).toMatch(/absolute path/)
    expect(refuse({target: 'wsl'}, inner('boot', ['--', 'sh', '-c', 'a # b']))).toMatch(/no #/)
    expect(refuse({}, null)).toMatch(/nothing to install/)
  })
})

describe('verify judgements', () => {
  const loaded = {LoadState: 'loaded', UnitFileState: 'enabled', ActiveState: 'active', SubState: 'waiting', NeedDaemonReload: 'no'}
  it('judges a unit', () => {
    expect(judgeUnit('t.timer', loaded, 'any').status).toBe('OK')
    expect(judgeUnit('t.timer', {...loaded, ActiveState: 'inactive', SubState: 'dead'}, 'any')).toMatchObject({status: 'ALERT', detail: 't.timer is inactive (dead), not active'})
    expect(judgeUnit('t.timer', {...loaded, UnitFileState: 'disabled'}, 'any').detail).toMatch(/not enabled/)
    expect(judgeUnit('s.service', {...loaded, SubState: 'auto-restart', ActiveState: 'activating'}, 'running').status).toBe('ALERT')
    expect(judgeUnit('s.service', {...loaded, NeedDaemonReload: 'yes'}, 'any').detail).toMatch(/not reloaded/)
    expect(judgeUnit('s.service', {LoadState: 'not-found'}, 'any').detail).toMatch(/not-found/)
  })

  it('judges the last run of a check: within 2 × --every, and not ALERT', () => {
    const now = Date.parse('2026-01-01T00:30:00Z')
    const rec = (at: string, status: 'OK' | 'ALERT' = 'OK') => ({token: `GATEWAY_${status}`, status, summary: 's', at})
    expect(judgeLastRun('x', rec('2026-01-01T00:25:00Z'), now, 600_000).status).toBe('OK')
    expect(judgeLastRun('x', rec('2026-01-01T00:05:00Z'), now, 600_000)).toMatchObject({status: 'ALERT', detail: expect.stringMatching(/25m ago, more than 2 × 10m/)})
    expect(judgeLastRun('x', rec('2026-01-01T00:29:00Z', 'ALERT'), now, 600_000)).toMatchObject({status: 'ALERT', detail: expect.stringMatching(/it said GATEWAY_ALERT/)})
    expect(judgeLastRun('x', null, now, 600_000)).toMatchObject({status: 'ALERT', detail: 'x never recorded a verdict'})
    // A record dated in the future is no evidence of a recent run: the clock is named.
    expect(judgeLastRun('x', rec('2026-01-01T01:30:00Z'), now, 600_000)).toMatchObject({status: 'ALERT', detail: expect.stringMatching(/1h in the future: .*clock/)})
    expect(judgeLastRun('x', rec('2026-01-01T00:30:30Z'), now, 600_000).status).toBe('OK') // within the skew
  })

  it('judges a textfile: fresh and valid', () => {
    const good = '# HELP up x\n# TYPE up gauge\nup 1\n'
    expect(judgeTextfile('/t.prom', 1000, good, 20_000, 15_000).status).toBe('OK')
    expect(judgeTextfile('/t.prom', 1000, good, 40_000, 15_000).detail).toMatch(/stale/)
    expect(judgeTextfile('/t.prom', 1000, 'up{ 1\n', 2000, 15_000).detail).toMatch(/not valid/)
    expect(judgeTextfile('/t.prom', null, null, 2000, 15_000).detail).toMatch(/does not exist/)
    expect(judgeTextfile('/t.prom', 3_600_000 + 2000, good, 2000, 15_000)).toMatchObject({status: 'ALERT', detail: expect.stringMatching(/1h in the future: .*clock/)})
  })

  it('tells a hand edit from drift', () => {
    const f = (text: string) => ({kind: 'file' as const, text, mode: 0o644})
    expect(judgeFile('/u', f('a\nb\n'), 'a\nb\n', 'a\nb\n').status).toBe('OK')
    expect(judgeFile('/u', f('a\nB\n'), 'a\nb\n', 'a\nb\n').detail).toMatch(/changed since medic wrote it \(line 2: "b" → "B"\)/)
    expect(judgeFile('/u', f('a\nb\n'), 'a\nb\n', 'a\nc\n').detail).toMatch(/differs from what medic install would write now/)
    expect(judgeFile('/u', {kind: 'missing'}, 'a', 'a').detail).toMatch(/gone/)
    expect(verifyVerdict([{name: 'a', status: 'OK', detail: 'fine'}, {name: 'b', status: 'ALERT', detail: 'b broke'}, {name: 'c', status: 'ALERT', detail: 'c broke'}], 'all')).toEqual({status: 'ALERT', summary: 'b broke; c broke'})
    expect(verifyVerdict([{name: 'a', status: 'UNKNOWN', detail: 'no bus'}], 'all').status).toBe('UNKNOWN')
  })
})
