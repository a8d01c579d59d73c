import {existsSync, mkdirSync, readFileSync, rmdirSync, unlinkSync} from 'node:fs'
import {join} from 'node:path'
import {parseSystemctlShow} from '../core/manager-parse.js'
import {unitFileName} from '../core/units.js'
import {describeExec, run} from './exec.js'
import {writeFileAtomic} from './state-store.js'

/**
 * A systemd unit as `medic drill` needs it: its properties, `daemon-reload`, and a
 * runtime drop-in (under /run/systemd/system, so a reboot removes it even if medic
 * could not) that medic writes and removes itself, never touching the user's unit file.
 */
export interface SystemdUnits {
  show(unit: string, props: string[], timeoutMs: number): Promise<{ok: true; props: Record<string, string>} | {ok: false; reason: string}>
  daemonReload(timeoutMs: number): Promise<{ok: boolean; detail: string}>
  /** Writes `<unit>.d/<file>`; refuses (ok: false) when the file exists and was not written by medic drill. */
  writeDropIn(unit: string, file: string, text: string): {ok: boolean; detail: string}
  /** Removes it if it exists and is medic's; `removed: false` when there was nothing, or it is someone else's (left alone). */
  removeDropIn(unit: string, file: string): {ok: boolean; removed: boolean; detail: string}
  dropInExists(unit: string, file: string): boolean
}

export const DROP_IN_MARK = '# Written by medic drill'

export {unitFileName}

export function makeSystemdUnits(root = '/run/systemd/system'): SystemdUnits {
  const dir = (unit: string) => join(root, `${unitFileName(unit)}.d`)
  /** Drop-in directories this process created: removed again once empty. */
  const created = new Set<string>()
  const ours = (path: string) => {
    try {
      return readFileSync(path, 'utf8').startsWith(DROP_IN_MARK)
    } catch {
      return false
    }
  }
  return {
    async show(unit, props, timeoutMs) {
      const r = await run(['systemctl', 'show', unit, '--no-pager', '-p', props.join(',')], {timeoutMs})
      if (r.missing) return {ok: false, reason: 'systemctl not found'}
      if (r.code !== 0 || r.timedOut) return {ok: false, reason: `systemctl show ${unit}: ${(r.stderr.trim().split('\n')[0] || describeExec(r)).slice(0, 160)}`}
      return {ok: true, props: parseSystemctlShow(r.stdout)}
    },
    async daemonReload(timeoutMs) {
      const r = await run(['systemctl', 'daemon-reload'], {timeoutMs})
      return {ok: r.code === 0 && !r.timedOut && !r.missing, detail: `systemctl daemon-reload: ${describeExec(r)}`}
    },
    writeDropIn(unit, file, text) {
      const path = join(dir(unit), file)
      if (existsSync(path) && !ours(path)) return {ok: false, detail: `${path} exists and medic did not write it`}
      try {
        if (!existsSync(dir(unit))) created.add(dir(unit))
        mkdirSync(dir(unit), {recursive: true, mode: 0o755})
        writeFileAtomic(path, text)
        return {ok: true, detail: `wrote ${path}`}
      } catch (e) {
        return {ok: false, detail: `cannot write ${path}: ${(e as Error).message}`}
      }
    },
    removeDropIn(unit, file) {
      const path = join(dir(unit), file)
      if (!existsSync(path)) return {ok: true, removed: false, detail: `${path} absent`}
      if (!ours(path)) return {ok: true, removed: false, detail: `${path} was not written by medic drill; left alone`}
      try {
        unlinkSync(path)
      } catch (e) {
        return {ok: false, removed: false, detail: `cannot remove ${path}: ${(e as Error).message}`}
      }
      if (created.delete(dir(unit))) {
        try {
          rmdirSync(dir(unit)) // only when empty: a drop-in someone added meanwhile stays
        } catch {}
      }
      return {ok: true, removed: true, detail: `removed ${path}`}
    },
    dropInExists(unit, file) {
      return existsSync(join(dir(unit), file))
    },
  }
}
