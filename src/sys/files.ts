import {closeSync, constants, lstatSync, openSync, readdirSync, readFileSync, readlinkSync, type Stats} from 'node:fs'
import {join, resolve} from 'node:path'

/** Is there a directory here (a symlink to one counts: the user named it)? */
export function isDir(path: string): boolean {
  try {
    return readdirSync(path) !== null
  } catch {
    return false
  }
}

/** Names in a directory, or [] when it cannot be read. */
export function listNames(dir: string): string[] {
  try {
    return readdirSync(dir)
  } catch {
    return []
  }
}

/** A small file's text, not through a symlink; null when it cannot be read. */
export function readText(path: string, maxBytes = 1024 * 1024): string | null {
  let fd: number
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  } catch {
    return null
  }
  try {
    return readFileSync(fd, 'utf8').slice(0, maxBytes)
  } catch {
    return null
  } finally {
    closeSync(fd)
  }
}

/** Does anything (a symlink too) sit at this path? */
export function present(path: string): boolean {
  try {
    lstatSync(path)
    return true
  } catch {
    return false
  }
}

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

/**
 * Every open fd of every process we may look at: `visit(pid, fd, link)` with the fd's
 * readlink target. Another user's process (not root) is skipped: what it holds stays unseen.
 */
export function scanFds(visit: (pid: number, fd: number, link: string) => void): void {
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    let fds: string[]
    try {
      fds = readdirSync(`/proc/${name}/fd`)
    } catch {
      continue
    }
    for (const fd of fds) {
      try {
        visit(Number(name), Number(fd), readlinkSync(`/proc/${name}/fd/${fd}`))
      } catch {}
    }
  }
}

/** Which processes hold each of these files open. Invisible processes are missed. */
export function openers(paths: string[]): Map<string, number[]> {
  const want = new Set(paths.map((p) => resolve(p)))
  const found = new Map<string, number[]>()
  if (want.size === 0) return found
  scanFds((pid, _fd, target) => {
    if (want.has(target)) found.set(target, [...(found.get(target) ?? []), pid])
  })
  return found
}
