import type { ChartNode, DiffValues } from '../diff-tree'
import { formatNumber, formatPercent, formatValue, type ValueUnit } from '../format'
import type { DiffMode } from '../url-state'

const POINTER_OFFSET_PX = 14

interface FlameTooltipProps {
  node: ChartNode
  unit: ValueUnit
  total: number
  /** Set in a diff: how the change is measured. */
  mode?: DiffMode | undefined
  /** Pointer position inside the flame graph, in px. */
  x: number
  y: number
  /** Width of the flame graph, to keep the tooltip inside it. */
  containerWidth: number
}

const points = (share: number): string =>
  `${share >= 0 ? '+' : '−'}${formatNumber(Math.abs(share) * 100)} pp`

function DiffRows({ diff, unit, mode }: { diff: DiffValues; unit: ValueUnit; mode: DiffMode }) {
  const delta = diff.compTotal - diff.baseTotal
  return (
    <>
      <dt>Baseline</dt>
      <dd>
        {formatValue(diff.baseTotal, unit)} ({formatNumber(diff.baseShare * 100)}%)
      </dd>
      <dt>Comparison</dt>
      <dd>
        {formatValue(diff.compTotal, unit)} ({formatNumber(diff.compShare * 100)}%)
      </dd>
      <dt>Change</dt>
      <dd className={`change-${diff.kind}`}>
        {mode === 'normalized'
          ? `${points(diff.compShare - diff.baseShare)} of total`
          : `${delta >= 0 ? '+' : '−'}${formatValue(Math.abs(delta), unit)}`}
      </dd>
      <dt>Self</dt>
      <dd>
        {formatValue(diff.baseSelf, unit)} → {formatValue(diff.compSelf, unit)}
      </dd>
    </>
  )
}

/** Name, file, total and self of the hovered frame; in a diff, both windows and the change. */
export function FlameTooltip(props: FlameTooltipProps) {
  const { node, unit, total, mode, x, y, containerWidth } = props
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
        {node.diff !== undefined && mode !== undefined ? (
          <DiffRows diff={node.diff} unit={unit} mode={mode} />
        ) : (
          <>
            <dt>Total</dt>
            <dd>
              {formatValue(node.value, unit)} ({formatPercent(node.value, total)})
            </dd>
            <dt>Self</dt>
            <dd>
              {formatValue(node.self, unit)} ({formatPercent(node.self, total)})
            </dd>
          </>
        )}
      </dl>
    </div>
  )
}
