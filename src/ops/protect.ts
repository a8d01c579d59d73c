import {entryCounts, entryKey} from '../core/protect.js'
import {UsageError, type Verdict} from '../core/verdict.js'
import type {Clock} from '../sys/clock.js'
import {ConfigError, loadConfig} from '../sys/config.js'
import type {ProcessTable} from '../sys/proc-table.js'
import {registerProtected, registryPlaces, RegistryError, scanRegistry, unregisterProtected} from '../sys/protected-registry.js'
import {editProtect} from '../sys/protect-config.js'

export async function protectVerb(verb: 'list' | 'add' | 'remove', o: {pid?: number; pattern?: string; name?: string; config?: string; stateDir: string}, deps: {procs: ProcessTable; clock: Clock}): Promise<Verdict> {
  const {procs} = deps
  const base = {subject: 'PROTECT', checks: [], actions: []}
  const places = registryPlaces(o.stateDir)
  if (verb === 'list') {
    const scan = scanRegistry(places, procs)
    // An entry whose process is gone (by identity) protects nothing: removed where we may.
    const pruned = scan.dead.filter((r) => unregisterProtected(r)).length
    const live = scan.live.map(({file: _file, ...e}) => e).map((e) => ({pid: e.pid, name: e.name, startTime: e.startTime, cmdline: e.cmdline, registeredAt: e.registeredAt, path: e.source, byUid: e.fileUid, marks: [e.mark ? 'env' : '', e.session ? 'session' : '', e.cgroup ? 'cgroup' : ''].filter(Boolean)}))
    // A config file that cannot be used leaves the patterns unknown: the gate then signals nothing (§3.3) — said, never "0 patterns".
    let cfgError: string | null = null
    const cfg = await loadConfig(o.config).catch((e: Error) => ((cfgError = e.message), null))
    const patterns = cfg?.protect ?? []
    return {
      ...base, status: cfgError || scan.incomplete ? 'ALERT' : 'OK',
      summary: `${scan.incomplete ? `registry not read whole: ${scan.incomplete}; ` : ''}${cfgError ? `${cfgError}: protect patterns unknown, so medic signals nothing; ` : ''}${live.length} protected process(es), ${patterns.length} pattern(s)${pruned ? `; ${pruned} dead entr${pruned === 1 ? 'y' : 'ies'} pruned` : ''}${scan.ignored.length ? `; ${scan.ignored.length} entr${scan.ignored.length === 1 ? 'y' : 'ies'} ignored` : ''}`,
      details: [
        ...live.map((e) => `pid ${e.pid} (${e.name}) since ${e.registeredAt}${e.marks.length ? ` [descendants marked by ${e.marks.join(', ')}]` : ''}: ${e.cmdline.join(' ')}`),
        ...scan.ignored.map((i) => `ignored ${i.path}: ${i.reason}`),
        ...patterns.map((p) => `pattern ${p} (${cfg!.path})`),
      ],
      extra: {processes: live, patterns, config: cfg?.path ?? null, pruned, ignored: scan.ignored, registry: places},
    }
  }
  if ((o.pid === undefined) === (o.pattern === undefined)) throw new UsageError('give --pid N or --pattern REGEX')
  if (o.pattern !== undefined) {
    try {
      new RegExp(o.pattern)
    } catch (e) {
      throw new UsageError(`--pattern: ${(e as Error).message}`)
    }
    let r: Awaited<ReturnType<typeof editProtect>>
    try {
      r = await editProtect(o.config, o.pattern, verb === 'add')
    } catch (e) {
      if (e instanceof ConfigError) throw new UsageError(e.message) // a refused config file is never edited
      throw e
    }
    return {...base, status: 'OK', summary: `${r.changed ? (verb === 'add' ? 'added' : 'removed') : verb === 'add' ? 'already there:' : 'not there:'} pattern ${o.pattern} in ${r.path}`, extra: {patterns: r.patterns, config: r.path}}
  }
  const p = procs.get(o.pid!)
  if (!p) throw new UsageError(`no process ${o.pid}`)
  const key = entryKey(p)
  if (verb === 'add') {
    const uid = process.getuid?.() ?? 0
    const owner = procs.realUid(p.pid) ?? p.uid
    if (!entryCounts(uid, owner)) throw new UsageError(`pid ${p.pid} (${p.comm}) runs as uid ${owner}: an entry written by uid ${uid} would not count (only root or the process's own user can protect it)`)
    let path: string
    try {
      // Its session is recorded only when it leads it: a session it merely belongs to (a login shell's) holds others too.
      path = registerProtected({version: 1, pid: p.pid, startTime: p.startTime, name: o.name ?? p.comm, cmdline: p.cmdline, descendants: true, registeredAt: deps.clock.wall().toISOString(), mark: null, session: p.sid === p.pid ? {sid: p.sid, startTime: p.startTime} : null, cgroup: null}, places).path
    } catch (e) {
      if (e instanceof RegistryError) return {...base, status: 'UNKNOWN', summary: e.message}
      throw e
    }
    return {...base, status: 'OK', summary: `pid ${p.pid} (${p.comm}) and its descendants are protected (${path})`}
  }
  const mine = scanRegistry(places, procs).live.filter((e) => entryKey(e) === key)
  const removed = mine.filter((e) => unregisterProtected(e.file))
  if (removed.length) return {...base, status: 'OK', summary: `pid ${p.pid} (${p.comm}) is no longer protected`}
  if (mine.length) return {...base, status: 'UNKNOWN', summary: `pid ${p.pid} (${p.comm}) is registered by another user (${mine.map((e) => e.source).join(', ')}); not removed`}
  return {...base, status: 'OK', summary: `pid ${p.pid} (${p.comm}) was not registered`}
}
