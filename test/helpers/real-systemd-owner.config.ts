import {defineConfig} from 'vitest/config'

// Used by real-systemd.test.ts only: a vitest run that boots an instance, reports it and
// waits to be SIGKILLed (the owner that dies without tearing down).
export default defineConfig({test: {include: ['test/helpers/real-systemd-owner.run.ts'], testTimeout: 120_000}})
