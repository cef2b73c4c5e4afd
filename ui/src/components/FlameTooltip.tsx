import { useLayoutEffect, useRef } from 'react'
import type { ChartNode } from '../diff-tree'
import type { ValueUnit } from '../format'
import { frameFigures } from '../frame-figures'
import { placeTooltip } from '../tooltip-placement'
import type { DiffMode } from '../url-state'

interface FlameTooltipProps {
  node: ChartNode
  unit: ValueUnit
  total: number
  /** Set in a diff: how the change is measured. */
  mode?: DiffMode | undefined
  /** Pointer position inside the tooltip's positioned parent (the flame area), in px. */
  x: number
  y: number
}

/** Name, file, total and self of the hovered frame; in a diff, both windows and the change. */
export function FlameTooltip(props: FlameTooltipProps) {
  const { node, unit, total, mode, x, y } = props
  const element = useRef<HTMLDivElement>(null)

  // Placed after layout and before paint, from its own size: a long name makes it taller, and
  // near the right edge it must not shrink into the space left (it has a minimum width instead).
  useLayoutEffect(() => {
    const tooltip = element.current
    const parent = tooltip?.offsetParent
    if (!tooltip || !parent) return
    const origin = parent.getBoundingClientRect()
    const root = document.documentElement
    const { left, top } = placeTooltip(
      { x: origin.left + x, y: origin.top + y },
      { width: tooltip.offsetWidth, height: tooltip.offsetHeight },
      { width: root.clientWidth, height: root.clientHeight },
    )
    // Through CSSOM: the server's Content-Security-Policy refuses `style` attributes.
    tooltip.style.left = `${left - origin.left}px`
    tooltip.style.top = `${top - origin.top}px`
  })

  return (
    <div className="flame-tooltip" role="tooltip" data-testid="flame-tooltip" ref={element}>
      <div className="flame-tooltip-name">{node.name}</div>
      {node.file ? <div className="flame-tooltip-file">{node.file}</div> : null}
      <dl>
        {frameFigures(node, unit, total, mode).map((figure) => (
          <FigureRow key={figure.label} {...figure} />
        ))}
      </dl>
    </div>
  )
}

function FigureRow({ label, value, change }: { label: string; value: string; change?: string }) {
  return (
    <>
      <dt>{label}</dt>
      <dd className={change !== undefined ? `change-${change}` : undefined}>{value}</dd>
    </>
  )
}
