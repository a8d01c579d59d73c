import {spawn, spawnSync} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, rmdirSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {identify, removeJudged} from './file-gate.js'
import {memoryCgroupOf, memoryLimitOf, oomKillCount} from './cgroup.js'
import type {Child} from './spawn-job.js'
import {TracefsSession} from './tracefs.js'

/** A source of kernel trace lines: read what came since the last read (never blocks), then close. */
export interface TraceLines {
  /** Its lines' times are CLOCK_MONOTONIC seconds, medic's own clock (else the kernel's local trace clock). */
  readonly monotonic?: boolean
  read(): string[]
  close(): void
}

/** strace's output file, in a private temp dir: `read()` gives the whole lines written since the last read. */
export interface StraceOutput {
  readonly path: string
  read(): string[]
  remove(): void
}

/**
 * What kill-trace needs of the kernel and its tools: the signal tracepoint (tracefs),
 * strace, memory cgroups and their OOM-kill counters, the kernel log. One real implementation; tests fake it.
 */
export interface Tracer {
  tracefs(): {ok: true; session: TraceLines} | {ok: false; reason: string}
  straceInstalled(): boolean
  straceOutput(): StraceOutput
  /** The argv prefix that runs a command under strace, recording signals to `out`. */
  stracePrefix(followChildren: boolean, out: string): string[]
  /** strace attached to `pid`, recording signals to `out`. */
  straceAttach(pid: number, followChildren: boolean, out: string): Child
  /** The memory cgroup `pid` is charged to (v1 memory hierarchy where mounted, else v2), its OOM-kill counter file and limit. */
  memoryCgroup(pid: number | 'self'): {path: string; counter: string | null; limit: number | null} | null
  /** The limit of a memory cgroup as the kernel's OOM line names it; null when none or unreadable. */
  memoryLimit(path: string): number | null
  /** The `oom_kill N` count of a counter file; null when unreadable. */
  oomKills(file: string | null): number | null
  /** The kernel log (dmesg), '' when it cannot be read. */
  kernelLog(): string
}

const straceArgs = (followChildren: boolean, out: string) => [...(followChildren ? ['-f'] : []), '-qq', '-e', 'trace=none', '-e', 'signal=all', '-o', out]

export const tracer: Tracer = {
  tracefs: () => TracefsSession.open(),
  straceInstalled: () => !spawnSync('strace', ['-V'], {timeout: 5000}).error,
  straceOutput() {
    const dir = mkdtempSync(join(tmpdir(), 'medic-strace-'))
    const path = join(dir, 'trace')
    let offset = 0
    return {
      path,
      read() {
        if (!existsSync(path)) return []
        const text = readFileSync(path, 'utf8')
        const lines = text.slice(offset).split('\n')
        const last = lines.pop() ?? ''
        offset = text.length - last.length
        return lines
      },
      // The dir is mkdtemp's (0700, medic's own) and holds only strace's file: that file goes
      // through the file gate (a regular file, the one judged, not followed out of the dir),
      // then the empty dir by rmdir — never a recursive delete.
      remove() {
        const seen = identify(path)
        if (seen) {
          try {
            removeJudged(path, seen, dir)
          } catch {}
        }
        try {
          rmdirSync(dir)
        } catch {}
      },
    }
  },
  stracePrefix: (followChildren, out) => ['strace', ...straceArgs(followChildren, out), '--'],
  straceAttach: (pid, followChildren, out) => spawn('strace', [...straceArgs(followChildren, out), '-p', String(pid)], {stdio: 'ignore'}),
  memoryCgroup: memoryCgroupOf,
  memoryLimit: memoryLimitOf,
  oomKills: oomKillCount,
  kernelLog: () => spawnSync('dmesg', [], {timeout: 3000, encoding: 'utf8', maxBuffer: 32 * 1024 * 1024}).stdout ?? '',
}
