/** Pure rules of the file gate (sys/file-gate.ts): names that never clobber, log caps, safe directories. */

/**
 * The i-th free-name candidate for `name`: `req-a.json` → `req-a.1.json`, `notes` →
 * `notes.1`. The extension stays last, so a request still reads as a request.
 */
export function nameVariant(name: string, i: number): string {
  if (i === 0) return name
  const dot = name.lastIndexOf('.')
  return dot > 0 ? `${name.slice(0, dot)}.${i}${name.slice(dot)}` : `${name}.${i}`
}

/** What a size-capped log keeps when it passes its cap: the newest half of the cap, from a line start. */
export function keepTail(text: Uint8Array, maxBytes: number): Uint8Array {
  const keep = text.subarray(Math.max(0, text.length - Math.floor(maxBytes / 2)))
  const nl = keep.indexOf(10)
  return nl >= 0 ? keep.subarray(nl + 1) : keep
}

/** One path component as stat/lstat saw it. */
export interface PathFact {
  path: string
  uid: number
  mode: number
  symlink: boolean
  /** The directory medic writes into (not a parent of it). */
  target: boolean
}

/**
 * As root, a state dir another user can change is a way in: they plant a symlink where a
 * log will be appended, a hard link where a file will be replaced, a forged lock or
 * registry entry. Unsafe: any component owned by another user (root and medic's own user
 * excepted); the target directory writable by group or others; a parent writable by group
 * or others without the sticky bit (with it, only its owner may rename or remove what is
 * in it — /tmp).
 */
export function unsafePath(facts: PathFact[], self: number): string | null {
  for (const f of facts) {
    if (f.uid !== 0 && f.uid !== self) return `${f.path} is owned by uid ${f.uid}`
    if (f.symlink) continue
    const other = f.mode & 0o022
    if (other && (f.target || !(f.mode & 0o1000))) return `${f.path} is writable by ${f.mode & 0o002 ? 'every user' : 'its group'} (mode ${(f.mode & 0o7777).toString(8).padStart(4, '0')})`
  }
  return null
}
