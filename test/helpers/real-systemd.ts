/**
 * The real-systemd test tier: a REAL systemd (the distro's /lib/systemd/systemd, 252 on
 * bookworm) booted as PID 1 of private pid+mount+cgroup+net+uts+ipc namespaces with an
 * overlay root, so tests drive real units, systemctl, journalctl, Restart=, timers,
 * cgroups and `systemd --user` (a lingering user) on a host whose PID 1 is not systemd.
 *
 *   const rs = useRealSystemd()              // in a describe: boots in beforeAll, down in afterAll
 *   describe.skipIf(REAL_SYSTEMD_SKIP) …     // REAL_SYSTEMD_SKIP: why it cannot boot here, or null
 *   await rs().sh('systemctl start x')       // a command inside, as root
 *   await rs().medic(['health', …])          // the worktree's medic, run inside
 *
 * What keeps the host safe is in real-systemd-init.sh (the namespace's PID 1 before it
 * execs systemd) and in BOOT_ARGS below: boot only to basic.target and mask every unit
 * that would act on the host (sysctl, modules, binfmt, udev, time sync, tmpfiles cleaning,
 * getty, apt/dpkg/e2scrub/fstrim/man-db/logrotate timers). A naive boot runs
 * `systemd-tmpfiles --remove --boot` on the shared /tmp (where every engineer's tests live)
 * and starts the host's enabled services on the host network.
 *
 * Every instance is named `medic-<pid>-<random>`: its state dir is
 * <tmpdir>/medic-real-systemd/<name>/, its cgroup <cgroup2>/medic-rs-<name>/. It is torn
 * down by `down()` (afterAll), by a synchronous kill on process exit, and — for an owner
 * that was SIGKILLed — by the reaper every boot runs first (an instance whose owner, by pid
 * and start time, is gone).
 */
import {spawn, spawnSync, type ChildProcess} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {chmodSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync, rmSync, statfsSync, statSync, unlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll} from 'vitest'
import {BIN, ROOT, type MedicResult} from './procs.js'

const INIT = join(ROOT, 'test/helpers/real-systemd-init.sh')
const SYSTEMD = '/lib/systemd/systemd'
const STATE_ROOT = join(tmpdir(), 'medic-real-systemd')
const PATH_INSIDE = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
const CGROUP2_MAGIC = 0x63677270

/** Units that would act on the host or start host services: never started inside. */
export const MASKED_UNITS = [
  'systemd-sysctl.service', 'systemd-modules-load.service', 'systemd-binfmt.service', 'proc-sys-fs-binfmt_misc.automount',
  'systemd-udevd.service', 'systemd-udev-trigger.service', 'systemd-timesyncd.service', 'systemd-tmpfiles-clean.timer',
  'getty.target', 'console-getty.service', 'apt-daily.timer', 'apt-daily-upgrade.timer', 'dpkg-db-backup.timer',
  'e2scrub_all.timer', 'fstrim.timer', 'man-db.timer', 'logrotate.timer',
] as const
const BOOT_ARGS = ['systemd.unit=basic.target', ...MASKED_UNITS.map((u) => `systemd.mask=${u}`)]

export interface ExecResult {
  code: number | null
  signal: string | null
  stdout: string
  stderr: string
}

export interface User {
  name: string
  uid: number
  gid: number
  home: string
}

export interface ExecOptions {
  /** Run as this user (setpriv; XDG_RUNTIME_DIR and the user bus set, as a login would). */
  user?: User
  env?: Record<string, string>
  input?: string
  timeoutMs?: number
  /** Working directory inside (default /). */
  cwd?: string
}

export interface RealSystemd {
  name: string
  /** The namespace's PID 1 (systemd) as the host sees it. */
  initPid: number
  /** A host directory bound read-write at the same path inside: fixtures' ready files, logs. */
  share: string
  /** Runs argv inside every namespace of the instance. Lands outside every unit's cgroup (an "orphan"). */
  exec(argv: string[], opts?: ExecOptions): Promise<ExecResult>
  /** `sh -c script` inside; throws with stderr when it exits non-zero. */
  sh(script: string, opts?: ExecOptions): Promise<string>
  /** The worktree's medic (bin/run.js), run inside. */
  medic(args: string[], opts?: ExecOptions): Promise<MedicResult>
  /** Starts argv in its own session inside and returns at once (output to `log`, default /dev/null). */
  spawnDetached(argv: string[], opts?: {user?: User; log?: string}): Promise<void>
  writeFile(path: string, text: string, mode?: string): Promise<void>
  readFile(path: string): Promise<string | null>
  /** `useradd -m` and, with linger, wait until its `systemd --user` (user@UID.service) is up. */
  addUser(name: string, opts?: {linger?: boolean}): Promise<User>
  down(): Promise<void>
}

