import {accessSync, constants, existsSync, readdirSync, readFileSync, realpathSync, rmdirSync, mkdirSync, statSync, writeFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {formatBytes, memcgOf, parseCgroupMounts, parseProcCgroup, weightToShares, type JobLimits} from '../core/cgroup-limits.js'
import {CgroupEscapeWatch} from './cgroup-watch.js'

/**
 * A cgroup v2 made for one job (a supervised service, a run-dev-safe job): the systemd
 * KillMode=control-group idea without systemd. Membership is inherited by every fork and
 * survives setsid, double-fork and reparenting; only a process with write access to a
 * common ancestor's cgroup.procs (root, or the owner of a delegated subtree) can leave.
 * No controller is enabled: membership, `cgroup.freeze` and `cgroup.procs` are core files
 * that work without one.
 *
 * It is made below medic's own cgroup, so the job stays inside whatever slice, scope or
 * service medic runs in (its limits and accounting still apply). Where that cannot be
 * done (not root and no delegated subtree, no cgroup2 mounted) the job runs without one.
 */
export interface Cgroup {
  /** The cgroup's path in the v2 hierarchy, as /proc/<pid>/cgroup shows it (`/…/medic-…`). */
  path: string
  /** Its directory in the mounted hierarchy. */
  dir: string
}

let mount: string | null | undefined

/** Where cgroup2 is mounted: /sys/fs/cgroup (unified) or /sys/fs/cgroup/unified (hybrid). */
export function cgroup2Mount(): string | null {
  if (mount !== undefined) return mount
  mount = null
  try {
    for (const line of readFileSync('/proc/self/mounts', 'utf8').split('\n')) {
      const f = line.split(' ')
      if (f[2] === 'cgroup2') {
        mount = f[1].replace(/\\040/g, ' ')
        break
      }
    }
  } catch {}
  return mount
}

function ownPath(): string | null {
  try {
    const m = /^0::(\S*)$/m.exec(readFileSync('/proc/self/cgroup', 'utf8'))
    return m ? m[1] : null
  } catch {
    return null
  }
}

/** medic's cgroups end in the identity of the medic that made them: `medic-<kind>-…-<pid>-<starttime>`. */
const OURS = /^medic-[a-z]+-(?:.*-)?(\d+)-(\d+)$/

/**
 * Makes `<medic's own cgroup>/medic-<kind>-<label>-<pid>-<starttime>` for the running
 * medic (`self` is its identity); the reason when it cannot. Empty cgroups left by a
 * medic that died without removing its own (SIGKILL) are removed first.
 */
export function makeCgroup(kind: string, label: string, self: {pid: number; startTime: string}, isAlive: (pid: number, startTime: string) => boolean): {ok: true; cgroup: Cgroup} | {ok: false; reason: string} {
  const name = `medic-${kind}-${label ? `${label}-` : ''}${self.pid}-${self.startTime}`
  if (!/^[a-z]+$/.test(kind) || !/^[A-Za-z0-9@._-]{0,100}$/.test(label)) return {ok: false, reason: `bad cgroup name ${JSON.stringify(name)}`}
  const root = cgroup2Mount()
  if (!root) return {ok: false, reason: 'no cgroup2 hierarchy is mounted'}
  // A job is started into it through the shim, whose exec is ENV_EXEC's.
  const noExec = envExecUnavailable()
  if (noExec) return {ok: false, reason: noExec}
  const own = ownPath()
  if (own === null) return {ok: false, reason: 'medic is in no cgroup2 cgroup (/proc/self/cgroup has no 0:: line)'}
  collectStale(join(root, own), isAlive)
  const path = `${own === '/' ? '' : own}/${name}`
  const dir = join(root, path)
  try {
    mkdirSync(dir)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code !== 'EEXIST') return {ok: false, reason: `cannot make cgroup ${dir}: ${code}`}
  }
  return {ok: true, cgroup: {path, dir}}
}

/** Removes the empty cgroups (never one with a process: rmdir refuses) that a dead medic made below `parent`. */
export function collectStale(parent: string, isAlive: (pid: number, startTime: string) => boolean): number {
  let removed = 0
  let names: string[] = []
  try {
    names = readdirSync(parent)
  } catch {}
  for (const n of names) {
    const m = OURS.exec(n)
    if (!m || isAlive(Number(m[1]), m[2])) continue
    try {
      rmdirSync(join(parent, n))
      removed++
    } catch {}
  }
  return removed
}

