import {readdirSync, readFileSync, unlinkSync} from 'node:fs'
import {join} from 'node:path'
import {parseProtectedEntry} from '../core/protect.js'
import type {Verdict} from '../core/verdict.js'
import {UsageError} from '../cli/parse.js'
import {loadConfig} from '../sys/config.js'
import type {ProcessTable} from '../sys/proc-table.js'
import {registerProtected, registryDir} from '../sys/protected-registry.js'
import {StateLayout} from '../sys/state-layout.js'
import {editProtect} from '../sys/protect-config.js'

export async function protectVerb(verb: 'list' | 'add' | 'remove', o: {pid?: number; pattern?: string; name?: string; config?: string; stateDir: string}, procs: ProcessTable): Promise<Verdict> {
  const base = {subject: 'PROTECT', checks: [], actions: []}
  if (verb === 'list') {
    const live: {pid: number; name: string; startTime: string; cmdline: string[]; registeredAt: string}[] = []
    let pruned = 0
    let names: string[] = []
    try {
      names = readdirSync(registryDir(o.stateDir)).filter((n) => n.endsWith('.json'))
    } catch {}
    for (const n of names) {
      const path = join(registryDir(o.stateDir), n)
      let e = null
      try {
        e = parseProtectedEntry(readFileSync(path, 'utf8'))
      } catch {}
      if (e && procs.liveness(e.pid, e.startTime) === 'alive') live.push(e)
      else {
        try {
          unlinkSync(path) // the process is gone (identity-checked): its entry protects nothing
          pruned++
        } catch {}
      }
    }
    const cfg = await loadConfig(o.config).catch(() => null)
    const patterns = cfg?.protect ?? []
    return {
      ...base, status: 'OK',
      summary: `${live.length} protected process(es), ${patterns.length} pattern(s)${pruned ? `; ${pruned} dead entr${pruned === 1 ? 'y' : 'ies'} pruned` : ''}`,
      details: [...live.map((e) => `pid ${e.pid} (${e.name}) since ${e.registeredAt}: ${e.cmdline.join(' ')}`), ...patterns.map((p) => `pattern ${p} (${cfg!.path})`)],
      extra: {processes: live, patterns, config: cfg?.path ?? null, pruned},
    }
  }
  if ((o.pid === undefined) === (o.pattern === undefined)) throw new UsageError('give --pid N or --pattern REGEX')
  if (o.pattern !== undefined) {
    try {
      new RegExp(o.pattern)
    } catch (e) {
      throw new UsageError(`--pattern: ${(e as Error).message}`)
    }
    const r = await editProtect(o.config, o.pattern, verb === 'add')
    return {...base, status: 'OK', summary: `${r.changed ? (verb === 'add' ? 'added' : 'removed') : verb === 'add' ? 'already there:' : 'not there:'} pattern ${o.pattern} in ${r.path}`, extra: {patterns: r.patterns, config: r.path}}
  }
  const p = procs.get(o.pid!)
  if (!p) throw new UsageError(`no process ${o.pid}`)
  if (verb === 'add') {
    const path = registerProtected(o.stateDir, {version: 1, pid: p.pid, startTime: p.startTime, name: o.name ?? p.comm, cmdline: p.cmdline, descendants: true, registeredAt: new Date().toISOString()})
    return {...base, status: 'OK', summary: `pid ${p.pid} (${p.comm}) and its descendants are protected (${path})`}
  }
  try {
    unlinkSync(new StateLayout(o.stateDir).protectedEntry(p.pid, p.startTime))
    return {...base, status: 'OK', summary: `pid ${p.pid} (${p.comm}) is no longer protected`}
  } catch {
    return {...base, status: 'OK', summary: `pid ${p.pid} (${p.comm}) was not registered`}
  }
}
