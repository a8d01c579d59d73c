import {closeSync, fstatSync, openSync, readFileSync, readSync, constants} from 'node:fs'
import {pidFileTrust} from '../core/protect.js'
import type {ProcessTable} from './proc-table.js'

/**
 * What a service's pid file names, and whether to believe it. A pid file is trusted only
 * when the process now holding that pid started before the file was last written; a
 * younger process got the pid after the service died (a reused pid), and acting on it
 * would hit an unrelated process.
 */
export type PidFileView =
  | {kind: 'none'; detail: string}
  | {kind: 'dead'; pid: number; detail: string}
  | {kind: 'stale'; pid: number; detail: string}
  | {kind: 'live'; pid: number; startTime: string; state: string; detail: string}

/** USER_HZ, the unit of /proc/<pid>/stat's start time: 100 on every architecture Linux runs on today (alpha, 1024, is gone). */
export const CLK_TCK = 100

function uptimeMs(): number | null {
  try {
    const n = Number(readFileSync('/proc/uptime', 'latin1').split(' ')[0])
    return Number.isFinite(n) ? n * 1000 : null
  } catch {
    return null
  }
}

export function readPidFile(path: string, procs: ProcessTable, wallNow: () => number = Date.now): PidFileView {
  let text: string
  let mtimeMs: number
  let fd: number
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK)
  } catch (e) {
    return {kind: 'none', detail: `${path}: ${(e as NodeJS.ErrnoException).code}`}
  }
  try {
    const st = fstatSync(fd)
    if (!st.isFile()) return {kind: 'none', detail: `${path} is not a regular file`}
    const buf = Buffer.alloc(Math.min(st.size, 64))
    text = buf.toString('latin1', 0, readSync(fd, buf, 0, buf.length, 0))
    mtimeMs = st.mtimeMs
  } catch (e) {
    return {kind: 'none', detail: `${path}: ${(e as NodeJS.ErrnoException).code}`}
  } finally {
    closeSync(fd)
  }
  const pid = Number(text.trim())
  if (!Number.isInteger(pid) || pid <= 1) return {kind: 'none', detail: `${path} holds no pid (${JSON.stringify(text.trim().slice(0, 20))})`}
  const st = procs.stat(pid)
  if (!st || st.state === 'Z' || st.state === 'X') return {kind: 'dead', pid, detail: `pid ${pid} from ${path} is not running`}
  const up = uptimeMs()
  if (up === null) return {kind: 'stale', pid, detail: `pid ${pid} from ${path}: /proc/uptime unreadable, so its start cannot be compared with the file; not trusted`}
  const t = pidFileTrust({startTicks: Number(st.startTime), clkTck: CLK_TCK, fileMtimeMs: mtimeMs, wallNowMs: wallNow(), uptimeMs: up})
  if (!t.trusted) {
    const after = Math.round((t.startedAtMs - mtimeMs) / 1000)
    return {kind: 'stale', pid, detail: `${path} is stale: pid ${pid} is now ${st.comm}, which started ${after > 0 ? `${after}s` : 'just'} after the file was written (a reused pid); not trusted, not signalled`}
  }
  return {kind: 'live', pid, startTime: st.startTime, state: st.state, detail: `pid ${pid} from ${path}, state ${st.state}`}
}