function isAlive(pid: number): boolean {
  try {
    const st = readFileSync(`/proc/${pid}/stat`, 'latin1')
    const s = st.slice(st.lastIndexOf(')') + 2, st.lastIndexOf(')') + 3)
    return s !== 'Z' && s !== 'X'
  } catch {
    return false
  }
}

function startTimeOf(pid: number): string | null {
  try {
    const st = readFileSync(`/proc/${pid}/stat`, 'latin1')
    return st.slice(st.lastIndexOf(')') + 2).split(' ')[19] ?? null
  } catch {
    return null
  }
}

function cgroup2Base(): string | null {
  for (const p of ['/sys/fs/cgroup', '/sys/fs/cgroup/unified']) {
    try {
      if (statfsSync(p).type === CGROUP2_MAGIC) return p
    } catch {}
  }
  return null
}

function onPath(cmd: string): boolean {
  return (process.env.PATH ?? PATH_INSIDE).split(':').concat(PATH_INSIDE.split(':')).some((d) => existsSync(join(d, cmd)))
}

/** Why a real systemd cannot boot here, or null when it can. */
export function realSystemdSkipReason(): string | null {
  if (process.platform !== 'linux') return 'not Linux'
  if (process.getuid?.() !== 0) return 'needs root (namespaces, mounts, cgroups)'
  if (!existsSync(SYSTEMD)) return `no ${SYSTEMD}`
  if (!cgroup2Base()) return 'no cgroup2 hierarchy (/sys/fs/cgroup or /sys/fs/cgroup/unified)'
  for (const c of ['unshare', 'nsenter', 'setpriv', 'ip']) if (!onPath(c)) return `no ${c} on PATH`
  try {
    if (!/\toverlay$/m.test(readFileSync('/proc/filesystems', 'utf8'))) return 'no overlayfs'
  } catch {
    return 'no /proc/filesystems'
  }
  const probe = spawnSync('unshare', ['--pid', '--fork', '--mount', '--cgroup', '--net', '--uts', '--ipc', '--propagation', 'private', 'true'], {timeout: 5000})
  if (probe.status !== 0) return `unshare cannot create namespaces here (${String(probe.stderr ?? '').trim() || `exit ${probe.status}`})`
  return null
}

let skipMemo: string | null | undefined
/** Computed once per test file. */
export function realSystemdSkip(): string | null {
  if (skipMemo === undefined) skipMemo = realSystemdSkipReason()
  return skipMemo
}

interface Owner {
  pid: number
  startTime: string
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim()
  } catch {
    return null
  }
}

function initPidOf(unsharePid: number): number | null {
  const kids = readText(`/proc/${unsharePid}/task/${unsharePid}/children`)
  const first = kids?.split(/\s+/)[0]
  return first ? Number(first) : null
}

function rmdirTree(dir: string): void {
  let names: string[] = []
  try {
    names = readdirSync(dir, {withFileTypes: true}).filter((d) => d.isDirectory()).map((d) => d.name)
  } catch {
    return
  }
  for (const n of names) rmdirTree(join(dir, n))
  try {
    rmdirSync(dir)
  } catch {}
}

/**
 * Kills the instance in `dir` (SIGKILL to its PID 1 ends the whole pid namespace, and with
 * it every mount, the overlay and the network namespace), then removes its cgroup subtree
 * and its state dir — file by file, never recursively, so a leaked mount is never emptied.
 */
function killSync(dir: string): void {
  const guardPid = Number(readText(join(dir, 'guard.pid')) ?? 0)
  if (guardPid > 1 && startTimeOf(guardPid) === readText(join(dir, 'guard.start'))) {
    try {
      process.kill(guardPid, 'SIGKILL')
    } catch {}
  }
  const unsharePid = Number(readText(join(dir, 'unshare.pid')) ?? 0)
  const unshareStart = readText(join(dir, 'unshare.start'))
  if (unsharePid > 1 && startTimeOf(unsharePid) === unshareStart) {
    const init = initPidOf(unsharePid)
    try {
      if (init) process.kill(init, 'SIGKILL')
    } catch {}
    try {
      process.kill(unsharePid, 'SIGKILL')
    } catch {}
  }
}