/** Every process in the cgroup and its sub-cgroups. */
export function cgroupPids(cg: Cgroup): number[] {
  const out: number[] = []
  const walk = (dir: string, depth: number) => {
    try {
      for (const l of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n')) if (l) out.push(Number(l))
    } catch {}
    if (depth > 16) return
    try {
      for (const d of readdirSync(dir, {withFileTypes: true})) if (d.isDirectory()) walk(join(dir, d.name), depth + 1)
    } catch {}
  }
  walk(cg.dir, 0)
  return out
}

/** Moves a process into the cgroup (idempotent); false when it cannot. */
export function joinCgroup(cg: Cgroup, pid: number): boolean {
  try {
    writeFileSync(join(cg.dir, 'cgroup.procs'), String(pid))
    return true
  } catch {
    return false
  }
}

/** Freezes (or thaws) every process in it: a frozen process cannot fork, and SIGKILL still ends it. */
export function freezeCgroup(cg: Cgroup, on: boolean): boolean {
  try {
    writeFileSync(join(cg.dir, 'cgroup.freeze'), on ? '1' : '0')
    return true
  } catch {
    return false
  }
}

/** Removes it, with any sub-cgroups, when no process is left in them; false otherwise. */
export function removeCgroup(cg: Cgroup): boolean {
  const rm = (dir: string): boolean => {
    try {
      for (const d of readdirSync(dir, {withFileTypes: true})) if (d.isDirectory()) rm(join(dir, d.name))
      rmdirSync(dir)
      return true
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === 'ENOENT'
    }
  }
  return rm(cg.dir)
}

/**
 * removeCgroup, waiting (`sleep`, at most ~1 s) while no live process is listed but the
 * kernel has not yet released the ones killed a moment ago (the cgroup is still busy).
 */
export async function removeCgroupReleased(cg: Cgroup, sleep: (ms: number) => Promise<void>): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if (removeCgroup(cg)) return true
    if (cgroupPids(cg).length > 0) return false
    await sleep(10)
  }
  return false
}

/**
 * How every shim of medic's (the cgroup shim below, supervise's spare, the systemd limits
 * check) hands the job its environment: exactly the plain start's, byte for byte and in
 * its order — whatever the names. A shell cannot do it: /bin/sh (dash) rebuilds the
 * environment it execs with from its own variables, so it drops every name that is not a
 * shell identifier (`spring.profiles.active`, `my-var`, `1abc`, non-ASCII), resets OPTIND,
 * PPID and IFS, and adds PWD. So the shell execs `/usr/bin/env -i -S "$ES" CMD ARGS` instead:
 * each `name=value` of the job's environment rides in the shell's environment as the
 * value of carriers `E<i>` (identifiers: dash keeps them and passes them on untouched), and
 * ES is `-- ${E0} ${E1} …`, which env(1) expands from those carriers — after `-i` emptied
 * its environment — into the assignments it makes, in order, before its execvp. Chosen
 * over the alternatives: the values never appear in an argument vector (/proc/<pid>/cmdline
 * is world-readable; with `env -i NAME=VALUE…` every secret would be visible to `ps` while
 * env starts); the restart path gains one exec of a small C program, no interpreter (a
 * node shim would add a node start); and moving the child into the cgroup from medic
 * between its fork and its exec is not something node's spawn offers. Needs env(1) with
 * `-S` and `${VAR}` (GNU coreutils ≥ 8.30). The shell's own environment holds only the
 * carriers, so no name of the job's can collide with them or change what the shell does.
 *
 * Every string the kernel execs with stays under MAX_ARG_STRLEN (128 KiB, its NUL
 * included), as a plain start's own strings do (attack-env F1, F4): a `name=value` longer
 * than a carrier takes rides in several (`${E7}${E8}`: one word to env(1)), and when the
 * references do not fit in one ES they go in a chain — ES = `-S ${ES1} <the last ones>`,
 * ES1 = `-S ${ES2} …`, the innermost `-- <the first ones>`: env(1) splits each `-S` string
 * in place and parses the result again, so the innermost comes first, `--` then ends its
 * options, and the order is the environment's. Only ES (references, no value) is an argument.
 */
export const ENV_EXEC = 'exec /usr/bin/env -i -S "$ES" "$@"'

/** The longest string the kernel takes in an exec (MAX_ARG_STRLEN, the NUL included). */
const MAX_ARG_STRLEN = 131_072
/** A carrier's value, and an ES string, at most (UTF-8 bytes): room for `ES<n>=`, `E<n>=` and `-S ${ES<n>} ` under MAX_ARG_STRLEN. */
const CARRIED = MAX_ARG_STRLEN - 64

