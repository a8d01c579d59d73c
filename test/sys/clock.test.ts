import {describe, expect, it} from 'vitest'
import {after, systemClock} from '../../src/sys/clock.js'

describe('systemClock.sleep', () => {
  it('resolves after a timer set before it with a shorter delay, and at once for no time at all', async () => {
    const order: string[] = []
    setTimeout(() => order.push('1 ms timer'), 1)
    await systemClock.sleep(20).then(() => order.push('slept 20 ms'))
    expect(order).toEqual(['1 ms timer', 'slept 20 ms'])
    await expect(systemClock.sleep(0)).resolves.toBeUndefined()
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
