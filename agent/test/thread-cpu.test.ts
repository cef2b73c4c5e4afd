import { time } from '@datadog/pprof'
import { describe, expect, it } from 'vitest'
import { PROFILER_THREAD, ThreadCpuMeter } from '../src/thread-cpu.js'

describe.runIf(process.platform === 'linux')('ThreadCpuMeter', () => {
  it("reads the CPU time of V8's profiler thread while the real profiler samples", () => {
    const meter = new ThreadCpuMeter(PROFILER_THREAD)
    expect(meter.read()).toBe(0) // no profiler, no such thread
    time.start({ intervalMicros: 1000, durationMillis: 10_000 })
    let sum = 0
    let used: number
    try {
      const until = Date.now() + 1500
      while (Date.now() < until) for (let i = 0; i < 1e4; i++) sum += Math.sqrt(i)
      used = meter.read()
    } finally {
      time.stop()
    }
    // 1,500 samples at 1 kHz: the thread worked, but far less than the 1.5 s it ran for.
    expect(used).toBeGreaterThan(0)
    expect(used).toBeLessThan(1_500_000)
    expect(meter.read()).toBe(used) // the thread is gone: the total stays
    expect(sum).toBeGreaterThan(0)
  })
})
