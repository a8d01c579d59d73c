import {splitArgv} from '../core/argv.js'

/**
 * Which command an argv names, and whether it asks for help or the version instead: the
 * one rule that main.ts and bin/run.js (through dist/run/route.cjs, to pick a command's
 * bundle) both follow. Imports nothing but the argv splitter: bin/run.js loads it before any bundle.
 */
export function route(argv: string[], ids: readonly string[]): {id: string | undefined; help: boolean; version: boolean} {
  const {words} = splitArgv(argv)
  const help = words.some((w) => w === '--help' || w === '-h')
  const version = words.some((w) => w === '--version' || w === '-V')
  const id = [argv.slice(0, 2).join(' '), argv.slice(0, 1).join(' ')].find((c) => c !== '' && ids.includes(c) && !c.startsWith('-'))
  return {id, help, version}
}