let envExecMemo: string | null | undefined
/**
 * Why ENV_EXEC cannot start a job here, or null: /usr/bin/env must expand `-S '${VAR}'` as
 * GNU env (coreutils ≥ 8.30) does — busybox's has no -S — including the chained form and
 * values in pieces, and the `nice` that runs a program named with `=` (envCommand) must run.
 * Asked once a process, by running it (node:child_process is taken only then: a run that
 * starts nothing does not load it). Where it cannot, medic makes no cgroup (a job then starts
 * plainly, as a non-root one does, and the reason is said wherever "no cgroup" is) and sets
 * no limits: never a job started with an environment it was not given.
 */
export function envExecUnavailable(): string | null {
  if (envExecMemo === undefined) envExecMemo = probeEnvExec('/usr/bin/env')
  return envExecMemo
}

/** Values env(1) must carry unchanged (attack-env F8): names that are no identifier, backslashes, `${`, `$`, quotes, `#`, newlines, a leading `-`, an empty value, non-ASCII. */
const PROBE_ENV: Record<string, string> = {
  'a.b': 'x y', '-i': '--', 'sl': 'a\\c \\_ \\n \\', 'dl': '${E0} $ES ${ES1', 'q': `'"# x`, 'nl': 'a\nb\t', 'empty': '', 'é': 'ü€𝄞',
}

/**
 * Runs `env` as ENV_EXEC does, through `nice` as envCommand does (env prints what it made),
 * with small carriers and ES strings so that pieces and a chain of -S are used: why that
 * fails, or null.
 */
export function probeEnvExec(env: string, nice: string | null = niceProgram()): string | null {
  if (!nice) return 'no nice(1) next to /usr/bin/env nor in /usr/bin or /bin (a program named with = is started through it)'
  const {spawnSync} = process.getBuiltinModule('node:child_process')
  const carriers = carry(Object.entries(PROBE_ENV), 8, 24) // not spawnEntries: medic's NODE_V8_COVERAGE is no part of it
  const r = spawnSync(env, ['-i', '-S', carriers.ES, nice, '-n', '0', '--', env, '-0'], {env: carriers, encoding: 'utf8', timeout: 5000})
  const want = Object.entries(PROBE_ENV).map(([k, v]) => `${k}=${v}\0`).join('')
  return r.stdout === want ? null
    : `${env} cannot start a job with its exact environment (it needs -S with \${VAR}, nested -S strings, and ${nice}: GNU coreutils 8.30 or later)${r.error ? `: ${r.error.message}` : ''}`
}

let niceMemo: string | null | undefined
/**
 * The nice(1) envCommand runs a program named with `=` through, by absolute path: the one
 * next to /usr/bin/env's real file (coreutils: also where /usr/bin holds env alone, NixOS),
 * else /usr/bin/nice or /bin/nice; null when none is executable.
 */
export function niceProgram(): string | null {
  if (niceMemo !== undefined) return niceMemo
  let beside: string[] = []
  try {
    beside = [join(dirname(realpathSync('/usr/bin/env')), 'nice')]
  } catch {}
  niceMemo = [...beside, '/usr/bin/nice', '/bin/nice'].find(executable) ?? null
  return niceMemo
}

function executable(p: string): boolean {
  try {
    if (!statSync(p).isFile()) return false
    accessSync(p, constants.X_OK)
    return true
  } catch {
    return false
  }
}

/**
 * A system program (nice, systemd-run) by absolute path, as medic finds it — never through
 * a job's PATH, which the job's environment sets: /usr/bin, /bin, /usr/sbin, /sbin, then
 * the absolute directories of medic's own PATH. null when none holds it.
 */
export function systemProgram(name: string): string | null {
  const dirs = ['/usr/bin', '/bin', '/usr/sbin', '/sbin', ...(process.env.PATH ?? '').split(':').filter((d) => d.startsWith('/'))]
  return dirs.map((d) => join(d, name)).find(executable) ?? null
}

/**
 * The entries node's spawn gives the kernel for `env`, in its order: for…in (own names,
 * then inherited ones), undefined left out, and process.env.NODE_V8_COVERAGE added as an own
 * name when set and `env` does not own it — node adds it to every spawn's env (attack-env F2).
 */
