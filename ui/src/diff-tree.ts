import type { Aggregation, DiffNode, DiffResponse, FlameNode } from '@kiln/wire'
import type { DiffMode } from './url-state'

export type ChangeKind = 'grew' | 'shrank' | 'same'

/** A diff node's numbers, attached to the frame the diff flame graph draws for it. */
export interface DiffValues {
  baseTotal: number
  baseSelf: number
  compTotal: number
  compSelf: number
  /** Node total as a share of its window's total (0 when the window is empty). */
  baseShare: number
  compShare: number
  /**
   * `compShare - baseShare` (normalized) or `compTotal × comparisonScale - baseTotal` (absolute:
   * the comparison put at the baseline's coverage, so the same load per instance is no change).
   */
  change: number
  /** `change` against the larger side, in [-1, 1]: 1 appeared, 0.5 doubled, -1 vanished. */
  relative: number
  kind: ChangeKind
}

/** What the flame graph draws: a `FlameNode`, with its diff values in a diff. */
export interface ChartNode extends FlameNode {
  children: ChartNode[]
  diff?: DiffValues
}

/** Changes smaller than this fraction of the larger side are drawn neutral (noise). */
export const SAME_THRESHOLD = 0.02

const share = (value: number, total: number): number => (total > 0 ? value / total : 0)

export function diffValues(
  node: Pick<DiffNode, 'baseTotal' | 'baseSelf' | 'compTotal' | 'compSelf'>,
  totals: { base: number; comp: number; scale?: number },
  mode: DiffMode,
): DiffValues {
  const baseShare = share(node.baseTotal, totals.base)
  const compShare = share(node.compTotal, totals.comp)
  const [base, comp] =
    mode === 'normalized'
      ? [baseShare, compShare]
      : [node.baseTotal, node.compTotal * (totals.scale ?? 1)]
  const change = comp - base
  const larger = Math.max(Math.abs(base), Math.abs(comp))
  const relative = larger > 0 ? change / larger : 0
  const kind: ChangeKind =
    Math.abs(relative) < SAME_THRESHOLD ? 'same' : relative > 0 ? 'grew' : 'shrank'
  return {
    baseTotal: node.baseTotal,
    baseSelf: node.baseSelf,
    compTotal: node.compTotal,
    compSelf: node.compSelf,
    baseShare,
    compShare,
    change,
    relative,
    kind,
  }
}

/**
 * The diff tree as the flame graph draws it. A frame's width is what it weighs in both windows
 * together: the sum of its two values, the comparison's at the baseline's coverage (absolute), or
 * of its two shares (normalized, so a longer or busier window does not dominate). Both are linear in the node values, so
 * `value === self + sum(children.value)` still holds at every node.
 */
export function diffChartTree(diff: DiffResponse, mode: DiffMode): ChartNode {
  const scale = diff.comparisonScale
  const totals = { base: diff.baseline.total, comp: diff.comparison.total, scale }
  const [wb, wc] =
    mode === 'normalized'
      ? [totals.base > 0 ? 1 / totals.base : 0, totals.comp > 0 ? 1 / totals.comp : 0]
      : [1, scale]
  const convert = (node: DiffNode): ChartNode => {
    const chart: ChartNode = {
      name: node.name,
      value: wb * node.baseTotal + wc * node.compTotal,
      self: wb * node.baseSelf + wc * node.compSelf,
      children: node.children.map(convert),
      diff: diffValues(node, totals, mode),
    }
    if (node.file !== undefined) chart.file = node.file
    return chart
  }
  return convert(diff.root)
}

/** One window of a diff as a flame graph (frames with no value there left out). */
export function sideTree(root: DiffNode, side: 'base' | 'comp'): FlameNode {
  const convert = (node: DiffNode): FlameNode => {
    const flame: FlameNode = {
      name: node.name,
      value: side === 'base' ? node.baseTotal : node.compTotal,
      self: side === 'base' ? node.baseSelf : node.compSelf,
      children: node.children
        .filter((child) => (side === 'base' ? child.baseTotal : child.compTotal) > 0)
        .map(convert),
    }
    if (node.file !== undefined) flame.file = node.file
    return flame
  }
  return convert(root)
}

type Rgb = readonly [number, number, number]
const NEUTRAL: Rgb = [222, 226, 230]
const GREW: Rgb = [220, 50, 40]
const SHRANK: Rgb = [40, 105, 215]

const lerp = (from: number, to: number, t: number): number => Math.round(from + (to - from) * t)
const mix = (from: Rgb, to: Rgb, t: number): Rgb => [
  lerp(from[0], to[0], t),
  lerp(from[1], to[1], t),
  lerp(from[2], to[2], t),
]

/**
 * Fill of a diff frame: red where it grew, blue where it shrank, grey when about the same. The
 * square root lifts small changes off the neutral grey, so a 10% change is visibly tinted.
 */
export function diffColor(values: Pick<DiffValues, 'relative' | 'kind'>): string {
  if (values.kind === 'same') return `rgb(${NEUTRAL.join(', ')})`
  const t = Math.sqrt(Math.min(1, Math.abs(values.relative)))
  const rgb = mix(NEUTRAL, values.kind === 'grew' ? GREW : SHRANK, t)
  return `rgb(${rgb.join(', ')})`
}

/** Whether a label on this fill needs light text (dark text stays readable up to this point). */
export function needsLightText(values: Pick<DiffValues, 'relative' | 'kind'>): boolean {
  return values.kind !== 'same' && Math.sqrt(Math.min(1, Math.abs(values.relative))) > 0.6
}

/** The mode a type is compared in unless the reader chose: heap in use by bytes. */
export function defaultDiffMode(aggregation: Aggregation | undefined): DiffMode {
  return aggregation === 'gauge' ? 'absolute' : 'normalized'
}