async function cleanupDir(dir: string): Promise<void> {
  const unsharePid = Number(readText(join(dir, 'unshare.pid')) ?? 0)
  const unshareStart = readText(join(dir, 'unshare.start'))
  killSync(dir)
  // Bounds a failure (something that survives the kill), not a synchronisation: on a loaded
  // host the namespace's init can take seconds to finish dying after unshare has gone.
  const end = Date.now() + 30_000
  while (unsharePid > 1 && startTimeOf(unsharePid) === unshareStart && isAlive(unsharePid) && Date.now() < end) await new Promise((r) => setTimeout(r, 20))
  const cg = readText(join(dir, 'cgroup'))
  // Every process of the instance (its init included) is gone before the folders go.
  if (cg && /\/medic-rs-medic-\d+-[0-9a-f]+$/.test(cg)) {
    // cgroup2's `populated` counts the sub-cgroups systemd made inside too.
    while (Date.now() < end && /^populated 1$/m.test(readText(join(cg, 'cgroup.events')) ?? '')) await new Promise((r) => setTimeout(r, 20))
  }
  if (cg && /\/medic-rs-medic-\d+-[0-9a-f]+$/.test(cg)) {
    // The kernel frees a cgroup a moment after its last process died.
    for (let i = 0; i < 100 && existsSync(cg); i++) {
      rmdirTree(cg)
      if (existsSync(cg)) await new Promise((r) => setTimeout(r, 20))
    }
  }
  for (const f of ['owner.json', 'unshare.pid', 'unshare.start', 'guard.pid', 'guard.start', 'cgroup', 'boot.log']) {
    try {
      unlinkSync(join(dir, f))
    } catch {}
  }
  // The share dir is a plain host dir once the namespace is gone; never remove through a mount.
  const share = join(dir, 'share')
  try {
    if (statSync(share).dev === statSync(dir).dev) rmSync(share, {recursive: true, force: true})
  } catch {}
  for (const d of ['mnt', '']) {
    try {
      rmdirSync(join(dir, d))
    } catch {}
  }
}

/** Tears down every instance whose owner (by pid and start time) is gone. Returns their names. */
export async function reapOrphans(): Promise<string[]> {
  let names: string[] = []
  try {
    names = readdirSync(STATE_ROOT).filter((n) => /^medic-\d+-[0-9a-f]+$/.test(n))
  } catch {
    return []
  }
  const reaped: string[] = []
  for (const n of names) {
    const dir = join(STATE_ROOT, n)
    let owner: Owner | null = null
    try {
      owner = JSON.parse(readFileSync(join(dir, 'owner.json'), 'utf8')) as Owner
    } catch {}
    if (owner && startTimeOf(owner.pid) === owner.startTime) continue
    // No owner file: an instance being created this instant (its first write), or a leftover.
    if (!owner && Date.now() - (statSync(dir, {throwIfNoEntry: false})?.mtimeMs ?? 0) < 10_000) continue
    await cleanupDir(dir)
    reaped.push(n)
  }
  return reaped
}

function runCollect(cmd: string, args: string[], opts: {input?: string; timeoutMs: number}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, {stdio: ['pipe', 'pipe', 'pipe'], env: {PATH: PATH_INSIDE}})
    let stdout = ''
    let stderr = ''
    const timer = setTimeout(() => c.kill('SIGKILL'), opts.timeoutMs)
    c.stdout.on('data', (d) => (stdout += d))
    c.stderr.on('data', (d) => (stderr += d))
    c.on('error', (e) => {
      clearTimeout(timer)
      reject(e)
    })
    c.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({code, signal, stdout, stderr})
    })
    c.stdin.on('error', () => {}) // a command that exits without reading its input
    c.stdin.end(opts.input ?? '')
  })
}

const live = new Set<string>()
let exitHook = false

