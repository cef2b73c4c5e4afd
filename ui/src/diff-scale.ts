import { diffColor, SAME_THRESHOLD, type ChangeKind, type ChartNode } from './diff-tree'

/*
 * The colour scale of the diff flame graph as a legend: `diffColor` of a frame's relative change
 * (its change against the larger of its two sides, in [-1, 1]) from "gone" through "same" to
 * "new". The legend samples `diffColor` itself, so it cannot drift from what the frames show.
 */

/** A colour stop of the legend's gradient; `offset` in [0, 1] from left (gone) to right (new). */
export interface ScaleStop {
  offset: number
  color: string
}

/** A labelled point of the scale. */
export interface ScaleTick {
  offset: number
  label: string
  /** What the label means, for a title. */
  meaning: string
}

const kindOf = (relative: number): ChangeKind =>
  Math.abs(relative) < SAME_THRESHOLD ? 'same' : relative > 0 ? 'grew' : 'shrank'

const offsetOf = (relative: number): number => (relative + 1) / 2

/**
 * Stops every `step` of relative change, and a hard edge at ±`SAME_THRESHOLD` where the neutral
 * grey ends (changes smaller than that are drawn neutral).
 */
export function diffScaleStops(step = 0.05): ScaleStop[] {
  const relatives = new Set<number>()
  const count = Math.round(1 / step)
  for (let i = -count; i <= count; i++) relatives.add(Number((i * step).toFixed(6)))
  // Just inside and at the threshold, so the gradient jumps where the frames do.
  const inside = SAME_THRESHOLD - 1e-9
  for (const r of [-SAME_THRESHOLD, -inside, inside, SAME_THRESHOLD]) relatives.add(r)
  return [...relatives]
    .sort((a, b) => a - b)
    .map((relative) => ({
      offset: offsetOf(relative),
      color: diffColor({ relative, kind: kindOf(relative) }),
    }))
}

/** The CSS gradient of the stops, left to right. */
export function diffScaleGradient(stops: readonly ScaleStop[] = diffScaleStops()): string {
  const parts = stops.map((stop) => `${stop.color} ${(stop.offset * 100).toFixed(2)}%`)
  return `linear-gradient(to right, ${parts.join(', ')})`
}

/**
 * Ticks at the changes a reader names: a relative change of -0.5 is a halving (the comparison
 * is half the baseline), +0.5 a doubling (the baseline is half the comparison), ±1 a frame only
 * one side has.
 */
export const DIFF_SCALE_TICKS: readonly ScaleTick[] = [
  { offset: offsetOf(-1), label: 'gone', meaning: 'only in the baseline' },
  { offset: offsetOf(-0.5), label: '×½', meaning: 'half of the baseline' },
  {
    offset: offsetOf(0),
    label: 'same',
    meaning: `within ${SAME_THRESHOLD * 100}% of each other: drawn grey`,
  },
  { offset: offsetOf(0.5), label: '×2', meaning: 'twice the baseline' },
  { offset: offsetOf(1), label: 'new', meaning: 'only in the comparison' },
]

/** The largest growth and shrinking of any frame below the root, in the diff's `change` units. */
export function largestChanges(root: ChartNode): { grew: number; shrank: number } {
  let grew = 0
  let shrank = 0
  const stack = [...root.children]
  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    const change = node.diff?.change ?? 0
    if (change > grew) grew = change
    if (change < shrank) shrank = change
    stack.push(...node.children)
  }
  return { grew, shrank }
}
