/**
 * Where a command's progress lines go. For cron, systemd, pipes and CI: plain lines on
 * stderr, and nothing is loaded for them. A person at a terminal may get a live renderer
 * (listr2 / ora / chalk, issue 11): it is loaded in `forTerminal` below, inside the TTY
 * branch, with `await import()` — never at the top of a module on the run path.
 * test/cli/startup.test.ts fails if a non-TTY run loads any of those packages.
 *
 * Decided at the first line, not at start: a run that reports no progress pays nothing,
 * and process.stderr, which that first write builds anyway, says whether it is a TTY
 * (node:tty at start would cost net's load to a command that needs no socket).
 */
export function progressSink(plain: (line: string) => void, env: NodeJS.ProcessEnv = process.env): (line: string) => void {
  let sink: ((line: string) => void) | undefined
  return (line) => {
    sink ??= process.stderr.isTTY && !env.CI && env.TERM !== 'dumb' ? forTerminal(plain) : plain
    sink(line)
  }
}

/** The terminal renderer plugs in here (issue 11); until then a person gets the plain lines. */
function forTerminal(plain: (line: string) => void): (line: string) => void {
  return plain
}
