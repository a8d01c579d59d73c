import {fstatSync} from 'node:fs'
import type {Status} from '../core/verdict.js'
import type {Progress} from '../deps.js'
import {monotonicMs} from '../sys/clock.js'

/**
 * Where a command's progress lines go. For cron, systemd, pipes and CI: plain lines on
 * stderr, and nothing is loaded for them. A person at a terminal gets the same lines and,
 * for each wait (`progress.step`), a live spinner with the step and its elapsed time
 * (ora, cli/terminal.ts), loaded with `await import()` inside that branch — never at the
 * top of a module on the run path. test/cli/startup.test.ts fails if a non-TTY run loads
 * ora, chalk or listr2.
 *
 * Decided at the first line or step, not at start: a run that reports no progress pays
 * nothing, and a pipe, file or socket is told apart by one fstat (isTerminal below).
 * A person is watching when stderr is a TTY and none of NO_COLOR, CI, TERM=dumb or
 * --json says otherwise.
 */
export interface ProgressSink extends Progress {
  step: (title?: string, opts?: {live?: boolean}) => void
  /** The wait in progress (the last step's title), for a verdict that ends it early. */
  current(): string | undefined
  /** Ends the live display (the last step is left on screen) before the verdict is printed. */
  close(): Promise<void>
}

export interface Renderer {
  /** `at`: when the step began (monotonic ms). */
  step(title: string | undefined, live: boolean, at: number): void
  close(): void
}

export function watching(fd: 1 | 2, env: NodeJS.ProcessEnv, json = false): boolean {
  return !json && !env.CI && env.TERM !== 'dumb' && !env.NO_COLOR && isTerminal(fd)
}

/**
 * Whether fd 1 or 2 is a terminal, without building process.stdout/stderr for a pipe, a
 * file or a socket (~1.2 ms that sys/stdio.ts saves a cron run): only a character device
 * can be a terminal, and only then is the stream asked.
 */
function isTerminal(fd: 1 | 2): boolean {
  try {
    const st = fstatSync(fd)
    // /dev/null (a cron line's `> /dev/null`) is a character device too: major 1 (memory devices) is never a terminal.
    if (!st.isCharacterDevice() || ((st.rdev >> 8) & 0xfff) === 1) return false
  } catch {
    return false
  }
  return (fd === 1 ? process.stdout : process.stderr).isTTY === true
}

export function progressSink(plain: (line: string) => void, env: NodeJS.ProcessEnv = process.env, opts: {json?: boolean} = {}): ProgressSink {
  let person: boolean | undefined
  let renderer: Promise<Renderer | null> | null = null
  let closed = false
  const withRenderer = (f: (r: Renderer) => void) => {
    renderer ??= import('./terminal.js').then((m) => m.terminalRenderer(process.stderr)).catch(() => null)
    // A renderer that fails stops rendering; the run and its plain lines go on.
    void renderer.then((r) => {
      if (!r || closed) return
      try {
        f(r)
      } catch {
        renderer = Promise.resolve(null)
      }
    })
  }
  const sink = ((line: string) => {
    person ??= watching(2, env, opts.json)
    // At a terminal, through process.stderr, which ora watches: a live spinner clears itself
    // around the line. Elsewhere straight to fd 2 (sys/stdio.ts: no stream is built).
    if (person) process.stderr.write(`${line}\n`)
    else plain(line)
  }) as ProgressSink
  let current: string | undefined
  sink.current = () => current
  sink.step = (title, o = {}) => {
    current = title
    person ??= watching(2, env, opts.json)
    // A terminal of no width (a pty nobody sized) cannot hold a redrawn line: plain lines only.
    // Timed from now: the first step waits for the renderer to load.
    const at = monotonicMs()
    if (person && !closed && (process.stderr.columns ?? 0) > 0) withRenderer((r) => r.step(title, o.live !== false, at))
  }
  sink.close = async () => {
    const r = renderer ? await renderer : null
    closed = true
    r?.close()
  }
  return sink
}

/** Colours a verdict's token for a person reading `stream` at a terminal; null otherwise (nothing loaded). */
export async function tokenPainter(fd: 1 | 2, env: NodeJS.ProcessEnv = process.env, json = false): Promise<((text: string, status: Status) => string) | null> {
  if (!watching(fd, env, json)) return null
  try {
    return await (await import('./terminal.js')).loadPainter(fd)
  } catch {
    return null
  }
}
