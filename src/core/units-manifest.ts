/**
 * What medic install recorded (the manifest in `<state-dir>/install/<name>.json`) and the
 * ownership rules it enforces: medic writes a file only where nothing is, or where the file
 * is byte for byte what it wrote before; it removes only that. Pure.
 */
import {MARK} from './units.js'
import {normalPath, validName, type HostFacts, type InstallRequest, type Kind, type Plan, type PlannedFile, type WritingTarget} from './units-plan.js'

export interface ManifestFile {
  path: string
  /** Exactly what medic wrote: the file is medic's while it is byte for byte this. */
  text: string
  mode: number
  /** Its owner as medic wrote it (the installing user; absent in manifests before it was recorded). */
  uid?: number
  role: PlannedFile['role']
  /** Directories created to hold it (removed again, if empty, on uninstall). */
  createdDirs: string[]
}

export interface Manifest {
  version: 1
  name: string
  unitName: string
  kind: Kind
  target: WritingTarget
  request: InstallRequest
  installedAt: string
  updatedAt: string
  files: ManifestFile[]
  crontab: {block: string} | null
  wsl: {path: string; line: string; appended: string | null} | null
  dirs: {path: string; created: boolean}[]
  systemd: Plan['systemd']
  watch: Plan['watch']
}

export type OnDisk =
  | {kind: 'missing'}
  | {kind: 'file'; text: string; mode: number; uid?: number}
  | {kind: 'symlink'}
  | {kind: 'other'; what: string}
  | {kind: 'error'; detail: string}

export type WriteDecision =
  | {action: 'create'}
  | {action: 'update'; before: string}
  | {action: 'same'}
  /** Its bytes are medic's, its mode or owner are not: written again (a new file, medic's mode and owner). */
  | {action: 'fix'; before: string; why: string}
  | {action: 'refuse'; reason: string}

/** The mode and owner a file of medic's must have (what install writes): uid null = not known, not compared. */
export interface FileAttrs {
  mode: number
  uid: number | null
}

/** How a file on disk differs from medic's mode and owner, or null (cron refuses a group- or world-writable file: INSECURE MODE). */
export function attrsProblem(path: string, disk: {mode: number; uid?: number}, want: FileAttrs): string | null {
  const o = (m: number) => `0${m.toString(8).padStart(3, '0')}`
  if (disk.mode !== want.mode) return `${path} has mode ${o(disk.mode)}, medic wrote it ${o(want.mode)}${disk.mode & 0o022 ? ' (writable by others: cron and systemd may refuse it, anyone may change it)' : ''}`
  if (want.uid !== null && disk.uid !== undefined && disk.uid !== want.uid) return `${path} is owned by uid ${disk.uid}, medic wrote it as uid ${want.uid}`
  return null
}

/**
 * Whether medic may put `planned` at its path. `ours` is what the manifest says medic wrote
 * there last time (null: nothing). A file with the very bytes medic would write is taken as
 * medic's (a lost manifest); anything else medic did not write, or changed by hand, is refused.
 */
export function decideWrite(path: string, planned: string, disk: OnDisk, ours: string | null, want?: FileAttrs): WriteDecision {
  switch (disk.kind) {
    case 'missing':
      return {action: 'create'}
    case 'symlink':
      return {action: 'refuse', reason: `${path} is a symlink; medic never writes through one`}
    case 'other':
      return {action: 'refuse', reason: `${path} is ${disk.what}, not a regular file`}
    case 'error':
      return {action: 'refuse', reason: `cannot read ${path}: ${disk.detail}`}
    case 'file':
      if (disk.text === planned) {
        // The same bytes with another mode or owner are not the same file: medic puts its own in place.
        const why = want ? attrsProblem(path, disk, want) : null
        return why ? {action: 'fix', before: disk.text, why} : {action: 'same'}
      }
      // What the manifest says medic wrote must also say so itself: a forged manifest cannot
      // make medic rewrite a file that does not carry medic's mark.
      if (ours !== null && disk.text === ours && ours.startsWith(MARK)) return {action: 'update', before: ours}
      return {action: 'refuse', reason: ours !== null ? `${path} was changed since medic wrote it; not overwriting (move it away, or put back what medic wrote)` : `${path} exists and medic did not write it; not overwriting`}
  }
}

/**
 * What in a manifest is not medic's own (a forged, corrupted or hand-edited manifest): names
 * outside medic's pattern — units other than `medic-<name>.service/.timer`, a unit file or cron
 * file anywhere but where install puts `medic-<name>`, a drop-in other than
 * `<unit>.d/medic-<name>.conf`, a path with `..` — and files whose recorded text does not carry
 * the header naming this install. uninstall and install refuse such a manifest whole.
 */