function spawnEntries(env: NodeJS.ProcessEnv): [string, string][] {
  const cov = process.env.NODE_V8_COVERAGE
  const addCov = !!cov && !Object.prototype.hasOwnProperty.call(env, 'NODE_V8_COVERAGE')
  const own: [string, string | undefined][] = []
  const inherited: [string, string | undefined][] = []
  for (const k in env) {
    if (Object.prototype.hasOwnProperty.call(env, k)) own.push([k, env[k]])
    else if (!(addCov && k === 'NODE_V8_COVERAGE')) inherited.push([k, env[k]])
  }
  if (addCov) own.push(['NODE_V8_COVERAGE', cov])
  return [...own, ...inherited].filter((e): e is [string, string] => e[1] !== undefined)
}

/** `s` cut into pieces of at most `max` UTF-8 bytes, never inside a character (node encodes each piece alone). */
function pieces(s: string, max: number): string[] {
  if (s.length * 3 <= max) return [s]
  const out: string[] = []
  let start = 0
  let bytes = 0
  for (let i = 0; i < s.length;) {
    const c = s.codePointAt(i)!
    const b = c < 0x80 ? 1 : c < 0x800 ? 2 : c <= 0xffff ? 3 : 4 // a lone surrogate: U+FFFD, 3
    if (bytes + b > max) {
      out.push(s.slice(start, i))
      start = i
      bytes = 0
    }
    bytes += b
    i += c > 0xffff ? 2 : 1
  }
  out.push(s.slice(start))
  return out
}

/**
 * The carriers of `env` for ENV_EXEC: `E<i>` = `name=value` (or a piece of it) in spawn's
 * order, and ES (with ES1, ES2, … when chained). A name with `=` is refused
 * (ERR_INVALID_ARG_VALUE): to the kernel `{'A=x': '1'}` is the variable A, and with a second
 * entry for A env(1) would keep one where a plain start passes both (attack-env F3).
 */
export function envCarriers(env: NodeJS.ProcessEnv): Record<string, string> {
  return carry(spawnEntries(env), CARRIED, CARRIED)
}

function carry(entries: [string, string][], piece: number, chunk: number): Record<string, string> {
  const out: Record<string, string> = {}
  const chunks: string[][] = [[]]
  let room = chunk - 16 // `-S ${ES<n>} ` or `-- `
  let i = 0
  for (const [k, v] of entries) {
    if (k.includes('=')) throw Object.assign(new TypeError(`the environment variable name ${JSON.stringify(k)} holds a '=': a job started through medic's shim cannot be given it`), {code: 'ERR_INVALID_ARG_VALUE'})
    let ref = ''
    for (const p of pieces(`${k}=${v}`, piece)) {
      out[`E${i}`] = p
      ref += `\${E${i}}`
      i++
    }
    if (ref.length + 1 > room && chunks.at(-1)!.length) {
      chunks.push([])
      room = chunk - 16
    }
    chunks.at(-1)!.push(ref)
    room -= ref.length + 1
  }
  // The first chunk innermost, behind `--`; each outer one `-S` the next inner, then its own.
  const name = (j: number) => (j === 0 ? 'ES' : `ES${j}`)
  for (let j = 0; j < chunks.length; j++) {
    out[name(j)] = [j < chunks.length - 1 ? `-S \${${name(j + 1)}}` : '--', ...chunks[chunks.length - 1 - j]].join(' ')
  }
  return out
}

/**
 * The environment systemd-run is started with for the limits check (systemd-run --scope
 * execs the check with its own environment): the carriers of the job's environment — all the
 * check passes on — and, of medic's own, what systemd-run reads to reach its manager
 * (XDG_RUNTIME_DIR, DBUS_*, SYSTEMD_*). Not the job's variables themselves: they would ride
 * twice, and an environment a plain start takes would not fit (attack-env F1b).
 */
export function limitsCheckEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const own: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && (k === 'XDG_RUNTIME_DIR' || k.startsWith('DBUS_') || k.startsWith('SYSTEMD_'))) own[k] = v
  return {...own, ...envCarriers(env)}
}

/**
 * The command as env(1) is given it after the assignments: env takes every leading word
 * with a `=` for one, so a program named with a `=` is run through `nice -n 0 --` (an exec
 * and nothing else: niceness +0; niceProgram, probed with env), which takes it as the program.
 */
export function envCommand(argv: string[]): string[] {
  return argv[0]?.includes('=') ? [niceProgram() ?? '/usr/bin/nice', '-n', '0', '--', ...argv] : argv
}

/**
 * The constant shim a job is started through so it is in its cgroup before its first
 * instruction (and so before it can fork): the shell writes its own pid into
 * cgroup.procs and execs the argument vector, through env(1) with the job's environment
 * (ENV_EXEC: the shell's environment is only the carriers). The script is a constant; the
 * cgroup files and the job's argv are positional parameters, never part of the script
 * text. If the membership write fails the job still starts, and says so on its stderr; if
 * joining one of the `limits` cgroups fails it does not start (exit 125): its limits would
 * not bind.
 */
