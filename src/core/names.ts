/**
 * Service and job names become file names under the state dir (supervise/<name>.json,
 * health/<name>.log, watchdog/<name>-hang.json) and token subjects: 1 to 64 of
 * `[A-Za-z0-9._-]`, and not made of dots alone — nothing that can leave its folder
 * (`../../tmp/x`), be empty, or exceed a file name (ENAMETOOLONG).
 */
export const NAME_MAX = 64

export function nameProblem(name: string): string | null {
  if (name.length === 0) return 'a name cannot be empty'
  if (name.length > NAME_MAX) return `a name has at most ${NAME_MAX} characters (this one has ${name.length})`
  if (!/^[A-Za-z0-9._-]+$/.test(name)) return "a name has only letters, digits, '.', '_' and '-'"
  if (/^\.+$/.test(name)) return 'a name cannot be only dots'
  return null
}

/** A valid name made from any text (a program's basename): other characters become `_`. */
export function nameFrom(text: string, fallback: string): string {
  const n = text.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, NAME_MAX)
  return nameProblem(n) ? fallback : n
}

/**
 * A systemd unit name as medic accepts it on the command line (`--unit`): letters, digits
 * and `@ . _ : \ -` (a backslash for systemd's `\x2d` escapes). One rule for every command.
 */
export function unitNameProblem(unit: string): string | null {
  return /^[A-Za-z0-9@._:\\-]+$/.test(unit) ? null : 'not a unit name'
}
