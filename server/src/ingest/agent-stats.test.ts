import { describe, expect, it } from 'vitest'
import { AGENT_STATS_HEADER_MAX_BYTES } from '@kiln/wire'
import { agentStatsRow, parseAgentStats } from './agent-stats.js'

describe('parseAgentStats', () => {
  it('reads what the agent sends, ignoring fields it does not know', () => {
    const sent = { uploadsOk: 3, collectCpuMicros: 1250.5, lastError: 'ECONNRESET' }
    expect(parseAgentStats(JSON.stringify({ ...sent, later: { x: 1 } }))).toMatchObject({
      stats: sent,
    })
    expect(parseAgentStats('{}')).toEqual({ stats: {} })
    expect(parseAgentStats(undefined)).toEqual({})
  })

  it.each([
    ['x'.repeat(AGENT_STATS_HEADER_MAX_BYTES + 1), 'too_large'],
    // Counted in bytes, not characters: 2 bytes each in UTF-8.
    [JSON.stringify({ lastError: 'é'.repeat(AGENT_STATS_HEADER_MAX_BYTES / 2) }), 'too_large'],
    ['{uploadsOk: 1}', 'not_json'],
    ['', 'not_json'],
    ['{"uploadsOk":-1}', 'invalid'],
    ['{"uploadsOk":1e999}', 'invalid'],
    ['{"uploadsOk":9007199254740993}', 'invalid'],
    ['{"lastError":42}', 'invalid'],
    ['"text"', 'invalid'],
  ])('ignores %j as %s', (raw, problem) => {
    expect(parseAgentStats(raw)).toEqual({ problem })
  })
})

describe('agentStatsRow', () => {
  const context = { tenant: 't', service: 's', time: 2000, now: 3000 }

  it('names the instance by its labels and keeps absent fields NULL', () => {
    const row = agentStatsRow(
      { collectCpuMicros: 1250.5, lastOverheadPercent: 0.25 },
      { ...context, labels: { host: 'web-1', pid: '7', version: '1.2.0', env: 'prod' } },
    )
    expect(row).toMatchObject({
      host: 'web-1',
      pid: '7',
      version: '1.2.0',
      time: 2000,
      received_at: 3000,
      collect_cpu_micros: 1251,
      last_overhead_percent: 0.25,
      profiler_cpu_micros: null,
      sampling_interval_micros: null,
      last_error: '',
    })
  })

  it('prefers service_version and reads a missing host or pid as empty', () => {
    const labels = { service_version: '2.0.0', version: 'other' }
    expect(agentStatsRow({}, { ...context, labels })).toMatchObject({
      host: '',
      pid: '',
      version: '2.0.0',
    })
  })
})
