import {existsSync} from 'node:fs'
import {join} from 'node:path'
import {readPidFile} from '../pid-file.js'
import {commandManager} from './command.js'
import {dockerManager} from './docker.js'
import {noManager} from './none.js'
import {pm2Manager} from './pm2.js'
import type {ManagerKind, ManagerOptions, ServiceManager} from './service-manager.js'
import {superviseManager} from './supervise.js'
import {systemdManager} from './systemd.js'

/**
 * `--manager auto`: the first that knows the service, in this order, and what was tried
 * when none does. pm2 is asked only when its daemon already runs (`pm2 jlist` would start one).
 */
export async function detectManager(o: ManagerOptions): Promise<{manager: ServiceManager; tried: string[]}> {
  const tried: string[] = []
  if (o.startCmd || o.restartCmd) return {manager: commandManager(o), tried: ['command (--start-cmd/--restart-cmd given)']}
  const sup = superviseManager(o)
  const ss = await sup.status()
  if (ss.available) return {manager: sup, tried}
  tried.push(`supervise: ${ss.reason}`)
  if (existsSync('/run/systemd/system')) {
    const m = systemdManager(o, false)
    const st = await m.status()
    if (st.available) return {manager: m, tried}
    tried.push(`systemd: ${st.reason}`)
  } else tried.push('systemd: not the init system here')
  const uid = process.getuid?.() ?? 0
  const runtime = process.env.XDG_RUNTIME_DIR ?? `/run/user/${uid}`
  if (existsSync(join(runtime, 'bus')) || existsSync(join(runtime, 'systemd'))) {
    const m = systemdManager(o, true)
    const st = await m.status()
    if (st.available) return {manager: m, tried}
    tried.push(`systemd-user: ${st.reason}`)
  } else tried.push('systemd-user: no user bus')
  const pm2Home = process.env.PM2_HOME ?? join(process.env.HOME ?? '/root', '.pm2')
  if (readPidFile(join(pm2Home, 'pm2.pid'), o.procs).kind === 'live') {
    const m = pm2Manager(o)
    const st = await m.status()
    if (st.available) return {manager: m, tried}
    tried.push(`pm2: ${st.reason}`)
  } else tried.push('pm2: no pm2 daemon')
  if (existsSync('/var/run/docker.sock') || process.env.DOCKER_HOST) {
    const m = dockerManager(o)
    const st = await m.status()
    if (st.available) return {manager: m, tried}
    tried.push(`docker: ${st.reason}`)
  } else tried.push('docker: no docker daemon socket')
  return {manager: noManager(`no manager found (${tried.join('; ')})`), tried}
}

export function makeManager(kind: ManagerKind, o: ManagerOptions): ServiceManager | null {
  switch (kind) {
    case 'systemd': return systemdManager(o, false)
    case 'systemd-user': return systemdManager(o, true)
    case 'pm2': return pm2Manager(o)
    case 'docker': return dockerManager(o)
    case 'command': return commandManager(o)
    case 'supervise': return superviseManager(o)
    case 'none': return noManager('no manager (--manager none): check only')
    default: return null
  }
}
