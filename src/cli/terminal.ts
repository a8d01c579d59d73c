import {formatMs} from '../core/duration.js'
import type {Status} from '../core/verdict.js'
import {monotonicMs} from '../sys/clock.js'
import {HUB_SIGNALS, tidyListeners} from '../sys/signal-hub.js'
import type {Renderer} from './progress.js'

/**
 * The renderer for a person at a terminal (issue 11): each wait is an ora spinner with the
 * step and its elapsed time; a finished step stays on screen with how long it took, so the
 * run reads as a step list. Loaded only by cli/progress.ts inside its TTY branch: ora and
 * chalk are required here, at first use, never on a cron run's path. ora re-draws itself
 * around whatever else is written to stdout or stderr meanwhile (progress lines, a watch
 * loop's verdict lines); it is told not to touch stdin, so Ctrl+C stays the terminal's.
 */
export async function terminalRenderer(stream: NodeJS.WriteStream): Promise<Renderer> {
  const [oraModule, {chalkStderr: chalk}] = await Promise.all([import('ora'), import('chalk')])
  const ora = defaultOf(oraModule)
  let spinner: ReturnType<typeof ora> | null = null
  let timer: NodeJS.Timeout | undefined
  let title = ''
  let since = 0
  const elapsed = () => chalk.dim(formatMs(monotonicMs() - since))
  const end = () => {
    if (!spinner) return
    clearInterval(timer)
    spinner.stopAndPersist({symbol: chalk.dim('·'), text: `${title} ${elapsed()}`})
    spinner = null
  }
  return {
    step(next, live, at) {
      end()
      if (next === undefined) return
      if (!live) {
        stream.write(`${chalk.dim('·')} ${next}\n`)
        return
      }
      title = next
      since = at
      // ora hides the cursor and has signal-exit restore it on a signal: those listeners tidy, they do not handle.
      const before = new Set(HUB_SIGNALS.flatMap((s) => process.listeners(s)))
      spinner = ora({text: `${title} ${elapsed()}`, stream, discardStdin: false, color: 'cyan'}).start()
      for (const l of HUB_SIGNALS.flatMap((s) => process.listeners(s))) if (!before.has(l)) tidyListeners.add(l as (...args: unknown[]) => void)
      timer = setInterval(() => spinner && (spinner.text = `${title} ${elapsed()}`), 100)
      timer.unref()
    },
    close: end,
  }
}

const COLOURS: Record<Status, 'green' | 'yellow' | 'red' | 'magenta'> = {OK: 'green', RECOVERED: 'yellow', ALERT: 'red', UNKNOWN: 'magenta'}

type Chalk = typeof import('chalk').default

/**
 * A package's default export whichever way it was loaded: `import()` under tsc, or the
 * bundle's require() of an ES module (Node's require(esm) gives the namespace, which
 * esbuild's interop wraps once more).
 */
function defaultOf<T>(m: {default: T}): T {
  const d = m.default as T & {default?: T}
  return typeof d === 'function' || !d?.default ? d : d.default
}

/** Line 1's token in its status colour (OK green, RECOVERED yellow, ALERT red, UNKNOWN magenta); the rest as is. */
export function paintToken(c: Chalk, text: string, status: Status): string {
  const i = text.indexOf(':')
  return i < 0 ? text : c.bold[COLOURS[status]](text.slice(0, i)) + text.slice(i)
}

/** The painter for the stream the verdict goes to: chalk judges stdout's colours, chalkStderr stderr's. */
export async function loadPainter(fd: 1 | 2): Promise<(text: string, status: Status) => string> {
  const m = await import('chalk')
  const c = fd === 1 ? defaultOf(m) : m.chalkStderr
  return (text, status) => paintToken(c, text, status)
}
