// attack-spare F3: a child started through the spare (jobSpawner.hold + release) must see the
// environment a plain start (jobSpawner.start) gives it. The hold shell copies the command
// from MEDIC_SPARE_<i> into shell variables a<i>; a variable of that name the service was
// given (--env a1=…, --inherit-env) is exported, so the copy overwrites it in the service's
// environment, and the unset removes a MEDIC_SPARE_<i> the service was given. (Since, the hold
// shell's environment holds only carriers and env(1) builds the command's: spawn-job-env.test.ts.)
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {jobSpawner, type StartSpec} from '../../src/sys/spawn-job.js'

const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, {recursive: true, force: true})
})

/** Runs `o` to its exit, started plainly or through a spare released at once. */
function run(how: 'start' | 'hold', o: StartSpec): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const on = {spawned: () => {}, failed: (e: {message: string}) => reject(new Error(e.message)), exited: (code: number | null) => resolve(code)}
    if (how === 'start') jobSpawner.start(o, on)
    else jobSpawner.hold(o, on).release()
  })
}

describe('a spare-started child gets the environment of a plain start', () => {
  // `_` is in every environment bash launches a program with (`_=/usr/bin/medic`…): under
  // --inherit-env the hold shell's `read -r _` (the release line) overwrites it with "".
  it('keeps the service\'s own _, a<i> and MEDIC_SPARE_<i> variables', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'medic-spare-env-'))
    dirs.push(dir)
    const env = {PATH: '/usr/bin:/bin', _: '/usr/bin/launcher', a1: 'USERVAL', MEDIC_SPARE_1: 'mine'}
    const seen: Record<string, string> = {}
    for (const how of ['start', 'hold'] as const) {
      const out = join(dir, how)
      await run(how, {argv: ['/bin/sh', '-c', 'printenv a1 MEDIC_SPARE_1 _ > "$0"', out], env, cgroup: null, output: false})
      seen[how] = readFileSync(out, 'utf8')
    }
    expect(seen.start).toBe('USERVAL\nmine\n/usr/bin/launcher\n')
    expect(seen.hold).toBe(seen.start) // observed: "-c\n\n" — a1 replaced by argv[1], MEDIC_SPARE_1 removed, _ emptied
  })

  // attack-spare F4: the hold shell's script grows ~50 bytes per argument; past ~2,500
  // arguments it is longer than one exec argument may be (MAX_ARG_STRLEN, 128 KiB), and
  // spawn() throws E2BIG out of hold() — into supervise's dispatch ("internal error", a
  // stack in the log after every stable run) — where a plain start of the same command works.
  it('a command a plain start runs is held too, or hold() reports failed: it never throws', async () => {
    const argv = ['/bin/true', ...Array.from({length: 3000}, (_, i) => `x${i}`)]
    const env = {PATH: '/usr/bin:/bin'}
    expect(await run('start', {argv, env, cgroup: null, output: false})).toBe(0)
    let settle!: (v: number | null | string) => void
    const ended = new Promise<number | null | string>((r) => (settle = r))
    expect(() => {
      const on = {spawned: () => {}, failed: (e: {code?: string}) => settle(e.code ?? 'failed'), exited: (c: number | null) => settle(c)}
      jobSpawner.hold({argv, env, cgroup: null, output: false}, on).release()
    }).not.toThrow() // observed: Error: spawn E2BIG
    expect([0, 'E2BIG']).toContain(await ended)
  })

  // attack-spare N5: the same E2BIG out of a plain start threw into supervise's dispatch,
  // which then waited for a child that did not exist. One argument over MAX_ARG_STRLEN (128 KiB).
  it('a plain start the kernel refuses (E2BIG) reports failed: it never throws', async () => {
    let settle!: (v: string) => void
    const ended = new Promise<string>((r) => (settle = r))
    const on = {spawned: () => settle('spawned'), failed: (e: {code?: string}) => settle(e.code ?? 'failed'), exited: () => {}}
    expect(() => jobSpawner.start({argv: ['/bin/true', 'x'.repeat(200_000)], env: {PATH: '/usr/bin:/bin'}, cgroup: null, output: false}, on)).not.toThrow()
    expect(await ended).toBe('E2BIG')
  })
})
