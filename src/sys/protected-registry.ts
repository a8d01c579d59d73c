import {readFileSync, readdirSync, unlinkSync} from 'node:fs'
import {join} from 'node:path'
import {parseProtectedEntry, type ProtectedEntry} from '../core/protect.js'
import type {ProcessTable} from './proc-table.js'
import {StateLayout} from './state-layout.js'
import {writeFileAtomic} from './state-store.js'

/**
 * The protected registry: `<state-dir>/protected/<pid>-<starttime>.json`, one file per
 * job, so concurrent jobs never share a file and need no lock. Format: ProtectedEntry
 * (version 1). Entries whose process is gone (identity-checked) are ignored on read.
 */
export function registryDir(stateDir: string): string {
  return new StateLayout(stateDir).protectedDir
}

export function readRegistry(stateDir: string, table: ProcessTable): ProtectedEntry[] {
  let names: string[]
  try {
    names = readdirSync(registryDir(stateDir))
  } catch {
    return []
  }
  const out: ProtectedEntry[] = []
  for (const n of names) {
    if (!n.endsWith('.json')) continue
    let e: ProtectedEntry | null = null
    try {
      e = parseProtectedEntry(readFileSync(join(registryDir(stateDir), n), 'utf8'))
    } catch {}
    if (e && table.liveness(e.pid, e.startTime) === 'alive') out.push(e)
  }
  return out
}

export function registerProtected(stateDir: string, entry: ProtectedEntry): string {
  const path = new StateLayout(stateDir).protectedEntry(entry.pid, entry.startTime)
  writeFileAtomic(path, JSON.stringify(entry, null, 2) + '\n')
  return path
}

export function unregisterProtected(path: string): void {
  try {
    unlinkSync(path)
  } catch {}
}
