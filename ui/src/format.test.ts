import { describe, expect, it } from 'vitest'
import { formatNumber, formatPercent, formatValue } from './format'

const MICRO = 1e3
const MILLI = 1e6
const SECOND = 1e9
const KB = 1024
const MB = 1024 * KB

describe('formatNumber', () => {
  it('keeps about three significant digits and drops trailing zeros', () => {
    expect(formatNumber(1234)).toBe('1234')
    expect(formatNumber(123.456)).toBe('123')
    expect(formatNumber(12.345)).toBe('12.3')
    expect(formatNumber(1.5)).toBe('1.5')
    expect(formatNumber(2.0)).toBe('2')
    expect(formatNumber(0.125)).toBe('0.13')
  })
})

describe('formatValue', () => {
  it('scales nanoseconds to the largest unit reached', () => {
    expect(formatValue(850, 'nanoseconds')).toBe('850 ns')
    expect(formatValue(42 * MICRO, 'nanoseconds')).toBe('42 µs')
    expect(formatValue(2.5 * MILLI, 'nanoseconds')).toBe('2.5 ms')
    expect(formatValue(12.5 * SECOND, 'nanoseconds')).toBe('12.5 s')
    expect(formatValue(3 * 60 * SECOND, 'nanoseconds')).toBe('3 min')
    expect(formatValue(2 * 3600 * SECOND, 'nanoseconds')).toBe('2 h')
  })

  it('scales bytes by powers of 1024', () => {
    expect(formatValue(512, 'bytes')).toBe('512 B')
    expect(formatValue(1.5 * KB, 'bytes')).toBe('1.5 KiB')
    expect(formatValue(64 * MB, 'bytes')).toBe('64 MiB')
  })

  it('scales counts by powers of 1000 and leaves small counts bare', () => {
    expect(formatValue(999, 'count')).toBe('999')
    expect(formatValue(12_300, 'count')).toBe('12.3 k')
    expect(formatValue(4_000_000, 'count')).toBe('4 M')
  })

  it('formats zero in the base unit', () => {
    expect(formatValue(0, 'nanoseconds')).toBe('0 ns')
    expect(formatValue(0, 'count')).toBe('0')
  })
})

describe('formatPercent', () => {
  it('gives the share of the total', () => {
    const total = 400
    expect(formatPercent(total / 4, total)).toBe('25%')
    expect(formatPercent(total, total)).toBe('100%')
    expect(formatPercent(1, total)).toBe(`${formatNumber(100 / total)}%`)
  })

  it('is 0% when there is no total', () => {
    expect(formatPercent(5, 0)).toBe('0%')
  })
})
