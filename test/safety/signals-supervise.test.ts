// supervise leaves nothing behind (issue 9, defect 4): after every child exit and on
// stop, whatever the child started — in its process group, in a new session, reparented —
// is killed, and what cannot be is reported, never "no process left".
import {spawn, type ChildProcess} from 'node:child_process'
import {existsSync, readdirSync, readFileSync, rmdirSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {alive, BIN, freePort, Janitor, SERVICE, until} from '../helpers/procs.js'
import {TestUsers} from '../helpers/users.js'

const j = new Janitor()
const users = new TestUsers()
/** Every process started under a test's own environment mark: the test's leftovers, found without medic. */
const marked = (mark: string): number[] =>
  readdirSync('/proc').filter((n) => /^\d+$/.test(n)).map(Number).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(`SAFETY_MARK=${mark}`) && alive(pid)
    } catch {
      return false
    }
  })
const marks: string[] = []
afterEach(async () => {
  // What a failing run leaves behind is killed by pid, found by this test's own mark.
  for (const m of marks.splice(0)) {
    for (const pid of marked(m)) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {}
    }
  }
  await j.cleanup()
  users.removeAll()
})

interface Sup {
  child: ChildProcess
  dir: string
  mark: string
  out: () => string
  state: () => any
  exited: Promise<number | null>
}

function superviseRun(args: string[], cmd: string[], env: NodeJS.ProcessEnv = {}, as?: {uid: number; gid: number; home: string}): Sup {
  const dir = as ? as.home : j.tmp()
  const mark = `${process.pid}-${Math.random().toString(36).slice(2)}`
  marks.push(mark)
  let out = ''
  const child = spawn(process.execPath, [BIN, 'supervise', '--name', 'gw', '--state-dir', dir, '--env', `SAFETY_MARK=${mark}`, ...args, '--', ...cmd], {stdio: ['ignore', 'pipe', 'ignore'], detached: true, env: {...process.env, NO_COLOR: '1', ...env}, ...(as ? {uid: as.uid, gid: as.gid, cwd: as.home} : {})})
  j.child(child)
  child.stdout!.on('data', (d) => (out += d))
  const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)))
  const state = () => {
    try {
      return JSON.parse(readFileSync(join(dir, 'supervise', 'gw.json'), 'utf8'))
    } catch {
      return null
    }
  }
  return {child, dir, mark, out: () => out, state, exited}
}

