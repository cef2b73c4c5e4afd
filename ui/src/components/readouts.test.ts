import type { AgentInstance } from '@kiln/wire'
import { describe, expect, it } from 'vitest'
import { formatPercent, formatValue } from '../format'
import { collection } from './AgentsPanel'
import { bucketReadout, coverageStrip, naturalRate, timelineCaption } from './Timeline'

describe('timeline readout', () => {
  const cpu = { unit: 'nanoseconds', step: 10_000, aggregation: 'cumulative' } as const

  it('says how many instances collected, so a gap is not read as idleness', () => {
    // 2.5 instance-buckets of coverage in a 10 s bucket: 2.5 instances on average.
    const text = bucketReadout({ value: 3e9, coverage: 25_000 }, { ...cpu, type: 'cpu' })
    // 3 s of CPU in a 10 s bucket: 0.3 cores.
    expect(text).toBe(`0.3 cores (${formatValue(3e9, 'nanoseconds')}) · 2.5 instances collecting`)
  })

  it('gives values in natural units: cores for CPU, rates for other times, bytes for heap', () => {
    expect(naturalRate(3e9, { ...cpu, type: 'cpu' })).toBe('0.3 cores')
    expect(naturalRate(3e9, { ...cpu, type: 'wall' })).toBe('300 ms/s')
    const heap = { unit: 'bytes', step: 10_000, aggregation: 'gauge' } as const
    expect(naturalRate(64 * 1024 ** 2, heap)).toBe('64 MiB')
    expect(timelineCaption({ ...cpu, type: 'cpu' }, 6e9)).toBe(
      'CPU in cores, summed over the instances collecting (per 10 s); peak 0.6 cores',
    )
  })

  it('tells nothing collected from no samples', () => {
    expect(bucketReadout({ value: null, coverage: null }, cpu)).toBe('nothing collected')
    expect(bucketReadout({ value: null, coverage: 10_000 }, cpu)).toBe('no samples')
    const heap = { ...cpu, unit: 'bytes', aggregation: 'gauge' } as const
    expect(bucketReadout({ value: null, coverage: null }, heap)).toBe('no samples')
    expect(bucketReadout({ value: 5e6, coverage: null }, heap)).toBe(formatValue(5e6, 'bytes'))
  })
})

describe('agents panel: collection', () => {
  const agent = (latest: AgentInstance['latest']) => ({ latest })
  it('names the schedule and the share of windows', () => {
    expect(collection(agent({}))).toBe('–')
    expect(collection(agent({ schedule: 'always', dutyCycle: 1 }))).toBe('always')
    expect(collection(agent({ schedule: 'server', dutyCycle: 1 / 8 }))).toBe(
      'server, 1 window in 8',
    )
    expect(collection(agent({ schedule: 'server', dutyCycle: 0 }))).toBe(
      'server, waiting for a plan',
    )
    expect(collection(agent({ schedule: 'local', dutyCycle: 0.3 }))).toBe(
      `local, ${formatPercent(0.3, 1)} of windows`,
    )
  })
})

describe('timeline coverage strip', () => {
  it('marks each bucket by the instances that collected, and leaves gaps empty', () => {
    const strip = coverageStrip({
      timestamps: [0, 10_000, 20_000, 30_000],
      coverage: [20_000, null, 5_000, 0],
      step: 10_000,
    })
    expect(strip).toEqual([
      { from: 0, instances: 2, share: 1 },
      { from: 20_000, instances: 0.5, share: 0.25 },
    ])
    expect(coverageStrip({ timestamps: [0], coverage: [null], step: 10_000 })).toEqual([])
  })
})
