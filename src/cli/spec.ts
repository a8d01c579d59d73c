import type {Verdict} from '../core/verdict.js'
import type {Progress} from '../deps.js'

/**
 * A command is declared once, as data: the fast entry (bin/run.js → main.ts) parses
 * argv from it (cli/argv-parse.ts: node:util parseArgs' rules), and the oclif adapter turns the same data into
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

/** A command's flags, as declared. */
export type Flags = Record<string, FlagSpec>

type Scalar<F extends FlagSpec> = F extends {type: 'integer' | 'duration' | 'size' | 'port'}
  ? number
  : F extends {type: 'regex'}
    ? RegExp
    : F extends {type: 'enum'; options: readonly (infer O extends string)[]}
      ? O
      : string

/**
 * What parse.ts makes of a flag, from its declaration: a counted boolean (`-vv`) is a
 * number, a repeatable flag a list (empty when absent), a flag with a default always has
 * a value, any other may be undefined.
 */
export type FlagValueOf<F extends FlagSpec> = F extends {type: 'boolean'}
  ? F extends {multiple: true} ? number : boolean
  : F extends {multiple: true}
    ? Scalar<F>[]
    : F extends {default: string} ? Scalar<F> : Scalar<F> | undefined

/** The values of a command's flags; for an undeclared (erased) set, any FlagValue. */
export type FlagValues<F extends Flags = Flags> = string extends keyof F ? Record<string, FlagValue> : {-readonly [K in keyof F]: FlagValueOf<NonNullable<F[K]>>}

export interface Parsed<F extends Flags = Flags> {
  flags: FlagValues<F>
  /** Flags given on the command line (not defaults, env or config). */
  given: Set<string>
  /** Positionals that no flag took (the service name of `medic health gateway`). */
  positionals: string[]
  /** Everything after `--`. */
  rest: string[]
}

export interface RunContext<F extends Flags = Flags> {
  parsed: Parsed<F>
  /** Monotonic ms of the command's start; the deadline derives from it. */
  t0: number
  deadlineAt: number | null
  /** Progress lines and steps (stderr; live at a terminal). */
  stderr: Progress
  /** Long-running commands: each pass's verdict, for --metrics-file and --notify (set only when asked for). */
  observe?: (v: Verdict, durationMs?: number) => void
}

export interface CommandSpec<F extends Flags = Flags> {
  id: string
  /** Token subject, e.g. PORT. Commands with `--name` derive it from the name. */
  subject: string
  subjectFromName?: boolean
  /** false: not a check (prints rules, lists): $MEDIC_TEXTFILE_DIR writes no textfile for it. */
  observable?: boolean
  summary: string
  description: string
  examples: string[]
  /** The EXIT CODES section of the help, for a command whose codes are not the table's (run-dev-safe). */
  exitCodes?: string
  flags: F
  args?: ArgSpec[]
  rest?: RestSpec
  /**
   * Settings from outside argv (health's config file entry), applied to the parsed flags
   * before the runner reads any of them: an entry's exit-codes, json, timeout or notify
   * count as the flag would. A usage error here is the command's usage error.
   */
  settings?(parsed: Parsed<F>): Promise<Parsed<F>>
  /** stdout belongs to the job (`run-dev-safe`): every verdict, a refusal or an error too, goes to stderr. */
  wrapper?: boolean
  run(ctx: RunContext<F>): Promise<Verdict>
}

/**
 * Declares a command: its flags keep their literal types, so `run()` gets each flag's value
 * typed from its declaration (FlagValueOf). Identity at run time.
 */
export function command<const F extends Flags>(spec: CommandSpec<F>): CommandSpec<F> {
  return spec
}

/** A set of flags shared by several commands (COMMON_FLAGS), with its literal types kept. */
export function flagSet<const F extends Flags>(flags: F): F {
  return flags
}