describe('supervise kills what the child leaves behind', () => {
  it('0 leftovers after 100 crash cycles of a child that forks, setsids and crashes', async () => {
    const s = superviseRun(['--max-backoff', '1ms', '--max-restarts', '100000', '--min-uptime', '1h', '--grace', '2s'], ['sh', '-c', 'sleep 100000 & sleep 100000 & setsid sleep 100000 & exit 1'])
    await until('100 crash cycles', () => (s.state()?.starts ?? 0) > 100 || null, 120_000)
    s.child.kill('SIGTERM')
    expect(await s.exited).toBe(0)
    expect(s.out().trim().split('\n').at(-1)).toMatch(/^SUPERVISOR_OK: gw supervisor stopped; no process of the service left/)
    expect(marked(s.mark)).toEqual([])
  }, 180_000)

  it('without a cgroup (another user, not root): 0 leftovers after 20 crash cycles, found by group, session and mark', async (ctx) => {
    const why = users.cannot()
    if (why) {
      console.log(`skipped: ${why}`)
      return ctx.skip()
    }
    const u = users.create()
    const s = superviseRun(['--max-backoff', '1ms', '--max-restarts', '100000', '--min-uptime', '1h', '--grace', '2s'], ['sh', '-c', 'sleep 100000 & sleep 100000 & setsid sleep 100000 & exit 1'], {HOME: u.home}, u)
    await until('20 crash cycles', () => (s.state()?.starts ?? 0) > 20 || null, 60_000)
    s.child.kill('SIGTERM')
    expect(await s.exited).toBe(2) // nothing found, but without a cgroup that cannot be verified (E2)
    expect(s.out().trim().split('\n').at(-1)).toMatch(/^SUPERVISOR_ALERT: gw supervisor stopped; cannot verify that no process of the service is left: without a cgroup/)
    expect(marked(s.mark)).toEqual([])
  }, 90_000)

  it('0 leftovers after one SIGKILL of a child that has a grandchild (one in its group, one in a new session)', async () => {
    const grandchildren = join(j.tmp(), 'grandchildren')
    const s = superviseRun(['--max-backoff', '1ms', '--min-uptime', '1h'], ['sh', '-c', 'sleep 100000 & a=$!; setsid sleep 100000 & echo "$a $!" > "$0"; wait', grandchildren])
    const first = await until('the first child and its grandchildren', () => {
      const st = s.state()
      try {
        // The shell creates the file before it writes the two pids: read it until both are there.
        const kids = readFileSync(grandchildren, 'utf8').trim().split(' ').map(Number)
        return st?.state === 'running' && st.child && kids.length === 2 && kids.every((k) => k > 0) ? {child: st.child.pid as number, kids} : null
      } catch {
        return null
      }
    })
    expect(first.kids.every(alive)).toBe(true)
    process.kill(first.child, 'SIGKILL')
    await until('a second child', () => (s.state()?.starts ?? 0) >= 2 || null)
    expect(first.kids.filter(alive)).toEqual([]) // reaped before the restart
    s.child.kill('SIGTERM')
    expect(await s.exited).toBe(0)
    expect(marked(s.mark)).toEqual([])
  })

  it('a supervisor running inside a run-dev-safe job still manages its own child (the protection is against medic runs from outside)', async () => {
    const dir = j.tmp()
    const mark = `${process.pid}-${Math.random().toString(36).slice(2)}`
    marks.push(mark)
    let out = ''
    const wrapper = spawn(process.execPath, [BIN, 'run-dev-safe', '--state-dir', join(dir, 'rds'), '--no-trace', '--', process.execPath, BIN, 'supervise', '--name', 'gw', '--state-dir', dir, '--env', `SAFETY_MARK=${mark}`, '--max-backoff', '1ms', '--max-restarts', '100000', '--min-uptime', '1h', '--', 'sh', '-c', 'sleep 100000 & setsid sleep 100000 & exit 1'], {stdio: ['ignore', 'pipe', 'ignore'], detached: true, env: {...process.env, NO_COLOR: '1', MEDIC_PROTECTED_DIR: join(dir, 'registry')}})
    j.child(wrapper)
    wrapper.stdout!.on('data', (d) => (out += d))
    const exited = new Promise<number | null>((r) => wrapper.once('exit', (c) => r(c)))
    const state = () => {
      try {
        return JSON.parse(readFileSync(join(dir, 'supervise', 'gw.json'), 'utf8'))
      } catch {
        return null
      }
    }
    await until('5 crash cycles inside the protected job', () => (state()?.starts ?? 0) > 5 || null)
    expect(marked(mark).length).toBeLessThanOrEqual(2) // at most the current cycle's two sleeps: earlier ones were reaped
    wrapper.kill('SIGTERM') // forwarded to the job: the supervisor stops
    expect(await exited).toBe(0)
    expect(out.trim().split('\n').at(-1)).toMatch(/^SUPERVISOR_OK: gw supervisor stopped; no process of the service left/)
    expect(marked(mark)).toEqual([])
  })

  it('names what it could not stop instead of saying "no process left"', async () => {
    // The child starts a process and registers it with `medic protect add`: a registration
    // the supervisor's capability over its own job does not override.
    const dir = j.tmp()
    const registered = join(dir, 'registered')
    const script = 'sleep 100000 & s=$!; "$0" "$1" protect add --pid $s --state-dir "$2" > /dev/null && echo $s > "$3"; wait'
    const s = superviseRun(['--inherit-env', '--grace', '500ms'], ['sh', '-c', script, process.execPath, BIN, join(dir, 'state'), registered], {MEDIC_PROTECTED_DIR: join(dir, 'registry')})
    const sleeper = Number(await until('the registered sleeper', () => existsSync(registered) && readFileSync(registered, 'utf8').trim()))
    s.child.kill('SIGTERM')
    expect(await s.exited).toBe(2)
    expect(s.out().trim().split('\n').at(-1)).toMatch(new RegExp(`^SUPERVISOR_ALERT: gw supervisor stopped; 1 process\\(es\\) of the service still running: pid ${sleeper} \\(sleep, by group\\)$`))
    expect(alive(sleeper)).toBe(true)
  })

  it('E2: without a cgroup the closing verdict never claims "no process left": it cannot see a process that left its session and cleared its environment', async (ctx) => {
    const why = users.cannot()
    if (why) {
      console.log(`skipped: ${why}`)
      return ctx.skip()
    }
    const u = users.create()
    const left = join(u.home, 'left')
    const s = superviseRun(['--max-backoff', '1ms', '--max-restarts', '100000', '--min-uptime', '1h', '--grace', '2s'], ['sh', '-c', `env -i setsid sleep 100000 & echo $! >> ${left}; exit 1`], {HOME: u.home}, u)
    j.later(() => (existsSync(left) ? readFileSync(left, 'utf8').trim().split('\n').map(Number) : []))
    await until('3 crash cycles', () => (s.state()?.starts ?? 0) > 3 || null, 60_000)
    s.child.kill('SIGTERM')
    await s.exited
    const last = s.out().trim().split('\n').at(-1)!
    expect(last).not.toMatch(/no process of the service left/)
    expect(last).toMatch(/^SUPERVISOR_ALERT: gw supervisor stopped; cannot verify that no process of the service is left: without a cgroup \(/)
    expect(JSON.parse(readFileSync(join(u.home, 'last', 'supervise.SUPERVISOR.json'), 'utf8')).summary).toMatch(/a process that left the service's session and cleared its environment cannot be found; none found by process group, session, MEDIC_JOB mark$/)
  }, 90_000)

  it('E2: a root child that writes itself out of the cgroup (then setsid, env -i): its leftovers are named, never "no process left"', async (ctx) => {
    if (process.getuid?.() !== 0) {
      console.log('skipped: needs root (a cgroup and the kernel tracepoints)')
      return ctx.skip()
    }
    const mount = readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')).find((f) => f[2] === 'cgroup2')?.[1]
    if (!mount) {
      console.log('skipped: no cgroup2 mount')
      return ctx.skip()
    }
    const own = /^0::(\S*)$/m.exec(readFileSync('/proc/self/cgroup', 'utf8'))![1]
    const left = join(j.tmp(), 'left')
    // Back to the test's own cgroup (outside supervise's), out of the session, environment cleared.
    const s = superviseRun(['--max-backoff', '1ms', '--max-restarts', '100000', '--min-uptime', '1h', '--grace', '2s'], ['sh', '-c', `echo 0 > ${join(mount, own, 'cgroup.procs')} && env -i setsid sleep 100000 & echo $! >> ${left}; exit 1`])
    j.later(() => (existsSync(left) ? readFileSync(left, 'utf8').trim().split('\n').map(Number) : []))
    await until('3 crash cycles', () => (s.state()?.starts ?? 0) > 3 || null, 60_000)
    s.child.kill('SIGTERM')
    await s.exited
    const last = s.out().trim().split('\n').at(-1)!
    const leftovers = readFileSync(left, 'utf8').trim().split('\n').map(Number).filter(alive)
    expect(leftovers.length).toBeGreaterThan(0) // the escape worked: medic could not reach them
    expect(last).not.toMatch(/no process of the service left/)
    expect(last).toMatch(/^SUPERVISOR_ALERT: gw supervisor stopped; \d+ process\(es\) of the service left its cgroup \/\S*medic-supervise-gw-\S+ and may still run/)
  }, 90_000)
})

/** The supervisor's held spare: its child that runs the hold shell (past the cgroup shim). */
const spareOf = (sup: number | undefined): number | null => {
  for (const pid of readFileSync(`/proc/${sup}/task/${sup}/children`, 'latin1').trim().split(' ').filter(Boolean).map(Number)) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0')[3] === 'medic-spare') return pid
    } catch {}
  }
  return null
}
const cgroupOf = (pid: number) => /^0::(\S*)$/m.exec(readFileSync(`/proc/${pid}/cgroup`, 'latin1'))?.[1] ?? null
const lines = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8').trim().split('\n').filter(Boolean) : [])

