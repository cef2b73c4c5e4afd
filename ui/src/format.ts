import type { FlamegraphResponse } from '@kiln/wire'

export type ValueUnit = FlamegraphResponse['unit']

interface Step {
  readonly divisor: number
  readonly suffix: string
}

const NANOS_PER_MICRO = 1e3
const NANOS_PER_MILLI = 1e6
const NANOS_PER_SECOND = 1e9

const DURATION_STEPS: readonly Step[] = [
  { divisor: 1, suffix: 'ns' },
  { divisor: NANOS_PER_MICRO, suffix: 'µs' },
  { divisor: NANOS_PER_MILLI, suffix: 'ms' },
  { divisor: NANOS_PER_SECOND, suffix: 's' },
  { divisor: 60 * NANOS_PER_SECOND, suffix: 'min' },
  { divisor: 3600 * NANOS_PER_SECOND, suffix: 'h' },
]

// Binary multiples, named as such (KiB, MiB): the findings and `go tool pprof -unit` agree.
const BYTE_STEPS: readonly Step[] = [
  { divisor: 1, suffix: 'B' },
  { divisor: 1024, suffix: 'KiB' },
  { divisor: 1024 ** 2, suffix: 'MiB' },
  { divisor: 1024 ** 3, suffix: 'GiB' },
  { divisor: 1024 ** 4, suffix: 'TiB' },
]

const COUNT_STEPS: readonly Step[] = [
  { divisor: 1, suffix: '' },
  { divisor: 1e3, suffix: 'k' },
  { divisor: 1e6, suffix: 'M' },
  { divisor: 1e9, suffix: 'G' },
]

const STEPS_BY_UNIT: Record<ValueUnit, readonly Step[]> = {
  nanoseconds: DURATION_STEPS,
  bytes: BYTE_STEPS,
  count: COUNT_STEPS,
}

/** About three significant digits, without trailing zeros: 1234 -> "1234", 12.34 -> "12.3". */
export function formatNumber(n: number): string {
  const abs = Math.abs(n)
  const digits = abs >= 100 || Number.isInteger(n) ? 0 : abs >= 10 ? 1 : 2
  const fixed = n.toFixed(digits)
  return digits === 0 ? fixed : fixed.replace(/\.?0+$/, '')
}

/** A profile value in the largest unit it reaches: 2_500_000 ns -> "2.5 ms". */
export function formatValue(value: number, unit: ValueUnit): string {
  const steps = STEPS_BY_UNIT[unit]
  let step = steps[0] ?? { divisor: 1, suffix: '' }
  for (const candidate of steps) {
    if (Math.abs(value) >= candidate.divisor) step = candidate
  }
  const text = formatNumber(value / step.divisor)
  return step.suffix === '' ? text : `${text} ${step.suffix}`
}

/** `part` as a percentage of `total`; "0%" when there is no total. */
export function formatPercent(part: number, total: number): string {
  if (total <= 0) return '0%'
  return `${formatNumber((100 * part) / total)}%`
}

/**
 * A rate of a cumulative profile value, per second of collected instance time: CPU or wall
 * time as "ms/s" (120 ms/s is 12 % of a core), bytes as "KiB/s", counts as "/s".
 */
export function formatRate(perSecond: number, unit: ValueUnit): string {
  const value = formatValue(perSecond, unit)
  return value.includes(' ') ? `${value}/s` : `${value} /s`
}

/**
 * A unit named by a response typed loosely (`unit: string`, as the endpoint and trace answers
 * are); an unknown one is shown as a plain count rather than mislabelled.
 */
export function valueUnit(unit: string): ValueUnit {
  return unit === 'nanoseconds' || unit === 'bytes' ? unit : 'count'
}
