import type { FlameNode } from '@kiln/wire'
import { formatPercent, formatValue, type ValueUnit } from '../format'

const POINTER_OFFSET_PX = 14

interface FlameTooltipProps {
  node: FlameNode
  unit: ValueUnit
  total: number
  /** Pointer position inside the flame graph, in px. */
  x: number
  y: number
  /** Width of the flame graph, to keep the tooltip inside it. */
  containerWidth: number
}

/** Name, file, total and self of the hovered frame. */
export function FlameTooltip({ node, unit, total, x, y, containerWidth }: FlameTooltipProps) {
  const flip = x > containerWidth / 2
  const style = {
    left: flip ? x - POINTER_OFFSET_PX : x + POINTER_OFFSET_PX,
    top: y + POINTER_OFFSET_PX,
    transform: flip ? 'translateX(-100%)' : undefined,
  }
  return (
    <div className="flame-tooltip" role="tooltip" data-testid="flame-tooltip" style={style}>
      <div className="flame-tooltip-name">{node.name}</div>
      {node.file ? <div className="flame-tooltip-file">{node.file}</div> : null}
      <dl>
        <dt>Total</dt>
        <dd>
          {formatValue(node.value, unit)} ({formatPercent(node.value, total)})
        </dd>
        <dt>Self</dt>
        <dd>
          {formatValue(node.self, unit)} ({formatPercent(node.self, total)})
        </dd>
      </dl>
    </div>
  )
}
