/**
 * A medic command line split at its first `--`: the words medic parses, and after it the
 * command a wrapper runs (supervise, boot, run-dev-safe, kill-trace, install), verbatim.
 * The one rule for every reader of argv — routing, help, the usage-error prescan, the
 * parser (cli/argv-parse.ts, as node:util parseArgs, ends options at the same `--`: never a bare `--`
 * as a flag's value; `--flag=--` is a value) and install's insertion of flags.
 */
export function splitArgv(argv: readonly string[]): {words: string[]; rest: string[] | null} {
  const end = argv.indexOf('--')
  return end < 0 ? {words: [...argv], rest: null} : {words: argv.slice(0, end), rest: argv.slice(end + 1)}
}
