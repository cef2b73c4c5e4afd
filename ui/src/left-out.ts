import type { DiffChanges, DiffWindow, TopResponse } from '@kiln/wire'
import { formatPercent, formatValue, type ValueUnit } from './format'

/*
 * The function tables of `/top` and `/diff` are exact over every stack of their window up to the
 * server's cap (a million distinct stacks). Beyond it, or when a stack's frames have expired, the
 * response carries `leftOut`: the value, in the type's unit, of the stacks the table could not
 * read. A function's self and total can then be low by up to that much, and a function found
 * only in those stacks is not ranked at all. Absent `leftOut` means the table is exact.
 */

/** Why a table can be partial: the note's tooltip. */
export const LEFT_OUT_HINT =
  'The server ranks functions over at most a million distinct stacks per window; beyond that, ' +
  'or where a stack’s frames have expired, it reports the value it could not read.'

/** Shares below this print as "< 0.01%" rather than a misleading "0%". */
const SMALLEST_PERCENT = 0.01

interface Side {
  /** Value left out, in `unit`. */
  value: number
  /** The window's total and distinct stacks. */
  total: number
  stacks: number
}

function share(part: number, total: number): string {
  return total > 0 && (100 * part) / total < SMALLEST_PERCENT
    ? `< ${SMALLEST_PERCENT}%`
    : formatPercent(part, total)
}

/** "45.6 s of the baseline (2.3% of its total over 1.23 M stacks)"; no window named: "the total". */
function describeLeftOut(side: Side, unit: ValueUnit, windowName?: string): string {
  const value = formatValue(side.value, unit)
  const stacks = formatValue(side.stacks, 'count')
  const pct = share(side.value, side.total)
  return windowName === undefined
    ? `${value} (${pct} of the total over ${stacks} stacks)`
    : `${value} of the ${windowName} (${pct} of its total over ${stacks} stacks)`
}

/** What the top table misses, or `null` when the response says it is exact. */
export function topLeftOutNote(
  top: Pick<TopResponse, 'leftOut' | 'total' | 'stacks' | 'unit'>,
): string | null {
  if (top.leftOut === undefined || top.leftOut === 0) return null
  const side = { value: top.leftOut, total: top.total, stacks: top.stacks }
  return (
    `Partial table: ${describeLeftOut(side, top.unit)} is in stacks it could not read. ` +
    'Self and total may be up to that much too low.'
  )
}

/** What the diff's ranked lists miss, per window, or `null` when the response says they are exact. */
export function changesLeftOutNote(diff: {
  changes: Pick<DiffChanges, 'leftOut'>
  baseline: Pick<DiffWindow, 'total' | 'stacks'>
  comparison: Pick<DiffWindow, 'total' | 'stacks'>
  unit: ValueUnit
}): string | null {
  const leftOut = diff.changes.leftOut
  if (leftOut === undefined) return null
  const parts = [
    { name: 'baseline', window: diff.baseline, value: leftOut[0] },
    { name: 'comparison', window: diff.comparison, value: leftOut[1] },
  ]
    .filter((p) => p.value !== 0)
    .map((p) =>
      describeLeftOut(
        { total: p.window.total, stacks: p.window.stacks, value: p.value },
        diff.unit,
        p.name,
      ),
    )
  if (parts.length === 0) return null
  return (
    `Partial lists: ${parts.join(' and ')} ${parts.length > 1 ? 'are' : 'is'} in stacks they ` +
    'could not read. Values and changes may be off by up to that much.'
  )
}