export function cgroupShim(cg: Cgroup | null, argv: string[], env: NodeJS.ProcessEnv, limits: string[] = [], token = ''): {argv: string[]; env: NodeJS.ProcessEnv} {
  const script = '[ -z "$1" ] || { echo $$ > "$1"; } 2>/dev/null || echo "medic: could not join cgroup $1" >&2; token=$2; shift 2; ' +
    'while [ "$1" != -- ]; do { echo $$ > "$1"; } 2>/dev/null || { echo "medic-shim $token: not started: could not join cgroup $1, its limits would not bind" >&2; exit 125; }; shift; done; ' +
    `shift; ${ENV_EXEC}`
  return {argv: ['/bin/sh', '-c', script, 'medic-cgroup-shim', cg ? join(cg.dir, 'cgroup.procs') : '', token, ...limits, '--', ...envCommand(argv)], env: envCarriers(env)}
}

/**
 * The line a shim prints when it refuses to start the job (its limits would not bind):
 * `medic-shim <token>: not started: <why>`. The token is a positional parameter of the shim,
 * gone once it execs, so the job cannot print it.
 */
export function shimRefusal(text: string, token: string): string | null {
  const at = token ? text.indexOf(`medic-shim ${token}: not started: `) : -1
  return at < 0 ? null : text.slice(at + `medic-shim ${token}: not started: `.length).split('\n')[0]
}

/**
 * Limits that bind the kernel (run-dev-safe --memory-max/--cpu-weight, medic isolate): the
 * job's own cgroup in each hierarchy that has the controller, so an over-budget job is
 * OOM-killed inside it and nothing else is.
 *
 * - cgroup v2 with the controllers: the membership cgroup made above gets memory.max
 *   (memory.swap.max 0: the budget is not stretched by swap) and cpu.weight. Its parent
 *   (medic's own cgroup) must offer them in cgroup.subtree_control: they are added where
 *   the kernel allows it (the root cgroup, or a cgroup without processes).
 * - cgroup v1 (a hybrid host: memory and cpu mounted as v1 hierarchies, the v2 tree without
 *   controllers): `medic-<kind>-…` below medic's own cgroup in the memory hierarchy
 *   (memory.limit_in_bytes, and memory.memsw.limit_in_bytes when swap accounting exists)
 *   and in the cpu hierarchy (cpu.shares, the weight mapped as systemd maps it).
 * The job joins them through the spawn shim before its first instruction; a job that
 * cannot join is not started (its limits would not bind).
 */
export interface LimitCgroups {
  hierarchy: 'v1' | 'v2' | 'systemd'
  /** cgroup.procs files the job must join before it runs. */
  procsFiles: string[]
  /**
   * systemd: `systemd-run --scope …` and the check that the limits bind, put before the job's argv (it ends in the
   * shim's token). The check execs the job through ENV_EXEC: start it with `limitsCheckEnv(env)`.
   */
  prefix: string[]
  /**
   * The memory cgroup as the kernel names it in OOM lines and /proc/<pid>/cgroup (systemd:
   * the scope's unit name, its parent slices being systemd's choice); null without a memory limit.
   */
  memory: {path: string; dir: string | null; limit: number} | null
  /** The file whose `oom_kill N` counts OOM kills inside it. */
  oomEvents: string | null
  /** Directories to remove when the job is over (v1; the v2 one is the membership cgroup). */
  dirs: string[]
  /** What was set, for the report. */
  describe: string
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return null
  }
}

function writeLimit(dir: string, file: string, value: string): string | null {
  try {
    writeFileSync(join(dir, file), value)
    return null
  } catch (e) {
    return `cannot write ${join(dir, file)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`
  }
}

/**
 * Sets the limits on the v2 membership cgroup `cg` when v2 has the controllers, else makes
 * the v1 cgroups. The reason when neither can be done: the caller must not start the job.
 */
