import {defineConfig} from 'vitest/config'

// Benches that need the real-systemd tier (test/helpers/real-systemd.ts) run under vitest
// for its TypeScript loader; bench/health-systemd.mjs starts them and prints the figures.
export default defineConfig({
  test: {include: ['bench/systemd/*.bench-run.ts'], fileParallelism: false, testTimeout: 600_000, hookTimeout: 60_000},
})
