import {existsSync, lstatSync, readFileSync, rmdirSync} from 'node:fs'
import {join} from 'node:path'
import {parseSystemctlShow} from '../core/manager-parse.js'
import {unitFileName} from '../core/units.js'
import {describeExec, run} from './exec.js'
import {ensureDir, FileError, identify, removeJudged, writeNew} from './file-gate.js'

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
  /**
   * Removes it if it exists and is medic's — with `exact`, only if its content is byte for
   * byte that text; `removed: false` when there was nothing, or it is someone else's (left alone).
   */
  removeDropIn(unit: string, file: string, exact?: string): {ok: boolean; removed: boolean; detail: string}
  dropInExists(unit: string, file: string): boolean
  /** Its path, whether or not it exists. */
  dropInPath(unit: string, file: string): string
  /** Its text if it is a regular file (never through a symlink); null when absent or not one. */
  readDropIn(unit: string, file: string): string | null
}

export const DROP_IN_MARK = '# Written by medic drill'

export {unitFileName}

export function makeSystemdUnits(root = '/run/systemd/system'): SystemdUnits {
  const dir = (unit: string) => join(root, `${unitFileName(unit)}.d`)
  /** Drop-in directories this process created: removed again once empty. */
  const created = new Set<string>()
  /** A regular file (never through a symlink) that starts with medic drill's mark. */
  const read = (path: string) => {
    try {
      return lstatSync(path).isFile() ? readFileSync(path, 'utf8') : null
    } catch {
      return null
    }
  }
  const ours = (path: string, exact?: string) => {
    const text = read(path)
    return text !== null && (exact === undefined ? text.startsWith(DROP_IN_MARK) : text === exact)
  }
  const present = (path: string) => identify(path) !== null
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
    // Both through the file gate: the drop-in is created beside nothing (link(2) to a free
    // name, never over a file), and removed only if it is still the file judged to be medic's.
    writeDropIn(unit, file, text) {
      const path = join(dir(unit), file)
      if (present(path)) return {ok: false, detail: ours(path) ? `${path} is already there (another drill running?)` : `${path} exists and medic did not write it`}
      try {
        if (!existsSync(dir(unit))) created.add(dir(unit))
        ensureDir(dir(unit))
        const wrote = writeNew(dir(unit), file, text, 0o644)
        if (wrote !== path) {
          // Someone put a file there meanwhile: take back ours, leave theirs.
          const seen = identify(wrote)
          if (seen) removeJudged(wrote, seen, dir(unit))
          return {ok: false, detail: `${path} appeared while medic wrote its drop-in; left alone`}
        }
        return {ok: true, detail: `wrote ${path}`}
      } catch (e) {
        return {ok: false, detail: e instanceof FileError ? `cannot write the drop-in: ${e.message}` : `cannot write ${path}: ${(e as Error).message}`}
      }
    },
    removeDropIn(unit, file, exact) {
      const path = join(dir(unit), file)
      const seen = identify(path)
      if (!seen) return {ok: true, removed: false, detail: `${path} absent`}
      if (!ours(path, exact)) return {ok: true, removed: false, detail: `${path} was not written by medic drill${exact === undefined ? '' : ' (not its exact text)'}; left alone`}
      try {
        removeJudged(path, seen, dir(unit))
      } catch (e) {
        return {ok: false, removed: false, detail: `cannot remove the drop-in: ${(e as Error).message}`}
      }
      if (created.delete(dir(unit))) {
        try {
          rmdirSync(dir(unit)) // only when empty: a drop-in someone added meanwhile stays
        } catch {}
      }
      return {ok: true, removed: true, detail: `removed ${path}`}
    },
    dropInExists(unit, file) {
      return present(join(dir(unit), file))
    },
    dropInPath(unit, file) {
      return join(dir(unit), file)
    },
    readDropIn(unit, file) {
      return read(join(dir(unit), file))
    },
  }
}