export function applyLimits(cg: Cgroup | null, kind: string, label: string, self: {pid: number; startTime: string}, isAlive: (pid: number, startTime: string) => boolean, limits: JobLimits, token = ''): {ok: true; cgroups: LimitCgroups} | {ok: false; reason: string} {
  // Every way a job joins its limit cgroups (the shim, the systemd check) execs it through ENV_EXEC.
  const noExec = envExecUnavailable()
  if (noExec) return {ok: false, reason: noExec}
  const mounts = parseCgroupMounts(readText('/proc/self/mounts') ?? '')
  const want = [...(limits.memoryMax !== null ? ['memory'] : []), ...(limits.cpuWeight !== null ? ['cpu'] : [])]
  const why: string[] = []
  // systemd is PID 1: the tree is its own, so it is asked for a transient scope with the limits.
  if (existsSync('/run/systemd/system') && mounts.v2) {
    const systemdRun = systemProgram('systemd-run')
    if (!systemdRun) return {ok: false, reason: 'systemd is PID 1 but systemd-run was not found (/usr/bin, /bin, /usr/sbin, /sbin, medic\'s PATH)'}
    return {ok: true, cgroups: systemdScope(kind, label, self, limits, mounts.v2, token, systemdRun)}
  }
  // v2, where the membership cgroup's parent offers (or can be made to offer) the controllers.
  if (cg && mounts.v2) {
    const parent = dirname(cg.dir)
    const has = () => (readText(join(parent, 'cgroup.subtree_control')) ?? '').split(/\s+/)
    const offered = (readText(join(parent, 'cgroup.controllers')) ?? '').split(/\s+/)
    const missing = want.filter((c) => !has().includes(c))
    if (missing.every((c) => offered.includes(c))) {
      if (missing.length) writeLimit(parent, 'cgroup.subtree_control', missing.map((c) => `+${c}`).join(' '))
      const still = want.filter((c) => !has().includes(c))
      if (still.length === 0) {
        const set: string[] = []
        const errs: string[] = []
        if (limits.memoryMax !== null) {
          const e = writeLimit(cg.dir, 'memory.max', String(limits.memoryMax))
          if (e) errs.push(e)
          else set.push(`memory.max ${formatBytes(limits.memoryMax)}`)
          if (existsSync(join(cg.dir, 'memory.swap.max'))) writeLimit(cg.dir, 'memory.swap.max', '0')
        }
        if (limits.cpuWeight !== null) {
          const e = writeLimit(cg.dir, 'cpu.weight', String(limits.cpuWeight))
          if (e) errs.push(e)
          else set.push(`cpu.weight ${limits.cpuWeight}`)
        }
        if (errs.length) return {ok: false, reason: errs.join('; ')}
        return {ok: true, cgroups: {hierarchy: 'v2', procsFiles: [join(cg.dir, 'cgroup.procs')], prefix: [], memory: limits.memoryMax !== null ? {path: cg.path, dir: cg.dir, limit: limits.memoryMax} : null, oomEvents: limits.memoryMax !== null ? join(cg.dir, 'memory.events') : null, dirs: [], describe: `cgroup v2 ${cg.path}: ${set.join(', ')}`}}
      }
      why.push(`cgroup v2: ${parent} does not hand ${still.join(' and ')} to its children (cgroup.subtree_control; a cgroup with processes in it cannot)`)
    } else why.push(`cgroup v2 has no ${missing.filter((c) => !offered.includes(c)).join(' or ')} controller here (${parent}/cgroup.controllers)`)
  } else if (!mounts.v2) why.push('no cgroup2 hierarchy is mounted')
  // v1: one cgroup per hierarchy, below medic's own.
  const own = parseProcCgroup(readText('/proc/self/cgroup') ?? '')
  const name = `medic-${kind}-${label ? `${label}-` : ''}${self.pid}-${self.startTime}`
  const made: string[] = []
  const undo = (reason: string) => {
    for (const d of made.reverse()) {
      try {
        rmdirSync(d)
      } catch {}
    }
    return {ok: false as const, reason: [...why, reason].join('; ')}
  }
  const v1dir = (ctrl: string): string | {error: string} => {
    const mount = mounts.v1[ctrl]
    if (!mount) return {error: `no ${ctrl} controller in cgroup v1 either`}
    const path = own[ctrl]
    if (path === undefined) return {error: `medic is in no cgroup v1 ${ctrl} hierarchy (/proc/self/cgroup)`}
    const parent = join(mount, path)
    collectStale(parent, isAlive)
    const dir = join(parent, name)
    try {
      mkdirSync(dir)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') return {error: `cannot make ${dir}: ${(e as NodeJS.ErrnoException).code}`}
    }
    made.push(dir)
    return dir
  }
  const set: string[] = []
  const procsFiles: string[] = []
  let memory: LimitCgroups['memory'] = null
  let oomEvents: string | null = null
  if (limits.memoryMax !== null) {
    const dir = v1dir('memory')
    if (typeof dir !== 'string') return undo(dir.error)
    const e = writeLimit(dir, 'memory.limit_in_bytes', String(limits.memoryMax))
    if (e) return undo(e)
    // With swap accounting, the limit on memory + swap too: swap must not stretch the budget.
    if (existsSync(join(dir, 'memory.memsw.limit_in_bytes'))) writeLimit(dir, 'memory.memsw.limit_in_bytes', String(limits.memoryMax))
    const path = `${own.memory === '/' ? '' : own.memory}/${name}`
    memory = {path, dir, limit: limits.memoryMax}
    oomEvents = join(dir, 'memory.oom_control')
    procsFiles.push(join(dir, 'cgroup.procs'))
    set.push(`memory ${path} (memory.limit_in_bytes ${formatBytes(limits.memoryMax)})`)
  }
  if (limits.cpuWeight !== null) {
    const dir = v1dir('cpu')
    if (typeof dir !== 'string') return undo(dir.error)
    const shares = weightToShares(limits.cpuWeight)
    const e = writeLimit(dir, 'cpu.shares', String(shares))
    if (e) return undo(e)
    procsFiles.push(join(dir, 'cgroup.procs'))
    set.push(`cpu ${own.cpu === '/' ? '' : own.cpu}/${name} (cpu.shares ${shares} = cpu.weight ${limits.cpuWeight})`)
  }
  return {ok: true, cgroups: {hierarchy: 'v1', procsFiles, prefix: [], memory, oomEvents, dirs: made, describe: `cgroup v1: ${set.join(', ')}`}}
}

