import {flagSet} from './spec.js'

/** `--file` / `--raw` of the commands that print a document (rules, a dashboard). */
export const DOCUMENT_FLAGS = (what: string) => flagSet({
  file: {type: 'string', description: `Write the ${what} here (atomically; never over a file medic did not write, never through a symlink).`},
  raw: {type: 'boolean', description: `Print only the ${what}, no verdict line (for a redirect into a file).`},
})

/** Medic's own earlier output of a document whose first line is its header (rules YAML): the same first line. */
export const sameHeader = (text: string) => (old: string) => old.split('\n', 1)[0] === text.split('\n', 1)[0] && old.startsWith('#')

/**
 * --raw: the document alone on stdout, exit 0 (no verdict line). --file: written atomically
 * through the file gate, only where nothing is or over medic's own earlier output (`ours`
 * recognises it); a file medic did not write, or a symlink, is refused: UNKNOWN naming it.
 */
export async function printOrWrite(f: {file: string | undefined; raw: boolean}, text: string, ours: (old: string) => boolean = sameHeader(text)): Promise<void> {
  if (f.raw) {
    process.stdout.write(text)
    process.exit(0)
  }
  if (!f.file) return
  const [{FileError, writeOwned}, {UsageError}] = await Promise.all([import('../sys/file-gate.js'), import('./parse.js')])
  try {
    writeOwned(f.file, text, 0o644, (old) => (old === null || old === text || ours(old) ? null : 'exists and medic did not write it: not overwriting (move it away, or choose another --file)'))
  } catch (e) {
    // Refused (not medic's, a symlink, a hard link, another user's file, swapped meanwhile): bad input, UNKNOWN exit 3. A full disk stays an error.
    if (e instanceof FileError && ['EEXIST', 'ELOOP', 'EPERM', 'ESTALE', 'EMLINK'].includes(e.code)) throw new UsageError(`--file ${e.message}`)
    throw e
  }
}
