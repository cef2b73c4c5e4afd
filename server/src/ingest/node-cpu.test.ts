import { describe, expect, it } from 'vitest'
import { estimateNodeCpu, isNodeTimeProfile, type TimeSample } from './node-cpu.js'

const MS = 1e6
const interval = 10 * MS
const running = (leaf: string, hits: number, cpuNanos: number): TimeSample => ({
  leaf,
  count: hits,
  wallNanos: hits * interval,
  cpuNanos,
})
const idle = (hits: number, cpuNanos: number): TimeSample => ({
  leaf: '(idle)',
  count: hits,
  wallNanos: 0,
  cpuNanos,
})

describe('estimateNodeCpu', () => {
  it('gives each running sample its interval, idle none, and the rest its own frame', () => {
    // Bursts read by the next sample: most CPU arrives on idle samples.
    const samples = [running('parse', 3, 2 * MS), running('price', 2, 1 * MS), idle(95, 60 * MS)]
    const measured = 63 * MS
    const { cpuNanos, outsideJsNanos, measuredMainNanos } = estimateNodeCpu(samples)
    expect(measuredMainNanos).toBe(measured)
    expect(cpuNanos).toEqual([3 * interval, 2 * interval, 0])
    expect(outsideJsNanos).toBe(measured - 5 * interval)
  })

  it('scales every stack down when the samples explain more than the thread used', () => {
    // Sampled running while descheduled: 40 ms of samples, 20 ms of CPU.
    const samples = [running('a', 3, 15 * MS), running('b', 1, 5 * MS)]
    const { cpuNanos, outsideJsNanos } = estimateNodeCpu(samples)
    expect(cpuNanos).toEqual([15 * MS, 5 * MS])
    expect(outsideJsNanos).toBe(0)
  })

  it('adds up to the measured CPU exactly when scaling leaves rounding', () => {
    const samples = [running('a', 1, 1), running('b', 1, 1), running('c', 1, 1)]
    const { cpuNanos, outsideJsNanos } = estimateNodeCpu(samples)
    expect(cpuNanos.reduce((a, b) => a + b, 0)).toBe(3)
    expect(outsideJsNanos).toBe(0)
  })

  it("keeps other threads' CPU as measured, outside the main thread's total", () => {
    const samples = [
      running('a', 1, 10 * MS),
      { leaf: 'Non JS threads activity', count: 0, wallNanos: 0, cpuNanos: 7 * MS },
    ]
    const { cpuNanos, measuredMainNanos } = estimateNodeCpu(samples)
    expect(cpuNanos).toEqual([interval, 7 * MS])
    expect(measuredMainNanos).toBe(10 * MS)
  })

  it("reads @pyroscope/nodejs's file:name:line frames", () => {
    const samples = [
      running('/app/x.js:work:3', 1, 0),
      { leaf: ':(idle):0', count: 9, wallNanos: 0, cpuNanos: 12 * MS },
      { leaf: ':Non JS threads activity:0', count: 0, wallNanos: 0, cpuNanos: 4 * MS },
    ]
    const { cpuNanos, outsideJsNanos } = estimateNodeCpu(samples)
    expect(cpuNanos).toEqual([interval, 0, 4 * MS])
    expect(outsideJsNanos).toBe(2 * MS)
  })

  it('applies to profiles with sample counts, wall and CPU time only', () => {
    expect(isNodeTimeProfile(['sample/count', 'wall/nanoseconds', 'cpu/nanoseconds'])).toBe(true)
    expect(isNodeTimeProfile(['samples/count', 'wall/nanoseconds', 'cpu/nanoseconds'])).toBe(true)
    expect(isNodeTimeProfile(['samples/count', 'cpu/nanoseconds'])).toBe(false)
    expect(isNodeTimeProfile(['sample/count', 'wall/nanoseconds'])).toBe(false)
  })
})