describe("supervise's spare (a stable run restarts through a child forked ahead into the cgroup)", () => {
  // Each run records its pid and whether the previous run's setsid'd grandchild is still
  // alive (not a zombie) when it starts, then leaves a new one behind and becomes the service.
  const run = (dir: string, port: number): string[] => ['sh', '-c',
    'echo $$ >> "$0/starts"; k=$(cat "$0/kid" 2>/dev/null); st=$(cut -d" " -f3 "/proc/$k/stat" 2>/dev/null); ' +
    '[ -n "$k" ] && [ -n "$st" ] && [ "$st" != Z ] && echo "$k $st" >> "$0/alive"; setsid sleep 100000 & echo $! > "$0/kid"; exec "$1" "$2" --port "$3"',
    dir, process.execPath, SERVICE, String(port)]
  /** A supervisor of `run` past its first stable run, and the spare it then holds. */
  const withSpare = async (args: string[]) => {
    const dir = j.tmp()
    const port = await freePort()
    const s = superviseRun(['--port', String(port), '--min-uptime', '200ms', ...args], run(dir, port))
    const first = await until('a stable run', () => (s.state()?.stable && s.state().child ? s.state().child.pid as number : null))
    const spare = await until('its spare, held', () => spareOf(s.child.pid))
    return {s, dir, port, first, spare}
  }
  const rootOnly = (ctx: {skip: () => void}) => {
    if (process.getuid?.() === 0) return false
    console.log('skipped: needs root (a spare is made only where supervise makes a cgroup)')
    ctx.skip()
    return true
  }

  it('runs the command only when released, after the dead child\'s leftovers are gone; in the cgroup, as the same process; a stop ends it unrun', async (ctx) => {
    if (rootOnly(ctx)) return
    const {s, dir, port, first, spare} = await withSpare(['--grace', '300ms'])
    expect(cgroupOf(spare)).toBe(cgroupOf(first)) // the shim put it there before it became the hold shell
    expect(cgroupOf(spare)).toMatch(/medic-supervise-gw-/)
    expect(lines(join(dir, 'starts'))).toEqual([String(first)]) // held: the command has not run in it
    // `pgrep -f <service>` finds the service, not its spare: the command is not in the spare's arguments.
    expect(readFileSync(`/proc/${spare}/cmdline`, 'latin1')).not.toContain(SERVICE)
    const kid = Number(readFileSync(join(dir, 'kid'), 'utf8'))
    expect(alive(kid)).toBe(true)

    process.kill(first, 'SIGKILL')
    const second = await until('the second run', () => {
      const st = s.state()
      return st?.state === 'running' && st.child && st.child.pid !== first && lines(join(dir, 'starts')).length === 2 ? st.child.pid as number : null
    })
    expect(second).toBe(spare) // the spare became the child: no fork on the restart path
    expect(lines(join(dir, 'starts'))).toEqual([String(first), String(spare)])
    expect(lines(join(dir, 'alive'))).toEqual([]) // the first run's leftover was gone before the second started
    expect(alive(kid)).toBe(false)
    // The released spare runs the service's script, which logs its start and then execs node: wait for that exec.
    const argv = [process.execPath, SERVICE, '--port', String(port), '']
    await until('the released spare exec\'d the service', () => readFileSync(`/proc/${spare}/cmdline`, 'latin1').split('\0').join('\n') === argv.join('\n') || null)
    expect(readFileSync(`/proc/${spare}/cmdline`, 'latin1').split('\0')).toEqual(argv)
    expect(readFileSync(`/proc/${spare}/environ`, 'latin1')).not.toMatch(/MEDIC_SPARE_/)

    const next = await until('the next spare', () => spareOf(s.child.pid))
    s.child.kill('SIGTERM')
    expect(await s.exited).toBe(0)
    expect(s.out().trim().split('\n').at(-1)).toMatch(/^SUPERVISOR_OK: gw supervisor stopped; no process of the service left/)
    expect(alive(next)).toBe(false)
    expect(lines(join(dir, 'starts'))).toHaveLength(2)
    expect(marked(s.mark)).toEqual([])
  })

  it('gives the command its arguments verbatim, as a plain start does (spaces, quotes, $, *, newline, empty)', async (ctx) => {
    if (rootOnly(ctx)) return
    const dir = j.tmp()
    const port = await freePort()
    const odd = ['a b', "it's", '"q"', '$HOME', '*', '', 'x\ny', '-e']
    const script = 'n=$1 s=$2 p=$3; shift 3; for a in "$@"; do printf "[%s]" "$a"; done >> "$0/args"; echo >> "$0/args"; exec "$n" "$s" --port "$p"'
    const s = superviseRun(['--port', String(port), '--min-uptime', '200ms'], ['sh', '-c', script, dir, process.execPath, SERVICE, String(port), ...odd])
    const first = await until('a stable run', () => (s.state()?.stable && s.state().child ? s.state().child.pid as number : null))
    const spare = await until('its spare, held', () => spareOf(s.child.pid))
    process.kill(first, 'SIGKILL')
    await until('the spare running the command', () => s.state()?.child?.pid === spare && readFileSync(join(dir, 'args'), 'utf8').split('[-e]').length === 3)
    const once = odd.map((a) => `[${a}]`).join('') + '\n'
    expect(readFileSync(join(dir, 'args'), 'utf8')).toBe(once + once)
    s.child.kill('SIGTERM')
    expect(await s.exited).toBe(0)
  })

  // attack-spare F1 + F2, end to end: the child dies and leaves a process that ignores
  // SIGTERM, so the restart waits out --grace. The log says why the child ended at once (not
  // at the next start), and a stop received during that grace starts nothing: the spare is
  // discarded unrun, the verdict is that of a stop.
  it('a stop during the dead child\'s reap starts nothing (the spare ends unrun); the exit is logged before the grace is over', async (ctx) => {
    if (rootOnly(ctx)) return
    const dir = j.tmp()
    const port = await freePort()
    const run = ['sh', '-c', 'echo $$ >> "$0/starts"; ( trap "" TERM; exec sleep 100000 ) & exec "$1" "$2" --port "$3"', dir, process.execPath, SERVICE, String(port)]
    const s = superviseRun(['--port', String(port), '--min-uptime', '200ms', '--grace', '5s'], run)
    const log = () => (existsSync(join(s.dir, 'supervise', 'gw.log')) ? readFileSync(join(s.dir, 'supervise', 'gw.log'), 'utf8') : '')
    const first = await until('a stable run', () => (s.state()?.stable && s.state().child ? s.state().child.pid as number : null))
    const spare = await until('its spare, held', () => spareOf(s.child.pid))
    process.kill(first, 'SIGKILL')
    // Written before the leftover's SIGTERM; observed before: only after the next start.
    await until('the exit logged', () => /child killed by SIGKILL after \S+; restart now/.test(log()))
    expect(log().match(/started child pid/g)).toHaveLength(1) // the next child is not started yet: its spare is held until the leftover is gone
    s.child.kill('SIGTERM') // within the 5 s grace of the leftover
    expect(await s.exited).toBe(0)
    expect(lines(join(dir, 'starts'))).toEqual([String(first)]) // observed before: the spare ran the command after the stop
    expect(alive(spare)).toBe(false)
    expect(s.out().trim().split('\n').at(-1)).toMatch(/^SUPERVISOR_OK: gw supervisor stopped; no process of the service left/)
    expect(log()).toMatch(/child could not start: a stop was received before its start; supervisor stopped/)
    expect(marked(s.mark)).toEqual([])
  })

  // attack-spare F3: the hold shell's own variables (`read -r _`, a<i>, MEDIC_SPARE_<i>) once
  // overwrote or removed the service's: a child started through the spare must get, byte for
  // byte, the environment of a plain start.
  it('gives the command the environment of a plain start, byte for byte: its own _, a1, MEDIC_SPARE_1 and MEDIC_SPARE_GO too', async (ctx) => {
    if (rootOnly(ctx)) return
    const port = await freePort()
    const own = ['_=/usr/bin/launcher', 'a1=USERVAL', 'MEDIC_SPARE_1=mine', 'MEDIC_SPARE_GO=go', 'a0=zero']
    const s = superviseRun(['--port', String(port), '--min-uptime', '200ms', '--inherit-env', ...own.slice(1).flatMap((kv) => ['--env', kv])],
      [process.execPath, SERVICE, '--port', String(port)], {_: '/usr/bin/launcher'})
    const first = await until('a stable run', () => (s.state()?.stable && s.state().child ? s.state().child.pid as number : null))
    const spare = await until('its spare, held', () => spareOf(s.child.pid))
    await until('the first run exec\'d (past the cgroup shim)', () => readFileSync(`/proc/${first}/cmdline`, 'latin1').startsWith(`${process.execPath}\0`))
    const plain = readFileSync(`/proc/${first}/environ`, 'latin1')
    for (const kv of own) expect(plain.split('\0')).toContain(kv)
    process.kill(first, 'SIGKILL')
    // env(1)'s own argv holds the command too: past it, when the command itself runs.
    await until('the spare running the command', () => s.state()?.child?.pid === spare && readFileSync(`/proc/${spare}/cmdline`, 'latin1').startsWith(`${process.execPath}\0${SERVICE}\0`))
    expect(readFileSync(`/proc/${spare}/environ`, 'latin1')).toBe(plain) // observed before: _= (empty), a1=<argv[1]>, no MEDIC_SPARE_1
    s.child.kill('SIGTERM')
    expect(await s.exited).toBe(0)
  })

  // The cgroup shim and the spare were /bin/sh (dash) scripts whose exec dropped every
  // variable whose name is not a shell identifier: as root, `--env spring.profiles.active=prod`
  // never reached the service, nor a `my-var` in medic's own environment (a non-root start,
  // with no shim, kept both).
  it('as root, the service gets variables of any name, from --env and from medic\'s environment, on its first start and through the spare', async (ctx) => {
    if (rootOnly(ctx)) return
    const port = await freePort()
    const given = ['spring.profiles.active=prod', 'my-var=x y', '1abc=3', 'é=ü', 'OPTIND=7', 'dotted.empty=', 'nl.value=a\nb']
    const inherited = {'inherited.dot': 'i', 'inherited-dash': 'j', '9lives': 'k', 'IFS': 'x'}
    const s = superviseRun(['--port', String(port), '--min-uptime', '200ms', '--inherit-env', ...given.flatMap((kv) => ['--env', kv])],
      [process.execPath, SERVICE, '--port', String(port)], inherited)
    const first = await until('a stable run', () => (s.state()?.stable && s.state().child ? s.state().child.pid as number : null))
    const spare = await until('its spare, held', () => spareOf(s.child.pid))
    await until('the first run exec\'d (past the cgroup shim)', () => readFileSync(`/proc/${first}/cmdline`, 'latin1').startsWith(`${process.execPath}\0`))
    const want = [...given, ...Object.entries(inherited).map(([k, v]) => `${k}=${v}`)]
    const plain = readFileSync(`/proc/${first}/environ`, 'utf8')
    expect(want.filter((kv) => !plain.split('\0').includes(kv))).toEqual([]) // observed before: all but OPTIND=7 missing, and OPTIND=1, IFS reset
    expect(plain.split('\0').filter((kv) => kv.startsWith('PWD='))).toEqual(process.env.PWD === undefined ? [] : [`PWD=${process.env.PWD}`])
    process.kill(first, 'SIGKILL')
    // env(1)'s own argv holds the command too: past it, when the command itself runs.
    await until('the spare running the command', () => s.state()?.child?.pid === spare && readFileSync(`/proc/${spare}/cmdline`, 'latin1').startsWith(`${process.execPath}\0${SERVICE}\0`))
    expect(readFileSync(`/proc/${spare}/environ`, 'utf8')).toBe(plain)
    s.child.kill('SIGTERM')
    expect(await s.exited).toBe(0)
    expect(marked(s.mark)).toEqual([])
  })

  // attack-env F1: the shims' one ES string passed 128 KiB at ~14,200 variables: a root
  // `supervise --inherit-env` said "could not start: node: E2BIG … the command cannot start"
  // for an environment a plain start takes. Now ES is a chain of -S strings.
  it('as root, a service with 15,000 inherited variables starts through the cgroup shim and restarts through the spare', async (ctx) => {
    if (rootOnly(ctx)) return
    const port = await freePort()
    const many = Object.fromEntries(Array.from({length: 15_000}, (_, i) => [`V${i}`, `v${i}`]))
    const s = superviseRun(['--port', String(port), '--min-uptime', '200ms', '--inherit-env'], [process.execPath, SERVICE, '--port', String(port)], many)
    const first = await until('a stable run', () => (s.state()?.stable && s.state().child ? s.state().child.pid as number : null), 60_000)
    const spare = await until('its spare, held', () => spareOf(s.child.pid), 60_000)
    await until('the first run exec\'d (past the cgroup shim)', () => readFileSync(`/proc/${first}/cmdline`, 'latin1').startsWith(`${process.execPath}\0`))
    const plain = readFileSync(`/proc/${first}/environ`, 'utf8')
    expect(plain.split('\0').filter((kv) => /^V\d+=/.test(kv)).length).toBe(15_000)
    process.kill(first, 'SIGKILL')
    await until('the spare running the command', () => s.state()?.child?.pid === spare && readFileSync(`/proc/${spare}/cmdline`, 'latin1').startsWith(`${process.execPath}\0${SERVICE}\0`), 60_000)
    expect(readFileSync(`/proc/${spare}/environ`, 'utf8')).toBe(plain)
    s.child.kill('SIGTERM')
    expect(await s.exited).toBe(0)
    expect(marked(s.mark)).toEqual([])
  })

  // attack-spare F4: past ~6,600 arguments the hold script is longer than one exec argument
  // may be; hold() threw E2BIG into the dispatch ("internal error" and a stack in the log
  // after every stable run). Now: no spare, said once per run, and the restart is a plain start.
  it('a command too long to hold is restarted by a plain start; the log says "no spare", never an internal error', async (ctx) => {
    if (rootOnly(ctx)) return
    const dir = j.tmp()
    const port = await freePort()
    const many = Array.from({length: 8000}, (_, i) => `x${i}`)
    const s = superviseRun(['--port', String(port), '--min-uptime', '200ms', '--child-pid-file', join(dir, 'child.pid')],
      ['sh', '-c', 'echo $$ >> "$0/starts"; exec "$1" "$2" --port "$3"', dir, process.execPath, SERVICE, String(port), ...many])
    const log = () => (existsSync(join(s.dir, 'supervise', 'gw.log')) ? readFileSync(join(s.dir, 'supervise', 'gw.log'), 'utf8') : '')
    const first = await until('a stable run', () => (s.state()?.stable && s.state().child ? s.state().child.pid as number : null))
    await until('no spare, said', () => log().includes('no spare child: E2BIG'))
    process.kill(first, 'SIGKILL')
    await until('the second run', () => (lines(join(dir, 'starts')).length === 2 && s.state()?.state === 'running' ? true : null))
    s.child.kill('SIGTERM')
    expect(await s.exited).toBe(0)
    expect(log()).not.toMatch(/internal error/)
  })

  it('ends unrun when the supervisor is SIGKILLed (its pipe closes)', async (ctx) => {
    if (rootOnly(ctx)) return
    const {s, dir, first, spare} = await withSpare([])
    const cg = cgroupOf(first)
    s.child.kill('SIGKILL')
    await s.exited
    await until('the spare ends', () => !alive(spare))
    expect(lines(join(dir, 'starts'))).toEqual([String(first)])
    expect(alive(first)).toBe(true) // the service itself outlives a killed supervisor, as before
    for (const pid of marked(s.mark)) process.kill(pid, 'SIGKILL')
    await until('the service gone', () => marked(s.mark).length === 0)
    const mount = readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')).find((f) => f[2] === 'cgroup2')?.[1]
    if (mount && cg) await until('its cgroup removed', () => {
      try {
        rmdirSync(join(mount, cg))
        return true
      } catch (e) {
        return (e as NodeJS.ErrnoException).code === 'ENOENT'
      }
    })
  })
})
