import type { ChangeKind, ChartNode } from './diff-tree'
import { formatNumber, formatPercent, formatValue, type ValueUnit } from './format'
import type { DiffMode } from './url-state'

/** One number of a frame as the tooltip and the details line show it: "Total", "12 ms (3%)". */
export interface Figure {
  label: string
  value: string
  /** Set on a diff's change, for its colour. */
  change?: ChangeKind
}

const sign = (n: number): string => (n >= 0 ? '+' : '−')

/** A change of share in percentage points: 0.012 -> "+1.2 pp". */
export function formatPoints(share: number): string {
  return `${sign(share)}${formatNumber(Math.abs(share) * 100)} pp`
}

/** A signed change of value: -2_500_000 ns -> "−2.5 ms". */
export function formatChange(delta: number, unit: ValueUnit): string {
  return `${sign(delta)}${formatValue(Math.abs(delta), unit)}`
}

/**
 * The numbers of a frame: total and self as values and shares of `total`; in a diff (`mode`
 * set and the node carrying its diff values) both windows, the change as the mode measures it
 * (share points, or value) and self in both.
 */
export function frameFigures(
  node: ChartNode,
  unit: ValueUnit,
  total: number,
  mode?: DiffMode,
): Figure[] {
  const diff = node.diff
  if (diff === undefined || mode === undefined) {
    return [
      {
        label: 'Total',
        value: `${formatValue(node.value, unit)} (${formatPercent(node.value, total)})`,
      },
      {
        label: 'Self',
        value: `${formatValue(node.self, unit)} (${formatPercent(node.self, total)})`,
      },
    ]
  }
  const share = (n: number) => `${formatNumber(n * 100)}%`
  return [
    { label: 'Baseline', value: `${formatValue(diff.baseTotal, unit)} (${share(diff.baseShare)})` },
    {
      label: 'Comparison',
      value: `${formatValue(diff.compTotal, unit)} (${share(diff.compShare)})`,
    },
    {
      label: 'Change',
      value:
        mode === 'normalized'
          ? `${formatPoints(diff.compShare - diff.baseShare)} of total`
          : formatChange(diff.compTotal - diff.baseTotal, unit),
      change: diff.kind,
    },
    {
      label: 'Self',
      value: `${formatValue(diff.baseSelf, unit)} → ${formatValue(diff.compSelf, unit)}`,
    },
  ]
}
