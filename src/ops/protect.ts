import {entryCounts, entryKey} from '../core/protect.js'
import {UsageError, type Verdict} from '../core/verdict.js'
import type {Clock} from '../sys/clock.js'
import {ConfigError, loadConfig} from '../sys/config.js'
import type {ProcessTable} from '../sys/proc-table.js'
import {registerPattern, registerProtected, registryPlaces, RegistryError, scanPatterns, scanRegistry, unregisterProtected} from '../sys/protected-registry.js'
import {editProtect} from '../sys/protect-config.js'

export async function protectVerb(verb: 'list' | 'add' | 'remove', o: {pid?: number; pattern?: string; name?: string; config?: string; stateDir: string}, deps: {procs: ProcessTable; clock: Clock; uid: number}): Promise<Verdict> {
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
    const pats = scanPatterns(places)
    const me = deps.uid
    const registered = pats.live.map((p) => ({pattern: p.pattern, byUid: p.fileUid, path: p.source, registeredAt: p.registeredAt, protects: p.fileUid === 0 ? 'every process' : `processes of uid ${p.fileUid}, in that user's own medic runs${p.fileUid === me ? '' : ' (not this one)'}`}))
    const patterns = [...registered.map((p) => p.pattern), ...(cfg?.protect ?? [])]
    const ignored = [...scan.ignored, ...pats.ignored]
    return {
      ...base, status: cfgError || scan.incomplete ? 'ALERT' : 'OK',
      summary: `${scan.incomplete ? `registry not read whole: ${scan.incomplete}; ` : ''}${cfgError ? `${cfgError}: protect patterns unknown, so medic signals nothing; ` : ''}${live.length} protected process(es), ${patterns.length} pattern(s)${pruned ? `; ${pruned} dead entr${pruned === 1 ? 'y' : 'ies'} pruned` : ''}${ignored.length ? `; ${ignored.length} entr${ignored.length === 1 ? 'y' : 'ies'} ignored` : ''}`,
      details: [
        ...live.map((e) => `pid ${e.pid} (${e.name}) since ${e.registeredAt}${e.marks.length ? ` [descendants marked by ${e.marks.join(', ')}]` : ''}: ${e.cmdline.join(' ')}`),
        ...registered.map((p) => `pattern ${p.pattern} (${p.path}; ${p.protects})`),
        ...(cfg?.protect ?? []).map((p) => `pattern ${p} (${cfg!.path})`),
        ...ignored.map((i) => `ignored ${i.path}: ${i.reason}`),
      ],
      extra: {processes: live, patterns, registered, config: cfg?.path ?? null, pruned, ignored, registry: places},
    }
  }
  if ((o.pid === undefined) === (o.pattern === undefined)) throw new UsageError('give --pid N or --pattern REGEX')
  if (o.pattern !== undefined) {
    try {
      new RegExp(o.pattern)
    } catch (e) {
      throw new UsageError(`--pattern: ${(e as Error).message}`)
    }
    if (o.config !== undefined) {
      let r: Awaited<ReturnType<typeof editProtect>>
      try {
        r = await editProtect(o.config, o.pattern, verb === 'add')
      } catch (e) {
        if (e instanceof ConfigError) throw new UsageError(e.message) // a refused config file is never edited
        throw e
      }
      return {...base, status: 'OK', summary: `${r.changed ? (verb === 'add' ? 'added' : 'removed') : verb === 'add' ? 'already there:' : 'not there:'} pattern ${o.pattern} in ${r.path}`, extra: {patterns: r.patterns, config: r.path}}
    }
    // Without --config, the host's registry: honoured by every medic, whatever its directory.
    const me = deps.uid
    const mine = scanPatterns(places).live.filter((p) => p.pattern === o.pattern && (p.fileUid === me || me === 0))
    if (verb === 'add') {
      const whom = me === 0 ? 'every process it matches from every medic on this host' : `your processes it matches from your own medic runs (root's medic honours root's patterns only: run the job under medic run-dev-safe, or protect add --pid)`
      if (mine.some((p) => p.fileUid === me)) return {...base, status: 'OK', summary: `already there: pattern ${o.pattern} (${mine[0].source})`}
      try {
        const r = registerPattern(o.pattern, places)
        return {...base, status: 'OK', summary: `pattern ${o.pattern} protects ${whom}, until the next boot (${r.path}; for good: --config FILE)`, extra: {pattern: o.pattern, path: r.path}}
      } catch (e) {
        if (e instanceof RegistryError) return {...base, status: 'UNKNOWN', summary: e.message}
        throw e
      }
    }
    const removed = mine.filter((p) => unregisterProtected(p.file))
    // Another user's (root's) registration still protects: never "was not registered" (nor "no longer protects anything") while it does.
    const others = scanPatterns(places).live.filter((p) => p.pattern === o.pattern && p.fileUid !== me)
    const byOthers = others.map((p) => `${p.fileUid === 0 ? 'root' : `another user (uid ${p.fileUid})`} (${p.source})`).join(', ')
    if (removed.length) return {...base, status: 'OK', summary: `pattern ${o.pattern} ${others.length ? 'removed' : 'no longer protects anything'} (${removed.map((p) => p.source).join(', ')})${others.length ? `; still registered by ${byOthers}, not removed` : ''}`}
    if (others.length) return {...base, status: 'UNKNOWN', summary: `pattern ${o.pattern} is registered by ${byOthers}; not removed`}
    const cfg = await loadConfig(undefined).catch(() => null)
    const inConfig = cfg?.protect.includes(o.pattern) ? `; it is under protect: in ${cfg.path} (remove it with --config ${cfg.path})` : ''
    return {...base, status: 'OK', summary: `pattern ${o.pattern} was not registered${inConfig}`}
  }
  const p = procs.get(o.pid!)
  if (!p) throw new UsageError(`no process ${o.pid}`)
  const key = entryKey(p)
  if (verb === 'add') {
    const uid = deps.uid
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
