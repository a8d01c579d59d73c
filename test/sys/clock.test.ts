import {describe, expect, it} from 'vitest'
import {after, systemClock} from '../../src/sys/clock.js'

describe('systemClock.sleep', () => {
  it('resolves once the time has passed, by the monotonic clock', async () => {
    const t0 = systemClock.now()
    await systemClock.sleep(20)
    expect(systemClock.now() - t0).toBeGreaterThanOrEqual(19) // the timer fires no earlier (1 ms of rounding)
  })

  it('resolves at once when its signal aborts: an hour-long sleep ends with the abort', async () => {
    const ac = new AbortController()
    const slept = systemClock.sleep(3_600_000, ac.signal)
    ac.abort()
    await expect(slept).resolves.toBeUndefined()
    await expect(systemClock.sleep(3_600_000, ac.signal)).resolves.toBeUndefined() // already aborted
  })

  it('after() never runs what was cancelled, and runs what was not', async () => {
    const ran: string[] = []
    const cancel = after(systemClock, 1, () => ran.push('cancelled'))
    cancel()
    await new Promise<void>((r) => after(systemClock, 5, () => (ran.push('kept'), r())))
    expect(ran).toEqual(['kept'])
  })
})
