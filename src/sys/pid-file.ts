import {closeSync, constants, fstatSync, openSync, readFileSync, readSync} from 'node:fs'
import {dirname} from 'node:path'
import {pidFileTrust, pidFileFileProblem} from '../core/protect.js'
import type {ProcessTable} from './proc-table.js'

/**
 * What a service's pid file names, and whether to believe it (docs/contract.md §3.10).
 * A pid file is trusted only when:
 * - it is a regular file with one link, opened without following a symbolic link;
 * - it is owned by root or by the uid running the process it names, and so is its
 *   directory, which nobody else can write (unless it is sticky, like /tmp) — anyone
 *   else could have written any pid into it;
 * - its mtime is not in the future, and the process now holding that pid started before
 *   it was last written (a younger process got the pid after the service died).
 * The caller then checks the process is the service's (it holds the port, or runs the
 * start command): a pid file written in another pid namespace, or touched after the pid
 * was reused, passes the checks above and still names a stranger.
 */
export type PidFileView =
  | {kind: 'none'; detail: string}
  | {kind: 'dead'; pid: number; detail: string}
  | {kind: 'stale'; pid: number; detail: string}
  /** The file itself is not to be believed (a symlink, another user's, an unsafe directory, a future mtime). */
  | {kind: 'untrusted'; pid: number | null; detail: string}
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

function statDir(path: string): {uid: number; mode: number} | string {
  let fd: number
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_DIRECTORY)
  } catch (e) {
    return `${path}: ${(e as NodeJS.ErrnoException).code}`
  }
  try {
    const st = fstatSync(fd)
    return {uid: st.uid, mode: st.mode}
  } finally {
    closeSync(fd)
  }
}

export function readPidFile(path: string, procs: ProcessTable, wallNow: () => number = Date.now): PidFileView {
  let text: string
  let file: {uid: number; mode: number; nlink: number; mtimeMs: number}
  let fd: number
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ELOOP') return {kind: 'untrusted', pid: null, detail: `${path} is a symbolic link: not trusted, nothing signalled`}
    return {kind: 'none', detail: `${path}: ${code}`}
  }
  try {
    const st = fstatSync(fd)
    if (!st.isFile()) return {kind: 'none', detail: `${path} is not a regular file`}
    const buf = Buffer.alloc(Math.min(st.size, 64))
    text = buf.toString('latin1', 0, readSync(fd, buf, 0, buf.length, 0))
    file = {uid: st.uid, mode: st.mode, nlink: st.nlink, mtimeMs: st.mtimeMs}
  } catch (e) {
    return {kind: 'none', detail: `${path}: ${(e as NodeJS.ErrnoException).code}`}
  } finally {
    closeSync(fd)
  }
  const pid = Number(text.trim())
  if (!Number.isInteger(pid) || pid <= 1) return {kind: 'none', detail: `${path} holds no pid (${JSON.stringify(text.trim().slice(0, 20))})`}
  const st = procs.stat(pid)
  if (!st || st.state === 'Z' || st.state === 'X') return {kind: 'dead', pid, detail: `pid ${pid} from ${path} is not running`}
  const procUid = procs.realUid(pid)
  const dir = statDir(dirname(path))
  const problem = procUid === null ? `the owner of pid ${pid} cannot be read` : typeof dir === 'string' ? dir : pidFileFileProblem({file, dir, procUid, wallNowMs: wallNow()})
  if (problem) return {kind: 'untrusted', pid, detail: `${path} not trusted (${problem}); pid ${pid} (${st.comm}) not signalled`}
  const up = uptimeMs()
  if (up === null) return {kind: 'stale', pid, detail: `pid ${pid} from ${path}: /proc/uptime unreadable, so its start cannot be compared with the file; not trusted`}
  const t = pidFileTrust({startTicks: Number(st.startTime), clkTck: CLK_TCK, fileMtimeMs: file.mtimeMs, wallNowMs: wallNow(), uptimeMs: up})
  if (!t.trusted) {
    const after = Math.round((t.startedAtMs - file.mtimeMs) / 1000)
    return {kind: 'stale', pid, detail: `${path} is stale: pid ${pid} is now ${st.comm}, which started ${after > 0 ? `${after}s` : 'just'} after the file was written (a reused pid); not trusted, not signalled`}
  }
  return {kind: 'live', pid, startTime: st.startTime, state: st.state, detail: `pid ${pid} from ${path}, state ${st.state}`}
}