/**
 * The check systemdScope runs inside the scope, before the job (its argv follows): the
 * kernel files of the scope hold the limits asked for, or the job is not started (exit 125,
 * the refusal line); then the job is exec'd through ENV_EXEC, from the carriers its
 * environment came with (none: not started). It runs no program: the files are read with
 * the shell's own `read`, never a `cat` found through whatever PATH reached it, and `p`
 * starts empty (attack-env F5).
 */
export function limitsCheck(v2: string, limits: JobLimits, token: string): string[] {
  const check = 'p=; while IFS= read -r l; do case $l in 0::*) p=${l#0::};; esac; done < /proc/self/cgroup; d="$1$p"; ' +
    'for f in "memory.max:$2" "cpu.weight:$3"; do n=${f%%:*}; v=${f#*:}; [ -z "$v" ] && continue; ' +
    'x=; IFS= read -r x 2>/dev/null < "$d/$n"; ' +
    '[ "$x" = "$v" ] || { echo "medic-shim $4: not started: systemd did not set $n to $v in $d (its controller is not available there)" >&2; exit 125; }; done; ' +
    '[ -n "${ES+x}" ] || { echo "medic-shim $4: not started: its environment did not reach the scope" >&2; exit 125; }; shift 4; ' + ENV_EXEC
  return ['/bin/sh', '-c', check, 'medic-limits-check', v2, limits.memoryMax !== null ? String(limits.memoryMax) : '', limits.cpuWeight !== null ? String(limits.cpuWeight) : '', token]
}

/**
 * `systemd-run --scope` (`--user` when not root) with MemoryMax= (MemorySwapMax=0) and
 * CPUWeight=, then a constant check, run inside the scope before the job, that the kernel
 * files say what was asked (systemd sets a limit whose controller is missing silently): if
 * not, the job is not started (exit 125 with the shim's refusal line). The check execs the
 * job through ENV_EXEC: its caller starts systemd-run with limitsCheckEnv of the job's
 * environment (systemd-run --scope execs with its own environment). systemd-run by the
 * absolute path medic finds (systemProgram), not through the job's PATH.
 */
function systemdScope(kind: string, label: string, self: {pid: number; startTime: string}, limits: JobLimits, v2: string, token: string, systemdRun: string): LimitCgroups {
  const unit = `medic-${kind}-${label ? `${label}-` : ''}${self.pid}-${self.startTime}.scope`
  const props = [
    ...(limits.memoryMax !== null ? ['-p', `MemoryMax=${limits.memoryMax}`, '-p', 'MemorySwapMax=0'] : []),
    ...(limits.cpuWeight !== null ? ['-p', `CPUWeight=${limits.cpuWeight}`] : []),
  ]
  const prefix = [
    systemdRun, '--scope', '--quiet', '--collect', ...((process.getuid?.() ?? 0) === 0 ? [] : ['--user']), `--unit=${unit}`, ...props, '--',
    ...limitsCheck(v2, limits, token),
  ]
  const set = [...(limits.memoryMax !== null ? [`MemoryMax=${formatBytes(limits.memoryMax)}`] : []), ...(limits.cpuWeight !== null ? [`CPUWeight=${limits.cpuWeight}`] : [])]
  return {hierarchy: 'systemd', procsFiles: [], prefix, memory: limits.memoryMax !== null ? {path: unit, dir: null, limit: limits.memoryMax} : null, oomEvents: null, dirs: [], describe: `systemd scope ${unit}: ${set.join(', ')}`}
}

