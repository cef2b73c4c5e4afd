import { useEffect, useMemo, useRef } from 'react'
import { DIFF_SCALE_TICKS, diffScaleGradient, largestChanges } from '../diff-scale'
import type { ChartNode } from '../diff-tree'
import type { ValueUnit } from '../format'
import { formatChange, formatPoints } from '../frame-figures'
import type { DiffMode } from '../url-state'

interface DiffScaleLegendProps {
  root: ChartNode
  mode: DiffMode
  unit: ValueUnit
}

const MEASURE: Record<DiffMode, string> = {
  normalized: 'its share of the window’s total',
  absolute: 'its value, the comparison scaled to the baseline’s coverage',
}

/**
 * The diff flame graph's colour scale, from "gone" (blue) through "same" (grey) to "new" (red),
 * and the largest changes in this graph in the mode's numbers (share points or values).
 */
export function DiffScaleLegend({ root, mode, unit }: DiffScaleLegendProps) {
  const bar = useRef<HTMLSpanElement>(null)
  const largest = useMemo(() => largestChanges(root), [root])
  const format = (change: number) =>
    mode === 'normalized' ? formatPoints(change) : formatChange(change, unit)
  const changes = [largest.shrank, largest.grew].filter((change) => change !== 0).map(format)

  // Through CSSOM: the server's Content-Security-Policy refuses `style` attributes.
  useEffect(() => {
    if (bar.current) bar.current.style.backgroundImage = diffScaleGradient()
  }, [])

  const title =
    `A frame's colour is its change in ${MEASURE[mode]}, against the larger of its two ` +
    'sides: the deeper the colour, the larger the change.'
  return (
    <span className="diff-scale" data-testid="diff-scale" title={title}>
      <span className="diff-scale-end">shrank</span>
      <span className="diff-scale-bar" ref={bar} role="img" aria-label={title}>
        {DIFF_SCALE_TICKS.map((tick) => (
          <span
            key={tick.label}
            className="diff-scale-tick"
            data-offset={tick.offset}
            title={tick.meaning}
            ref={(element) => {
              if (element) element.style.left = `${tick.offset * 100}%`
            }}
          >
            {tick.label}
          </span>
        ))}
      </span>
      <span className="diff-scale-end">grew</span>
      {changes.length > 0 ? (
        <span className="diff-scale-range" data-testid="diff-scale-range">
          largest here: {changes.join(', ')}
        </span>
      ) : null}
    </span>
  )
}
