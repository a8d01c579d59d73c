import {join} from 'node:path'
import {SERVICE, until} from './procs.js'
import type {RealSystemd, User} from './real-systemd.js'

export interface Seed000 {
  unit: string
  port: number
  /** The orphan holding the port (pid inside = pid on the host: nsenter'd processes keep one pid per namespace level; this is the namespace's). */
  orphanPid: number
  unitPath: string
  /** Arguments of `systemctl` for this manager (`--user` for a user unit). */
  sc: string[]
}

/**
 * Seed 000 on a real systemd: the gateway unit (Restart=always, no start limit) lost its
 * port to an orphan that keeps the listening socket and never answers (accepts into the
 * backlog, never replies), so the unit loops on EADDRINUSE — `activating (auto-restart)`,
 * MainPID=0, an empty ControlGroup=. With `user`, the unit is that lingering user's.
 * `stale`: the unit file is edited after the last daemon-reload (NeedDaemonReload=yes).
 */
export async function seed000Systemd(rs: RealSystemd, o: {unit?: string; port?: number; user?: User; stale?: boolean} = {}): Promise<Seed000> {
  const unit = o.unit ?? 'clawdbot-gateway'
  const port = o.port ?? 18789
  const u = o.user
  const sc = u ? ['--user'] : []
  const dir = u ? `${u.home}/.config/systemd/user` : '/etc/systemd/system'
  const unitPath = `${dir}/${unit}.service`
  const text = (gen: number) => `[Unit]\nDescription=seed-000 gateway (medic test)\nStartLimitIntervalSec=0\n\n[Service]\nEnvironment=GEN=${gen}\nExecStart=${process.execPath} ${SERVICE} --port ${port}\nRestart=always\nRestartSec=1\n`
  await rs.sh(`mkdir -p "${dir}"`)
  await rs.writeFile(unitPath, text(1))
  if (u) await rs.sh(`chown -R ${u.uid}:${u.gid} "${u.home}/.config"`)
  const as = {user: u}
  await rs.sh(`systemctl ${sc.join(' ')} daemon-reload && systemctl ${sc.join(' ')} start ${unit}`, as)
  await until(`${unit} active`, async () => (await rs.exec(['systemctl', ...sc, 'is-active', unit], as)).stdout.trim() === 'active')
  await rs.sh(`systemctl ${sc.join(' ')} stop ${unit}`, as)
  // The orphan: outside every unit's cgroup, holding the port, never answering.
  const orphanReady = join(rs.share, `${unit}-${u?.name ?? 'root'}-orphan.json`)
  await rs.spawnDetached([process.execPath, SERVICE, '--port', String(port), '--orphan', '--wedge', '--ready', orphanReady], {user: u})
  const {readFileSync} = await import('node:fs')
  const orphan = await until('the orphan', () => {
    try {
      const r = JSON.parse(readFileSync(orphanReady, 'utf8')) as {pid: number; wedged?: boolean}
      return r.wedged ? r : null
    } catch {
      return null
    }
  })
  await rs.sh(`systemctl ${sc.join(' ')} start --no-block ${unit}`, as)
  const restarts = async (): Promise<number | null> => {
    const r = await rs.exec(['systemctl', ...sc, 'show', unit, '-p', 'SubState', '-p', 'NRestarts'], as)
    const n = /^NRestarts=(\d+)$/m.exec(r.stdout)
    return /^SubState=auto-restart$/m.test(r.stdout) && n ? Number(n[1]) : null
  }
  await until(`${unit} in its restart loop`, async () => {
    const n = await restarts()
    return n !== null && n >= 1 ? n : null
  }, 30_000)
  // Held in auto-restart: with RestartSec=1 the unit spent part of every second starting a node
  // that had not yet failed (MainPID set), and on a loaded host health sometimes looked then
  // (UNRESPONSIVE, not GATEWAY_DEAD). A drop-in makes the wait an hour: systemd re-arms the
  // restart timer of a unit in auto-restart on daemon-reload (from when it went inactive), and
  // a start under way fails into the same hour-long wait. The unit then stays in the state the
  // incident is about, whenever health looks.
  await rs.sh(`mkdir -p "${unitPath}.d"`)
  await rs.writeFile(`${unitPath}.d/hold.conf`, '[Service]\nRestartSec=1h\n')
  if (u) await rs.sh(`chown -R ${u.uid}:${u.gid} "${u.home}/.config"`)
  await rs.sh(`systemctl ${sc.join(' ')} daemon-reload`, as)
  await until(`${unit} held in auto-restart`, async () => (await restarts()) !== null || null, 30_000)
  // Edited while loaded (a stopped unit is unloaded and re-read on start).
  if (o.stale) await rs.writeFile(unitPath, text(2))
  return {unit, port, orphanPid: orphan.pid, unitPath, sc}
}