/**
 * Removes the cgroups made for a job once it is over (rmdir refuses while processes remain),
 * waiting like removeCgroupReleased (`sleep`, at most ~1 s) while none is listed but the kernel
 * has not yet released the ones it just killed (an OOM kill, a moment ago).
 */
export async function removeLimitCgroups(l: LimitCgroups, sleep: (ms: number) => Promise<void>): Promise<boolean> {
  let left = l.dirs.filter((d) => existsSync(d))
  for (let i = 0; i < 100 && left.length; i++) {
    left = left.filter((d) => {
      try {
        rmdirSync(d)
        return false
      } catch (e) {
        return (e as NodeJS.ErrnoException).code !== 'ENOENT'
      }
    })
    if (left.length === 0) break
    if (left.some((d) => (readText(join(d, 'cgroup.procs')) ?? '').trim() !== '')) return false
    await sleep(10)
  }
  return left.length === 0
}

/**
 * The memory cgroup a process is charged to (the v1 memory hierarchy where mounted, else
 * v2), the file counting OOM kills inside it, and its limit (null: none or unreadable).
 */
export function memoryCgroupOf(pid: number | 'self'): {path: string; counter: string | null; limit: number | null} | null {
  const mounts = parseCgroupMounts(readText('/proc/self/mounts') ?? '')
  const m = memcgOf(readText(`/proc/${pid}/cgroup`) ?? '', mounts.v1.memory !== undefined)
  if (!m) return null
  const dir = m.hierarchy === 'v1' ? join(mounts.v1.memory!, m.path) : mounts.v2 ? join(mounts.v2, m.path) : null
  if (!dir) return {path: m.path, counter: null, limit: null}
  const file = join(dir, m.hierarchy === 'v1' ? 'memory.oom_control' : 'memory.events')
  return {path: m.path, counter: existsSync(file) ? file : null, limit: limitIn(dir, m.hierarchy)}
}

function limitIn(dir: string, hierarchy: 'v1' | 'v2'): number | null {
  const raw = (readText(join(dir, hierarchy === 'v1' ? 'memory.limit_in_bytes' : 'memory.max')) ?? '').trim()
  return /^\d+$/.test(raw) && Number(raw) < 2 ** 62 ? Number(raw) : null
}

/** The memory limit of a memory cgroup named as the kernel's OOM line names it (oom_memcg=), in the hierarchy memory is charged in. */
export function memoryLimitOf(path: string): number | null {
  if (!path.startsWith('/') || path.split('/').includes('..')) return null
  const mounts = parseCgroupMounts(readText('/proc/self/mounts') ?? '')
  if (mounts.v1.memory !== undefined) return limitIn(join(mounts.v1.memory, path), 'v1')
  return mounts.v2 ? limitIn(join(mounts.v2, path), 'v2') : null
}

/** The `oom_kill N` count of a memory.oom_control / memory.events file; null when unreadable. */
export function oomKillCount(file: string | null): number | null {
  if (!file) return null
  const m = /^oom_kill (\d+)/m.exec(readText(file) ?? '')
  return m ? Number(m[1]) : null
}

/** The cgroups a job runs in, as a seam for ops (supervise): made for it, removed once released. */
export interface JobCgroups {
  make: typeof makeCgroup
  removeReleased: typeof removeCgroupReleased
  /** The kernel's record of processes of `seed`'s lineage moved out of the cgroup (sys/cgroup-watch.ts); absent: not watched. */
  watchEscapes?: (cgroupPath: string, seed: number) => {ok: true; watch: EscapeWatch} | {ok: false; reason: string}
}

export interface EscapeWatch {
  drain(): void
  /** pid → the cgroup it was moved to, for processes of the lineage still outside. */
  escaped(): Map<number, string>
  /** Trace events dropped (-1: unknown): then nothing is proven. */
  overrun(): number
  close(): void
}

export const jobCgroups: JobCgroups = {make: makeCgroup, removeReleased: removeCgroupReleased, watchEscapes: (path, seed) => CgroupEscapeWatch.open(path, seed)}
