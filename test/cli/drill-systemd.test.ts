import {describe, expect, it} from 'vitest'
import {crashDropIn} from '../../src/core/drill.js'
import {BIN, expectContract, SERVICE} from '../helpers/procs.js'
import {announceRealSystemdSkip, realSystemdSkip, useRealSystemd, type RealSystemd} from '../helpers/real-systemd.js'

/**
 * `medic drill` against a real systemd 252 (PID 1 of private namespaces): the faults are
 * real, the recovery is systemd's own Restart=, or medic's protection running as units.
 */
announceRealSystemdSkip('medic drill against a real systemd')

const NODE = process.execPath
const MEDIC = BIN

// Supervise probes from its child's first moment: interval × failures (refused probes fail at
// once) is the time a new child has to answer. 200ms × 2 killed the new children of a loaded
// host before they listened; 500ms × 10 gives 5 s and still replaces a stopped child in ~8 s.
async function waitInside(rs: RealSystemd, what: string, script: string, ms = 60_000): Promise<void> {
  const end = Date.now() + ms
  for (;;) {
    const r = await rs.exec(['/bin/sh', '-c', script])
    if (r.code === 0) return
    if (Date.now() > end) throw new Error(`inside ${rs.name}: ${what} not within ${ms}ms (${r.stdout}${r.stderr})`)
    await new Promise((res) => setTimeout(res, 50))
  }
}

const answers = (port: number) => `curl -sf -m 1 http://127.0.0.1:${port}/health >/dev/null`

async function unit(rs: RealSystemd, name: string, service: string[], opts: {unit?: string[]; port: number}): Promise<void> {
  await rs.writeFile(`/etc/systemd/system/${name}.service`, [
    '[Unit]', ...(opts.unit ?? []),
    '[Service]', ...service, '',
  ].join('\n'))
  await rs.sh(`systemctl daemon-reload && systemctl restart ${name}`)
  await waitInside(rs, `${name} answers`, answers(opts.port))
}

const gw = (port: number) => `ExecStart=${NODE} ${SERVICE} --port ${port}`
const helperLeft = (rs: RealSystemd) => rs.exec(['/bin/sh', '-c', "pgrep -f 'medic-drill-[s]quatter|medic-drill-[g]uard' && exit 1 || exit 0"])

