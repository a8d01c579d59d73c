import {flagSet} from './spec.js'

/** `--file` / `--raw` of the commands that print a document (rules, a dashboard). */
export const DOCUMENT_FLAGS = (what: string) => flagSet({
  file: {type: 'string', description: `Write the ${what} here (atomically).`},
  raw: {type: 'boolean', description: `Print only the ${what}, no verdict line (for a redirect into a file).`},
})

/** --raw: the document alone on stdout, exit 0 (no verdict line). --file: written atomically. */
export async function printOrWrite(f: {file: string | undefined; raw: boolean}, text: string): Promise<void> {
  if (f.raw) {
    process.stdout.write(text)
    process.exit(0)
  }
  if (f.file) (await import('../sys/state-store.js')).writeFileAtomic(f.file, text)
}
