import {writeFileSync} from 'node:fs'
import {performance} from 'node:perf_hooks'
import {expect, it} from 'vitest'
import {bootRealSystemd} from '../../test/helpers/real-systemd.js'
import {seed000Systemd} from '../../test/helpers/seed000-systemd.js'

/**
 * Seed 000 under a real systemd, default flags (5 s probe timeout, 3 s re-probe delay, 3
 * verify probes 1 s apart): time to GATEWAY_RECOVERED with --manager systemd, which knows
 * the unit has no processes and so that the port's holder is an orphan, against the same
 * incident repaired by a manager that cannot tell (--manager command restarting the unit
 * through systemctl), which waits out the probes as health did before — the reference,
 * measured in the same run, interleaved.
 */
it('seed 000 under a real systemd: time to RECOVERED', async () => {
  const runs = Number(process.env.BENCH_RUNS ?? 3)
  const rs = await bootRealSystemd()
  const out: {systemd: number[]; blind: number[]} = {systemd: [], blind: []}
  try {
    for (let i = 0; i < runs; i++) {
      for (const kind of ['systemd', 'blind'] as const) {
        const s = await seed000Systemd(rs, {unit: `gw${i}${kind}`, port: 18800 + i * 2 + (kind === 'blind' ? 1 : 0)})
        const how = kind === 'systemd' ? ['--manager', 'systemd', '--unit', s.unit] : ['--manager', 'command', '--restart-cmd', `systemctl restart ${s.unit}`]
        const t = performance.now()
        const r = await rs.medic(['health', ...how, '--port', String(s.port), '--url', `http://127.0.0.1:${s.port}/`, '--state-dir', `/var/lib/medic-bench-${i}-${kind}`])
        out[kind].push(performance.now() - t)
        expect(r.stdout).toMatch(/^GATEWAY_RECOVERED: /)
        if (kind === 'systemd') expect(r.stdout).toMatch(/ORPHAN_PROCESS/)
        await rs.sh(`systemctl stop ${s.unit}`)
      }
    }
  } finally {
    await rs.down()
  }
  writeFileSync(process.env.BENCH_OUT!, JSON.stringify(out))
})
