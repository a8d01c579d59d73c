import {lstatSync, readdirSync, readlinkSync, type Stats} from 'node:fs'
import {join, resolve} from 'node:path'

/** Regular files below `dir` whose name matches; symlinks are neither followed nor returned. */
export function walkFiles(dir: string, match: (name: string) => boolean): {path: string; stat: Stats}[] {
  const out: {path: string; stat: Stats}[] = []
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return out
  }
  for (const n of names) {
    const p = join(dir, n)
    let st: Stats
    try {
      st = lstatSync(p)
    } catch {
      continue
    }
    if (st.isSymbolicLink()) continue
    if (st.isDirectory()) out.push(...walkFiles(p, match))
    else if (st.isFile() && match(n)) out.push({path: p, stat: st})
  }
  return out
}

/** Which processes hold each of these files open (a scan of /proc/*\/fd). Invisible processes are missed. */
export function openers(paths: string[]): Map<string, number[]> {
  const want = new Set(paths.map((p) => resolve(p)))
  const found = new Map<string, number[]>()
  if (want.size === 0) return found
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    let fds: string[]
    try {
      fds = readdirSync(`/proc/${pid}/fd`)
    } catch {
      continue
    }
    for (const fd of fds) {
      let target: string
      try {
        target = readlinkSync(`/proc/${pid}/fd/${fd}`)
      } catch {
        continue
      }
      if (want.has(target)) found.set(target, [...(found.get(target) ?? []), Number(pid)])
    }
  }
  return found
}