describe.skipIf(realSystemdSkip())('medic drill against a real systemd', () => {
  const rs = useRealSystemd()

  it('kill on a Restart=always unit: systemd restarts it → DRILL_OK with the time, a new MainPID', async () => {
    await unit(rs(), 'gw-kill', [gw(18701), 'Restart=always', 'RestartSec=200ms'], {port: 18701})
    const before = (await rs().sh('systemctl show -p MainPID --value gw-kill')).trim()
    const r = await rs().medic(['drill', 'kill', '--unit', 'gw-kill', '--port', '18701', '--url', 'http://127.0.0.1:18701/health', '--within', '20s', '--interval', '50ms', '--json'])
    const v = JSON.parse(r.stdout)
    expect(v, r.stderr).toMatchObject({token: 'DRILL_OK', exitCode: 0, recoveredInMs: expect.any(Number)})
    expect(v.recoveredInMs).toBeGreaterThanOrEqual(200) // RestartSec
    const after = (await rs().sh('systemctl show -p MainPID --value gw-kill')).trim()
    expect(after).not.toBe(before)
    expect(v.summary).toMatch(new RegExp(`^kill: recovered in \\S+: MainPID ${before} → ${after}, answers \\(systemd unit gw-kill \\(Restart=always, RestartSec=200ms\\)\\)$`))
  })

  it('squat on the hardened unit (ExecStartPre=medic cleanup --port): the squatter is freed at the next start → DRILL_OK', async () => {
    await unit(rs(), 'gw-squat', [`ExecStartPre=${NODE} ${MEDIC} cleanup --port 18702 --grace 1s --exit-codes binary`, gw(18702), 'Restart=always', 'RestartSec=200ms'], {port: 18702, unit: ['StartLimitIntervalSec=0']})
    const r = await rs().medic(['drill', 'squat', '--unit', 'gw-squat', '--port', '18702', '--url', 'http://127.0.0.1:18702/health', '--within', '20s', '--interval', '50ms'])
    expectContract(r, 'DRILL_OK')
    expect(r.lines[0]).toMatch(/^DRILL_OK: squat: recovered in \S+: MainPID \d+ → \d+, answers/)
    expect((await helperLeft(rs())).code).toBe(0)
  })

  it('squat on a bare Restart=always unit: the seed-000 loop, DRILL_ALERT naming the squatter and the unit state; squatter gone after', async () => {
    await unit(rs(), 'gw-bare', [gw(18703), 'Restart=always', 'RestartSec=100ms'], {port: 18703, unit: ['StartLimitIntervalSec=0']})
    const r = await rs().medic(['drill', 'squat', '--unit', 'gw-bare', '--port', '18703', '--within', '2s', '--interval', '50ms', '--json'])
    const v = JSON.parse(r.stdout)
    expect(v.token).toBe('DRILL_ALERT')
    expect(v.summary).toMatch(/^squat: not recovered within 2s: the squatter still holds the port; protection seen: systemd unit gw-bare \(Restart=always, RestartSec=100ms\); restored \(kill squatter\); saw unit [a-z]+ \([a-z-]+\), MainPID \d+; port held by pid \d+ \(node\) = the squatter$/)
    expect((await helperLeft(rs())).code).toBe(0)
    // The port is free again: the unit's own restarts take it back.
    await waitInside(rs(), 'gw-bare back', answers(18703))
  })

  it('stop on a Restart=always unit: systemd never notices a stopped process → DRILL_ALERT, resumed after', async () => {
    await unit(rs(), 'gw-stop', [gw(18704), 'Restart=always'], {port: 18704})
    const pid = (await rs().sh('systemctl show -p MainPID --value gw-stop')).trim()
    const r = await rs().medic(['drill', 'stop', '--unit', 'gw-stop', '--port', '18704', '--url', 'http://127.0.0.1:18704/health', '--within', '1s', '--interval', '50ms', '--probe-timeout', '200ms'])
    expectContract(r, 'DRILL_ALERT')
    expect(r.lines[0]).toMatch(new RegExp(`^DRILL_ALERT: stop: not recovered within 1s: pid ${pid} is still stopped; protection seen: systemd unit gw-stop \\(Restart=always`))
    expect((await rs().sh(`ps -o stat= -p ${pid}`)).trim()).toMatch(/^[RS]/)
    await waitInside(rs(), 'gw-stop answers', answers(18704))
  })

  it('stop under medic supervise running as a unit: the supervisor replaces the stopped child → DRILL_OK', async () => {
    await unit(rs(), 'gw-sup', [`ExecStart=${NODE} ${MEDIC} supervise --name gw --state-dir /var/lib/medic-drill --port 18705 --health-url http://127.0.0.1:18705/health --probe-interval 500ms --probe-timeout 300ms --probe-failures 10 --min-uptime 500ms --grace 1s -- ${NODE} ${SERVICE} --port 18705`, 'Restart=always', 'KillMode=control-group'], {port: 18705})
    await waitInside(rs(), 'the supervisor settled', `${NODE} -e "process.exit(require('/var/lib/medic-drill/supervise/gw.json').stable ? 0 : 1)"`)
    const r = await rs().medic(['drill', 'stop', '--port', '18705', '--url', 'http://127.0.0.1:18705/health', '--within', '60s', '--interval', '50ms'])
    expectContract(r, 'DRILL_OK')
    expect(r.lines[0]).toMatch(/^DRILL_OK: stop: recovered in \S+: pid \d+ killed, new pid \d+ \(node\) on port 18705, answers \(medic supervise pid \d+\)$/)
  }, 120_000)

  it('crash-loop with a runtime drop-in: each start fails, then the drop-in goes and systemd brings it back → DRILL_OK', async () => {
    await unit(rs(), 'gw-loop', [gw(18706), 'Restart=always', 'RestartSec=100ms'], {port: 18706, unit: ['StartLimitIntervalSec=0']})
    const r = await rs().medic(['drill', 'crash-loop', '--unit', 'gw-loop', '--port', '18706', '--hold', '1s', '--within', '20s', '--interval', '50ms', '--json'])
    const v = JSON.parse(r.stdout)
    expect(v, r.stderr).toMatchObject({token: 'DRILL_OK', recoveredInMs: expect.any(Number)})
    expect(v.recoveredInMs).toBeGreaterThanOrEqual(1000) // --hold
    expect(v.actions.map((a: {action: string}) => a.action)).toEqual(['drop-in', 'daemon-reload', 'SIGKILL', 'hold', 'remove-drop-in', 'daemon-reload'])
    expect((await rs().exec(['test', '-e', '/run/systemd/system/gw-loop.service.d'])).code).toBe(1)
    const nrestarts = Number((await rs().sh('systemctl show -p NRestarts --value gw-loop')).trim())
    expect(nrestarts).toBeGreaterThanOrEqual(2) // a start failed while the drop-in was there, a later one succeeded
    expect(await rs().sh('journalctl -u gw-loop -o cat --no-pager')).toMatch(/Control process exited, code=exited, status=1\/FAILURE/)
  })

  it('crash-loop on a unit with a start limit: systemd gives up (start request repeated too quickly) → DRILL_ALERT naming the failed unit; drop-in removed', async () => {
    // Two starts a minute: the third failing start within --hold is refused, whatever the load.
    await unit(rs(), 'gw-limit', [gw(18707), 'Restart=always', 'RestartSec=100ms'], {port: 18707, unit: ['StartLimitIntervalSec=60s', 'StartLimitBurst=2']})
    const r = await rs().medic(['drill', 'crash-loop', '--unit', 'gw-limit', '--port', '18707', '--hold', '3s', '--within', '5s', '--interval', '50ms'])
    expectContract(r, 'DRILL_ALERT')
    expect(r.lines[0]).toMatch(/^DRILL_ALERT: crash-loop: not recovered within 5s: the unit is failed \(failed\); protection seen: systemd unit gw-limit/)
    expect((await rs().exec(['test', '-e', '/run/systemd/system/gw-limit.service.d'])).code).toBe(1)
    expect((await rs().sh('systemctl show -p ActiveState --value gw-limit')).trim()).toBe('failed')
    expect(await rs().sh('journalctl -u gw-limit -o cat --no-pager')).toMatch(/Start request repeated too quickly/)
    expect((await rs().sh('systemctl cat gw-limit')).trim()).not.toMatch(/ExecStartPre/)
  })

  it('the judged scenario: install a gateway health timer (and its hardening) and a supervise service, verify OK; drill squat, kill and stop each DRILL_OK within --within; verify OK after', async () => {
    await rs().writeFile('/etc/systemd/system/clawdbot-gateway.service', `[Unit]\nDescription=the gateway (medic drill test)\n\n[Service]\n${gw(18789)}\nRestart=always\n\n[Install]\nWantedBy=multi-user.target\n`)
    await rs().sh('systemctl daemon-reload && systemctl enable --now clawdbot-gateway')
    await waitInside(rs(), 'the gateway answers', answers(18789))
    const url = 'http://127.0.0.1:18789/health'
    const health = await rs().medic(['install', '--every', '2s', '--unit', 'clawdbot-gateway', '--', 'health', '--manager', 'systemd', '--unit', 'clawdbot-gateway', '--port', '18789', '--url', url,
      '--probe-timeout', '1s', '--reprobe-delay', '300ms', '--verify-interval', '200ms', '--verify-probes', '2', '--grace', '1s', '--max-repairs', '20'])
    expectContract(health, 'INSTALL_OK')
    const sup = await rs().medic(['install', '--name', 'gateway2', '--', 'supervise', '--name', 'gateway2', '--port', '18790', '--health-url', 'http://127.0.0.1:18790/health',
      '--probe-interval', '500ms', '--probe-timeout', '300ms', '--probe-failures', '10', '--min-uptime', '500ms', '--grace', '1s', '--', NODE, SERVICE, '--port', '18790'])
    expectContract(sup, 'INSTALL_OK')
    await waitInside(rs(), 'the supervised gateway answers', answers(18790))
    expectContract(await rs().medic(['verify']), 'INSTALL_OK')

    const times: Record<string, number> = {}
    for (const kind of ['squat', 'kill', 'stop']) {
      const r = await rs().medic(['drill', kind, '--name', 'gateway', '--unit', 'clawdbot-gateway', '--port', '18789', '--url', url, '--within', '60s', '--json'])
      const v = JSON.parse(r.stdout)
      expect(v, `${kind}: ${r.stdout} ${r.stderr}`).toMatchObject({token: 'GATEWAY_OK', exitCode: 0, recoveredInMs: expect.any(Number)})
      expect(v.guards).toEqual(['systemd unit clawdbot-gateway (Restart=always, RestartSec=100ms)', 'medic-health-gateway.timer (health every 2s)', "health-gateway's drop-in on clawdbot-gateway.service (ExecStartPre=medic cleanup)"])
      times[`unit ${kind}`] = v.recoveredInMs
      await waitInside(rs(), 'the gateway settled', answers(18789))
    }
    for (const kind of ['squat', 'kill', 'stop']) {
      const r = await rs().medic(['drill', kind, '--name', 'gateway2', '--port', '18790', '--url', 'http://127.0.0.1:18790/health', '--within', '60s', '--json'])
      const v = JSON.parse(r.stdout)
      expect(v, `${kind}: ${r.stdout} ${r.stderr}`).toMatchObject({token: 'GATEWAY2_OK', exitCode: 0, recoveredInMs: expect.any(Number)})
      expect(v.guards).toEqual([expect.stringMatching(/^medic supervise pid \d+$/), 'medic-gateway2.service (supervise)'])
      times[`supervise ${kind}`] = v.recoveredInMs
    }
    console.log(`drill recovery times (ms): ${JSON.stringify(times)}`)
    expect((await helperLeft(rs())).code).toBe(0)
    await waitInside(rs(), 'both answer', `${answers(18789)} && ${answers(18790)}`)
    expectContract(await rs().medic(['verify']), 'INSTALL_OK')
    for (const name of ['health-gateway', 'gateway2']) expectContract(await rs().medic(['uninstall', '--name', name]), 'INSTALL_OK')
  }, 420_000) // six drills of --within 60s and two installs: 12 s idle, over 30 s loaded; a safety net above the drills' own deadlines

  it('--port of another service than --unit: DRILL_UNKNOWN naming both, nothing injected into either', async () => {
    await unit(rs(), 'gw-a', [gw(18708), 'Restart=always', 'RestartSec=100ms'], {port: 18708})
    await unit(rs(), 'gw-b', [gw(18709), 'Restart=always', 'RestartSec=100ms'], {port: 18709})
    const show = async (u: string) => (await rs().sh(`systemctl show -p MainPID -p NRestarts -p ControlGroup ${u}`)).trim()
    const [a, b] = [await show('gw-a'), await show('gw-b')]
    const bPid = /MainPID=(\d+)/.exec(b)![1]
    for (const kind of ['kill', 'stop', 'squat', 'crash-loop']) {
      const r = await rs().medic(['drill', kind, '--unit', 'gw-a', '--port', '18709', '--within', '5s', '--hold', '1s', '--json'].filter((w, i, all) => kind === 'crash-loop' || (w !== '--hold' && all[i - 1] !== '--hold')))
      const v = JSON.parse(r.stdout)
      expect(v, `${kind}: ${r.stdout} ${r.stderr}`).toMatchObject({token: 'DRILL_UNKNOWN', exitCode: 3, actions: []})
      expect(v.summary).toBe(`${kind}: --port 18709 does not belong to unit gw-a: its listener pid ${bPid} (node) is in /system.slice/gw-b.service; nothing injected`)
    }
    // Neither service was touched: same MainPIDs, no restarts, no drop-in.
    expect(await show('gw-a')).toBe(a)
    expect(await show('gw-b')).toBe(b)
    expect((await rs().exec(['test', '-e', '/run/systemd/system/gw-a.service.d'])).code).toBe(1)
    // The unit's own port passes the check.
    const ok = await rs().medic(['drill', 'kill', '--unit', 'gw-a', '--port', '18708', '--within', '20s', '--interval', '50ms'])
    expectContract(ok, 'DRILL_OK')
  })

  // F5: a drill SIGKILLed mid crash-loop must not leave the unit altered: its dead-man guard
  // lives in a scope of its own (outside the drill's process group and cgroup), sees medic's
  // pipe close, removes exactly the drop-in medic wrote and daemon-reloads.
  it.each([
    ['its process group', 18710, async (r: RealSystemd, tag: string) => {
      await r.spawnDetached([NODE, MEDIC, 'drill', 'crash-loop', '--unit', tag, '--port', '18710', '--hold', '50s', '--within', '60s'])
      // Its own session (setsid), so its process group is its pid; the [g] keeps pgrep off this shell.
      return async () => void await r.sh(`pid=$(pgrep -f 'run[.]js drill crash-loop --unit [g]w-dead18710') && kill -KILL -$pid`)
    }],
    ['the unit it runs in (KillMode=control-group kills every process of its cgroup)', 18711, async (r: RealSystemd, tag: string) => {
      await r.sh(`systemd-run --quiet --unit ${tag}-drill -- ${NODE} ${MEDIC} drill crash-loop --unit ${tag} --port 18711 --hold 50s --within 60s`)
      return async () => void await r.sh(`systemctl kill --signal=KILL ${tag}-drill`)
    }],
  ] as const)('crash-loop drill SIGKILLed through %s: the guard removes its drop-in, daemon-reloads, the unit comes back', async (_how, port, start) => {
    const tag = `gw-dead${port}`
    const conf = `/run/systemd/system/${tag}.service.d/90-medic-drill.conf`
    await unit(rs(), tag, [gw(port), 'Restart=always', 'RestartSec=100ms'], {port, unit: ['StartLimitIntervalSec=0']})
    const kill = await start(rs(), tag)
    // The fault is in place: the drop-in is there and a start has failed on it.
    await waitInside(rs(), 'the drop-in and a failed start', `test -f ${conf} && journalctl -u ${tag} -o cat --no-pager | grep -q 'status=1/FAILURE'`)
    await kill()
    // The guard acts on the pipe closing: the drop-in goes, systemd forgets it, Restart= brings the unit back.
    await waitInside(rs(), 'the drop-in removed', `! test -e ${conf}`, 30_000)
    await waitInside(rs(), `${tag} active and answering`, `systemctl is-active -q ${tag} && ${answers(port)}`, 30_000)
    expect(await rs().sh(`systemctl cat ${tag}`)).not.toMatch(/ExecStartPre=\/bin\/false/)
    expect((await rs().sh(`systemctl show -p DropInPaths --value ${tag}`)).trim()).toBe('')
    await waitInside(rs(), 'no drill helper left', "! pgrep -f 'medic-drill-[g]uard|medic-drill-[s]quatter'", 30_000)
  }, 120_000)

  it('stop drill SIGKILLed through the unit it runs in: the guard, in its own scope, resumes the stopped process', async () => {
    await unit(rs(), 'gw-frozen', [gw(18713), 'Restart=always'], {port: 18713})
    const pid = (await rs().sh('systemctl show -p MainPID --value gw-frozen')).trim()
    await rs().sh(`systemd-run --quiet --unit gw-frozen-drill -- ${NODE} ${MEDIC} drill stop --unit gw-frozen --port 18713 --within 60s`)
    await waitInside(rs(), 'the service stopped by the drill', `ps -o stat= -p ${pid} | grep -q '^T'`)
    await rs().sh('systemctl kill --signal=KILL gw-frozen-drill')
    await waitInside(rs(), 'the service resumed', `ps -o stat= -p ${pid} | grep -q '^[RS]'`, 30_000)
    await waitInside(rs(), 'it answers, same pid', `${answers(18713)} && [ "$(systemctl show -p MainPID --value gw-frozen)" = ${pid} ]`, 30_000)
   }, 90_000)

  it('a drop-in left by a dead drill is removed by the next drill of the unit (said so); one medic did not write exactly, or a live drill\'s, is left alone: DRILL_UNKNOWN', async () => {
    await unit(rs(), 'gw-stale', [gw(18712), 'Restart=always', 'RestartSec=100ms'], {port: 18712, unit: ['StartLimitIntervalSec=0']})
    const conf = '/run/systemd/system/gw-stale.service.d/90-medic-drill.conf'
    // A process that has exited: its pid and start time name nobody now.
    const dead = (await rs().sh('sh -c \'echo $$ $(cut -d" " -f22 /proc/$$/stat)\'')).trim().split(' ')
    await rs().sh(`mkdir -p /run/systemd/system/gw-stale.service.d`)
    // Not exactly what medic writes (one more line): left alone, the drill refuses.
    await rs().writeFile(conf, crashDropIn('crash-loop', Number(dead[0]), dead[1]) + 'Environment=X=1\n')
    const foreign = await rs().medic(['drill', 'kill', '--unit', 'gw-stale', '--port', '18712', '--within', '20s'])
    expectContract(foreign, 'DRILL_UNKNOWN')
    expect(foreign.lines[0]).toMatch(/^DRILL_UNKNOWN: kill: \/run\/systemd\/system\/gw-stale\.service\.d\/90-medic-drill\.conf is not a drop-in medic drill wrote: left alone/)
    expect(await rs().readFile(conf)).toMatch(/Environment=X=1/)
    // A live drill's (this shell's pid and start time): left alone too.
    const live = (await rs().sh('cat /proc/1/stat | cut -d" " -f22')).trim()
    await rs().writeFile(conf, crashDropIn('crash-loop', 1, live))
    const busy = await rs().medic(['drill', 'kill', '--unit', 'gw-stale', '--port', '18712', '--within', '20s'])
    expectContract(busy, 'DRILL_UNKNOWN')
    expect(busy.lines[0]).toMatch(/^DRILL_UNKNOWN: kill: another drill \(pid 1\) still owns .*90-medic-drill\.conf/)
    // The dead drill's exact drop-in: removed, daemon-reloaded, said so; then the drill runs.
    await rs().writeFile(conf, crashDropIn('crash-loop', Number(dead[0]), dead[1]))
    await rs().sh('systemctl daemon-reload')
    const r = await rs().medic(['drill', 'kill', '--unit', 'gw-stale', '--port', '18712', '--within', '20s', '--interval', '50ms', '--json'])
    const v = JSON.parse(r.stdout)
    expect(v, r.stderr).toMatchObject({token: 'DRILL_OK'})
    expect(v.actions[0]).toMatchObject({action: 'remove-drop-in', target: 'gw-stale', result: expect.stringMatching(new RegExp(`^left by a drill that is gone \\(pid ${dead[0]}\\): removed ${conf}; systemctl daemon-reload: ok`))})
    expect((await rs().exec(['test', '-e', conf])).code).toBe(1)
  })

  it('a unit that auto-restarts (MainPID=0) is not running: DRILL_ALERT, nothing injected', async () => {
    await rs().writeFile('/etc/systemd/system/gw-dead.service', `[Unit]\nStartLimitIntervalSec=0\n[Service]\nExecStart=/bin/false\nRestart=always\nRestartSec=30s\n`)
    await rs().sh('systemctl daemon-reload && systemctl start gw-dead || true')
    await waitInside(rs(), 'auto-restart', 'systemctl show -p SubState --value gw-dead | grep -q auto-restart')
    const r = await rs().medic(['drill', 'kill', '--unit', 'gw-dead'])
    expectContract(r, 'DRILL_ALERT')
    expect(r.lines[0]).toBe('DRILL_ALERT: kill: unit gw-dead has no main process (activating (auto-restart)): the service is not running; nothing injected')
  })
})
