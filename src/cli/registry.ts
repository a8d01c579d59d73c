import type {CommandSpec} from './spec.js'

/**
 * Every command id and how to load its declaration, without loading @oclif/core.
 * test/cli/registry.test.ts checks this list against the oclif manifest.
 */
export const COMMANDS: Record<string, () => Promise<CommandSpec>> = {
  cleanup: async () => (await import('./specs/cleanup.js')).default,
  health: async () => (await import('./specs/health.js')).default,
  boot: async () => (await import('./specs/boot.js')).default,
  drill: async () => (await import('./specs/drill.js')).default,
  'kill-trace': async () => (await import('./specs/kill-trace.js')).default,
  'locks clean': async () => (await import('./specs/locks-clean.js')).default,
  'sessions archive': async () => (await import('./specs/sessions-archive.js')).default,
  watchdog: async () => (await import('./specs/watchdog.js')).default,
  'ollama frozen-check': async () => (await import('./specs/ollama-frozen-check.js')).default,
  'ollama metrics': async () => (await import('./specs/ollama-metrics.js')).default,
  'ollama rules': async () => (await import('./specs/ollama-rules.js')).default,
  'protect list': async () => (await import('./specs/protect.js')).protectList,
  'protect add': async () => (await import('./specs/protect.js')).protectAdd,
  'protect remove': async () => (await import('./specs/protect.js')).protectRemove,
  'run-dev-safe': async () => (await import('./specs/run-dev-safe.js')).default,
  install: async () => (await import('./specs/install.js')).default,
  uninstall: async () => (await import('./specs/uninstall.js')).default,
  verify: async () => (await import('./specs/verify.js')).default,
  rules: async () => (await import('./specs/rules.js')).default,
  dashboard: async () => (await import('./specs/dashboard.js')).default,
  supervise: async () => (await import('./specs/supervise.js')).default,
  'supervise status': async () => (await import('./specs/supervise-status.js')).default,
  guard: async () => (await import('./specs/guard.js')).guard,
  'guard status': async () => (await import('./specs/guard.js')).guardStatus,
  isolate: async () => (await import('./specs/run-dev-safe.js')).isolate,
  isolation: async () => (await import('./specs/isolation.js')).default,
}

/**
 * The subject of a usage error under each topic (docs/contract.md §1: `ollama …` → OLLAMA,
 * `protect …` → PROTECT, the watchdog's parts → WATCHDOG), so `medic ollama frozen-chek`
 * is OLLAMA_UNKNOWN. The topics' descriptions are oclif's, in package.json (oclif.topics);
 * test/cli/registry.test.ts keeps both in step with the ids above.
 */
export const TOPIC_SUBJECTS: Record<string, string> = {guard: 'GUARD', ollama: 'OLLAMA', protect: 'PROTECT', locks: 'WATCHDOG', sessions: 'WATCHDOG', supervise: 'SUPERVISOR'}

/** Words oclif serves besides the commands (help, version, plugins). */
export const BUILTIN_WORDS = ['help', 'version', 'commands', 'autocomplete'] as const

/** Topics (the first word of multi-word ids) that have no command of their own. */
export function topics(): string[] {
  return [...new Set(Object.keys(COMMANDS).filter((id) => id.includes(' ')).map((id) => id.split(' ')[0]))].filter((t) => !(t in COMMANDS))
}
