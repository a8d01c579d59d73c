import {describe, expect, it} from 'vitest'
import {gpuWedged, procDeltas, verifyWaitMs, vramBaseline, vramDelta, type ProcSample} from '../../../src/core/ollama/progress.js'
import type {GpuSample} from '../../../src/core/ollama/nvidia.js'

const NOW = 1_800_000_000_000
const look = (atS: number, ticks: number, threads: Record<string, number> = {}, readBytes: number | null = 0): ProcSample => ({at: NOW + atS * 1000, ticks, threads, readBytes})
const gpu = (uuid: string, memUsedMiB: number | null, index = 0): GpuSample => ({index, uuid, util: 0, memUsedMiB, memTotalMiB: 24564, tempC: 40})

describe('progress evidence between two looks, as a function of when they were taken', () => {
  it('CPU in cores and busy threads over the elapsed time; nothing without a previous look', () => {
    expect(procDeltas(undefined, look(0, 100))).toEqual({cpuCores: null, busyThreads: null, readBytesDelta: null})
    // 2 s apart: 200 ticks = 1 core; thread a spun a whole core, b a tenth; c is new (not counted).
    const d = procDeltas(look(0, 0, {a: 0, b: 0}, 10), look(2, 200, {a: 200, b: 20, c: 500}, 30))
    expect(d).toEqual({cpuCores: 1, busyThreads: 1, readBytesDelta: 20})
    expect(procDeltas(look(0, 0), look(10, 200))).toMatchObject({cpuCores: 0.2, busyThreads: 0})
  })

  it('the same instant twice (or a clock step back) gives no rate, never Infinity', () => {
    expect(procDeltas(look(5, 0), look(5, 100))).toMatchObject({cpuCores: null, busyThreads: null})
    expect(procDeltas(look(5, 0), look(4, 100))).toMatchObject({cpuCores: null})
  })

  it('read bytes: unknown on either side is unknown', () => {
    expect(procDeltas(look(0, 0, {}, null), look(1, 0, {}, 5)).readBytesDelta).toBeNull()
  })
})

describe('VRAM', () => {
  it('the largest move of any GPU since its baseline, signed; the baseline keeps GPUs not read', () => {
    const prev = {a: 1000, b: 5000}
    expect(vramDelta(prev, [gpu('a', 1100), gpu('b', 4000, 1)])).toBe(-1000)
    expect(vramDelta(prev, [gpu('c', 100)])).toBeNull()
    expect(vramDelta({}, [gpu('a', 1)])).toBeNull()
    expect(vramBaseline(prev, [gpu('a', 1100), gpu('b', null, 1)])).toEqual({a: 1100, b: 5000})
  })
})

describe('a wedged GPU', () => {
  it('nvidia-smi hanging or fallen off the bus; VRAM held by nothing; not a plain failure', () => {
    expect(gpuWedged(null, 0, 0)).toBeNull()
    expect(gpuWedged({kind: 'hang', detail: 'no answer'}, 1, 1)).toBe('no answer')
    expect(gpuWedged({kind: 'failed', code: 15, detail: 'x'}, 1, 1)).toBe('x')
    expect(gpuWedged({kind: 'failed', code: 1, detail: 'GPU has fallen off the bus'}, 1, 1)).toMatch(/fallen off/)
    expect(gpuWedged({kind: 'failed', code: 9, detail: 'driver not loaded'}, 1, 1)).toBeNull()
    expect(gpuWedged({kind: 'ok', gpus: [gpu('a', 20000)], apps: []}, 0, 0)).toBe('VRAM held with no process: GPU 0 20000 MiB')
    expect(gpuWedged({kind: 'ok', gpus: [gpu('a', 20000)], apps: []}, 1, 0)).toBeNull() // a runner holds it
    expect(gpuWedged({kind: 'ok', gpus: [gpu('a', 500)], apps: []}, 0, 0)).toBeNull()
  })
})

describe('the wait before verifying a remediation', () => {
  it('the cooldown, cut so one canary still fits before the deadline; never negative', () => {
    expect(verifyWaitMs(60_000, NOW, null, 5000)).toBe(60_000)
    expect(verifyWaitMs(60_000, NOW, NOW + 20_000, 5000)).toBe(15_000)
    expect(verifyWaitMs(60_000, NOW, NOW + 3000, 5000)).toBe(0)
  })
})
