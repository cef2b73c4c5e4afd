import { describe, expect, it } from 'vitest'
import { checkRows } from './row-checks.js'
import { emptyBatch, type ProfileRow, type RowBatch, type StackRow } from './rows.js'

const NOW = Date.UTC(2026, 11, 2)
const profile: ProfileRow = {
  tenant: 'default',
  service: 's',
  type: 'cpu',
  profile_id: '00000000-0000-8000-8000-000000000000',
  series_id: '18446744073709551615',
  time_start: NOW,
  time_end: NOW + 10_000,
  version: '',
  labels: {},
  total: 2 ** 53 - 1,
  sample_count: 0xffffffff,
  spy_name: '',
  received_at: NOW,
}
const stack: StackRow = {
  tenant: 'default',
  service: 's',
  stack_hash: '1',
  functions: ['a'],
  files: ['a.js'],
  lines: [0, 0xffffffff],
  last_seen: 0xffffffff,
}
const batchOf = (rows: Partial<RowBatch>): RowBatch => ({ ...emptyBatch(), ...rows })

describe('checkRows', () => {
  it('lets through values at the edges of their columns', () => {
    expect(() => checkRows(batchOf({ profiles: [profile], stacks: [stack] }))).not.toThrow()
  })

  it.each([
    ['total', { total: 2 ** 53 }],
    ['total', { total: 1.5 }],
    ['sample_count', { sample_count: 2 ** 32 }],
    ['sample_count', { sample_count: -1 }],
    ['series_id', { series_id: '18446744073709551616' }],
    ['time_start', { time_start: Date.UTC(2300, 0, 1) }],
    ['time_end', { time_end: Date.UTC(1899, 11, 31) }],
  ])('refuses a profiles row whose %s does not fit (%o)', (column, bad) => {
    expect(() => checkRows(batchOf({ profiles: [{ ...profile, ...bad }] }))).toThrow(
      expect.objectContaining({
        code: 'KILN_ERR_PROFILE_REJECTED',
        message: expect.stringContaining(column),
      }),
    )
  })

  it.each([
    ['lines', { lines: [2 ** 32] }],
    ['lines', { lines: [-1] }],
    ['last_seen', { last_seen: 2 ** 32 }],
  ])('refuses a stacks row whose %s does not fit (%o)', (column, bad) => {
    expect(() => checkRows(batchOf({ stacks: [{ ...stack, ...bad }] }))).toThrow(
      expect.objectContaining({ message: expect.stringContaining(column) }),
    )
  })
})