/** Boots one instance. `binds`: extra host dirs bound read-only at the same path (the worktree always is). */
export async function bootRealSystemd(opts: {binds?: string[]; timeoutMs?: number} = {}): Promise<RealSystemd> {
  const why = realSystemdSkip()
  if (why) throw new Error(`real systemd cannot boot here: ${why}`)
  await reapOrphans()
  const name = `medic-${process.pid}-${randomBytes(4).toString('hex')}`
  const dir = join(STATE_ROOT, name)
  const share = join(dir, 'share')
  mkdirSync(join(dir, 'mnt'), {recursive: true, mode: 0o700})
  mkdirSync(share)
  chmodSync(share, 0o1777) // fixtures run as a test user inside write their ready files here
  writeFileSync(join(dir, 'owner.json'), JSON.stringify({pid: process.pid, startTime: startTimeOf(process.pid)}))
  const cg = join(cgroup2Base()!, `medic-rs-${name}`)
  mkdirSync(cg)
  writeFileSync(join(dir, 'cgroup'), cg)
  live.add(dir)
  if (!exitHook) {
    exitHook = true
    process.on('exit', () => {
      for (const d of live) killSync(d)
    })
  }

  const log = openSync(join(dir, 'boot.log'), 'w')
  // The launcher joins the instance's own cgroup first, then unshares: the namespace's
  // cgroup tree is that subtree and nothing else. detached: its own session, no setsid(1)
  // fork, so the pid we record is unshare's.
  const child: ChildProcess = spawn('/bin/sh', ['-c', 'echo $$ > "$1/cgroup.procs" && shift && exec unshare --pid --fork --mount --cgroup --net --uts --ipc --propagation private -- "$@"', 'sh', cg, INIT, join(dir, 'mnt'), ...BOOT_ARGS], {
    detached: true,
    stdio: ['ignore', log, log],
    env: {PATH: PATH_INSIDE, RO_BINDS: [ROOT.replace(/\/$/, ''), ...(opts.binds ?? [])].join('\n'), RW_BINDS: share},
  })
  closeSync(log)
  child.unref()
  const unsharePid = child.pid!
  writeFileSync(join(dir, 'unshare.pid'), String(unsharePid))
  writeFileSync(join(dir, 'unshare.start'), startTimeOf(unsharePid) ?? '')
  let exited = false
  child.once('exit', () => (exited = true))

  const fail = async (what: string): Promise<never> => {
    const bootLog = readText(join(dir, 'boot.log')) ?? ''
    live.delete(dir)
    await cleanupDir(dir)
    throw new Error(`real systemd ${name}: ${what}\n${bootLog.slice(-4000)}`)
  }

  const end = Date.now() + (opts.timeoutMs ?? 30_000)
  let init: number | null = null
  while (!init) {
    if (exited) return fail('exited during boot')
    if (Date.now() > end) return fail('no PID 1 in time')
    init = initPidOf(unsharePid)
    if (!init) await new Promise((r) => setTimeout(r, 10))
  }
  const initPid = init
  // The guard: if the owner dies without tearing down (SIGKILLed test runner), the namespace
  // dies with it at once (its PID 1 SIGKILLed); the next boot's reaper removes what is left.
  const guard = spawn('/bin/sh', ['-c', 'while [ "$(sed "s/.*) //" /proc/$1/stat 2>/dev/null | cut -d" " -f20)" = "$2" ]; do sleep 1; done; kill -KILL "$3" 2>/dev/null', 'guard', String(process.pid), startTimeOf(process.pid) ?? '', String(initPid)], {detached: true, stdio: 'ignore', env: {PATH: PATH_INSIDE}})
  guard.unref()
  writeFileSync(join(dir, 'guard.pid'), String(guard.pid))
  writeFileSync(join(dir, 'guard.start'), startTimeOf(guard.pid!) ?? '')
  const nsenter = (argv: string[], o: ExecOptions = {}) => {
    const env = {PATH: PATH_INSIDE, LANG: 'C.UTF-8', TERM: 'dumb', ...(o.user
      ? {HOME: o.user.home, USER: o.user.name, LOGNAME: o.user.name, XDG_RUNTIME_DIR: `/run/user/${o.user.uid}`, DBUS_SESSION_BUS_ADDRESS: `unix:path=/run/user/${o.user.uid}/bus`}
      : {HOME: '/root'}), ...o.env}
    const as = o.user ? ['setpriv', `--reuid=${o.user.uid}`, `--regid=${o.user.gid}`, '--init-groups'] : []
    return ['-t', String(initPid), '-a', ...(o.cwd ? [`--wd=${o.cwd}`] : []), '--', ...as, '/usr/bin/env', '-i', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...argv]
  }
  const exec = (argv: string[], o: ExecOptions = {}) => runCollect('nsenter', nsenter(argv, o), {input: o.input, timeoutMs: o.timeoutMs ?? 60_000})
  const sh = async (script: string, o: ExecOptions = {}) => {
    const r = await exec(['/bin/sh', '-c', script], o)
    if (r.code !== 0) throw new Error(`inside ${name}: sh -c ${JSON.stringify(script)}: exit ${r.code ?? r.signal}: ${r.stderr.trim()}`)
    return r.stdout
  }

  // Boot is done when the manager says so (running, or degraded with the failed units named).
  for (;;) {
    if (exited) return fail('exited during boot')
    if (Date.now() > end) return fail('boot did not finish in time')
    const r = await exec(['systemctl', 'is-system-running', '--wait'], {timeoutMs: Math.max(1000, end - Date.now())})
    const state = r.stdout.trim()
    if (state === 'running') break
    if (state === 'degraded') {
      const failed = await exec(['systemctl', 'list-units', '--state=failed', '--no-legend', '--plain'])
      process.stderr.write(`real systemd ${name}: degraded boot; failed units: ${failed.stdout.trim().replace(/\n/g, '; ')}\n`)
      break
    }
    await new Promise((r) => setTimeout(r, 50))
  }

  const rs: RealSystemd = {
    name,
    initPid,
    share,
    exec,
    sh,
    async medic(args, o = {}) {
      const r = await exec([process.execPath, BIN, ...args], {...o, env: {NO_COLOR: '1', ...o.env}})
      return {code: r.code ?? -1, stdout: r.stdout, stderr: r.stderr, lines: r.stdout.split('\n').filter((l) => l !== '')}
    },
    async spawnDetached(argv, o = {}) {
      const r = await exec(['/bin/sh', '-c', 'exec setsid -f "$@" </dev/null >>"$LOG" 2>&1', 'sh', ...argv], {user: o.user, env: {LOG: o.log ?? '/dev/null'}})
      if (r.code !== 0) throw new Error(`spawnDetached ${argv.join(' ')} inside ${name}: ${r.stderr.trim()}`)
    },
    async writeFile(path, text, mode = '0644') {
      // Written beside and renamed into place: a reader polling for the file (a fixture that
      // consumes and deletes it) never sees it half-written or before its mode is set.
      const r = await exec(['/bin/sh', '-c', 'umask 022 && cat > "$1.tmp-$$" && chmod "$2" "$1.tmp-$$" && mv -f "$1.tmp-$$" "$1"', 'sh', path, mode], {input: text})
      if (r.code !== 0) throw new Error(`writeFile ${path} inside ${name}: ${r.stderr.trim()}`)
    },
    async readFile(path) {
      const r = await exec(['cat', path])
      return r.code === 0 ? r.stdout : null
    },
    async addUser(user, o = {}) {
      await sh('useradd -m -s /bin/sh "$U"', {env: {U: user}})
      const [uid, gid] = (await sh('id -u "$U"; id -g "$U"', {env: {U: user}})).trim().split('\n').map(Number)
      const u: User = {name: user, uid, gid, home: `/home/${user}`}
      if (o.linger) {
        await sh('loginctl enable-linger "$U"', {env: {U: user}})
        const until = Date.now() + 20_000
        for (;;) {
          const r = await exec(['systemctl', 'is-active', `user@${uid}.service`])
          if (r.stdout.trim() === 'active' && existsSync(`/proc/${initPid}/root/run/user/${uid}/bus`)) break
          if (Date.now() > until) throw new Error(`user@${uid}.service not active: ${r.stdout.trim()}`)
          await new Promise((res) => setTimeout(res, 50))
        }
      }
      return u
    },
    async down() {
      live.delete(dir)
      await cleanupDir(dir)
    },
  }
  return rs
}

/**
 * For a describe block: boots one instance in beforeAll (once per file is the intended
 * cost: ~0.5–2 s), tears it down in afterAll. Use with describe.skipIf(realSystemdSkip()).
 */
export function useRealSystemd(opts: {binds?: string[]} = {}): () => RealSystemd {
  let rs: RealSystemd | null = null
  beforeAll(async () => {
    if (realSystemdSkip()) return
    rs = await bootRealSystemd(opts)
  }, 60_000)
  afterAll(async () => {
    await rs?.down()
    rs = null
  }, 30_000)
  return () => {
    if (!rs) throw new Error('real systemd is not up')
    return rs
  }
}

/** Prints why the real-systemd tests of a file are skipped (call at module level). */
export function announceRealSystemdSkip(what: string): string | null {
  const why = realSystemdSkip()
  if (why) console.log(`skipped ${what}: ${why}`)
  return why
}