export function manifestProblems(m: Manifest, h: Pick<HostFacts, 'systemUnitDir' | 'userUnitDir' | 'cronDir'>): string[] {
  const bad: string[] = []
  if (typeof m.name !== 'string' || !validName(m.name)) return [`its name ${JSON.stringify(m.name)} is not an install name`]
  const unit = `medic-${m.name}`
  if (m.unitName !== unit) bad.push(`it names the unit ${JSON.stringify(m.unitName)}, not ${unit}`)
  const s = m.systemd
  const dir = s?.user ? h.userUnitDir : h.systemUnitDir
  if (s) {
    if (s.service !== null && s.service !== `${unit}.service`) bad.push(`it names the unit ${JSON.stringify(s.service)}, not ${unit}.service`)
    if (s.timer !== null && s.timer !== `${unit}.timer`) bad.push(`it names the unit ${JSON.stringify(s.timer)}, not ${unit}.timer`)
    if (s.hardened !== null && !/^[A-Za-z0-9:_.@\\-]+\.(service|socket|target|timer|mount|scope|slice|path)$/.test(s.hardened)) bad.push(`it hardens ${JSON.stringify(s.hardened)}, not a unit name`)
  }
  const readers = [h.systemUnitDir, h.userUnitDir, h.cronDir].map((d) => normalPath(d) + '/')
  for (const f of m.files ?? []) {
    const p = f.path
    const where: Record<string, string | null> = {
      service: s ? `${dir}/${unit}.service` : null,
      timer: s ? `${dir}/${unit}.timer` : null,
      dropin: s?.hardened ? `${dir}/${s.hardened}.d/${unit}.conf` : null,
      cron: `${h.cronDir}/${unit}`,
    }
    if (typeof p !== 'string' || !p.startsWith('/') || normalPath(p) !== p) bad.push(`${JSON.stringify(p)} is not a plain absolute path`)
    else if (f.role === 'rules' ? readers.some((d) => p.startsWith(d)) : where[f.role] !== p) bad.push(`${p} is not where medic install puts ${unit}’s ${f.role} file`)
    else if (typeof f.text !== 'string' || !f.text.startsWith(`${MARK} (${unit})`)) bad.push(`${p}: what it records as written does not carry medic’s header for ${unit}`)
    for (const d of f.createdDirs ?? []) if (typeof d !== 'string' || normalPath(d) !== d || !p.startsWith(`${d}/`)) bad.push(`${JSON.stringify(d)} is not a folder of ${p}`)
  }
  for (const d of m.dirs ?? []) if (typeof d.path !== 'string' || !d.path.startsWith('/') || normalPath(d.path) !== d.path || d.path === '/') bad.push(`${JSON.stringify(d.path)} is not a plain absolute folder`)
  if (m.wsl && (typeof m.wsl.path !== 'string' || normalPath(m.wsl.path) !== m.wsl.path || !/^command=/.test(m.wsl.line))) bad.push(`its wsl.conf entry ${JSON.stringify(m.wsl.path)} is not medic’s`)
  return bad
}

export type RemoveDecision = {action: 'remove'} | {action: 'gone'} | {action: 'leave'; reason: string}

export function decideRemove(path: string, written: string, disk: OnDisk): RemoveDecision {
  switch (disk.kind) {
    case 'missing':
      return {action: 'gone'}
    case 'file':
      if (disk.text !== written) return {action: 'leave', reason: `${path} was changed since medic wrote it; left in place`}
      return written.startsWith(MARK) ? {action: 'remove'} : {action: 'leave', reason: `${path} does not carry medic's mark; left in place`}
    case 'symlink':
      return {action: 'leave', reason: `${path} is now a symlink medic did not make; left in place`}
    case 'other':
      return {action: 'leave', reason: `${path} is now ${disk.what}; left in place`}
    case 'error':
      return {action: 'leave', reason: `cannot read ${path}: ${disk.detail}; left in place`}
  }
}

/**
 * A unified diff of two texts, line by line (files medic writes are small): `--dry-run`
 * shows it, verify names the lines a hand edit changed.
 */
export function unifiedDiff(path: string, before: string, after: string, context = 2): string[] {
  if (before === after) return []
  const a = before === '' ? [] : before.replace(/\n$/, '').split('\n')
  const b = after === '' ? [] : after.replace(/\n$/, '').split('\n')
  // LCS table, from the end.
  const n = a.length
  const m = b.length
  const L: number[][] = Array.from({length: n + 1}, () => new Array<number>(m + 1).fill(0))
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) L[i][j] = a[i] === b[j] ? L[i + 1][j + 1] + 1 : Math.max(L[i + 1][j], L[i][j + 1])
  const ops: {t: ' ' | '-' | '+'; line: string}[] = []
  let i = 0
  let j = 0
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      ops.push({t: ' ', line: a[i++]})
      j++
    } else if (i < n && (j === m || L[i + 1][j] >= L[i][j + 1])) ops.push({t: '-', line: a[i++]})
    else ops.push({t: '+', line: b[j++]})
  }
  const keep = ops.map((o, k) => o.t !== ' ' || ops.slice(Math.max(0, k - context), k + context + 1).some((x) => x.t !== ' '))
  const out = [`--- ${before === '' ? '/dev/null' : path}`, `+++ ${after === '' ? '/dev/null' : path}`]
  let gap = false
  ops.forEach((o, k) => {
    if (!keep[k]) {
      if (!gap) out.push('@@')
      gap = true
      return
    }
    if (k === 0) out.push('@@')
    gap = false
    out.push(`${o.t}${o.line}`)
  })
  if (out.at(-1) === '@@') out.pop()
  return out
}
