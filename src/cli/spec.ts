import type {Verdict} from '../core/verdict.js'

/**
 * A command is declared once, as data: the fast entry (bin/run.js → main.ts) parses
 * argv from it with node:util parseArgs, and the oclif adapter turns the same data into
 * oclif flags for help, the manifest and the README. One declaration, two readers, and
 * a test that they agree.
 */
/** `name`: a service or job name, which becomes a file name under the state dir (core/names.ts). */
export type FlagType = 'boolean' | 'string' | 'integer' | 'duration' | 'size' | 'regex' | 'port' | 'enum' | 'name'

export interface FlagSpec {
  type: FlagType
  description: string
  char?: string
  multiple?: boolean
  /** In the flag's own text form (`5s`, `18789`); booleans: true/false. */
  default?: string | boolean
  /** Environment variable read when the flag is absent. */
  env?: string
  options?: readonly string[]
  /** `--no-<flag>` is accepted (booleans). */
  allowNo?: boolean
  min?: number
  max?: number
  hidden?: boolean
}

export interface ArgSpec {
  name: string
  type: FlagType
  description: string
  /** Values of this positional are appended to this flag (e.g. `medic cleanup 18789`). */
  into?: string
  /** Without `into`: the positional is kept in `Parsed.positionals` (at most `max`). */
  max?: number
}

export interface RestSpec {
  name: string
  description: string
  required: boolean
}

export type FlagValue = boolean | number | string | RegExp | undefined | Array<number | string | RegExp>

export interface Parsed {
  flags: Record<string, FlagValue>
  /** Flags given on the command line (not defaults, env or config). */
  given: Set<string>
  /** Positionals that no flag took (the service name of `medic health gateway`). */
  positionals: string[]
  /** Everything after `--`. */
  rest: string[]
}

export interface RunContext {
  parsed: Parsed
  /** Monotonic ms of the command's start; the deadline derives from it. */
  t0: number
  deadlineAt: number | null
  stderr: (line: string) => void
  /** Long-running commands: each pass's verdict, for --metrics-file and --notify (set only when asked for). */
  observe?: (v: Verdict, durationMs?: number) => void
}

export interface CommandSpec {
  id: string
  /** Token subject, e.g. PORT. Commands with `--name` derive it from the name. */
  subject: string
  subjectFromName?: boolean
  /** false: not a check (prints rules, lists): $MEDIC_TEXTFILE_DIR writes no textfile for it. */
  observable?: boolean
  summary: string
  description: string
  examples: string[]
  flags: Record<string, FlagSpec>
  args?: ArgSpec[]
  rest?: RestSpec
  /** stdout belongs to the job (`run-dev-safe`): every verdict, a refusal or an error too, goes to stderr. */
  wrapper?: boolean
  run(ctx: RunContext): Promise<Verdict>
}
