import type { FlameNode } from '@kiln/wire'
import { useEffect, useMemo, useRef, type ReactNode } from 'react'
import { formatPercent, formatValue, type ValueUnit } from '../format'
import { sandwich } from '../sandwich'
import { functionLocation } from '../top-functions'
import type { FunctionRef } from '../url-state'
import { FlameGraph } from './FlameGraph'

interface SandwichPanelProps {
  root: FlameNode
  focus: FunctionRef
  unit: ValueUnit
  total: number
  onClose(): void
  /**
   * Changes each time the reader opens a function's callers and callees (0: not yet): the panel
   * then scrolls into view, since it sits under the flame graph. A link that opens the page on a
   * focused function does not scroll.
   */
  reveal?: number
  /** More about the function, under its graphs (the traces that ran it). */
  children?: ReactNode
}

/** Callers and callees of the focused function, merged over every call path it is on. */
export function SandwichPanel(props: SandwichPanelProps) {
  const { root, focus, unit, total, onClose, reveal = 0 } = props
  const s = useMemo(() => sandwich(root, focus), [root, focus])
  const panel = useRef<HTMLElement>(null)
  useEffect(() => {
    if (reveal > 0) panel.current?.scrollIntoView({ block: 'start' })
  }, [reveal])
  return (
    <section
      className="sandwich"
      aria-label="Callers and callees"
      data-testid="sandwich"
      ref={panel}
    >
      <header className="sandwich-header">
        <h2>
          <code>{focus.name}</code> <span className="function-file">{functionLocation(focus)}</span>
        </h2>
        {s !== null ? (
          <span className="summary">
            <span>
              Total <strong>{formatValue(s.total, unit)}</strong> ({formatPercent(s.total, total)})
            </span>
            <span>
              Self <strong>{formatValue(s.self, unit)}</strong> ({formatPercent(s.self, total)})
            </span>
            <span>
              {s.paths} call {s.paths === 1 ? 'path' : 'paths'}
            </span>
          </span>
        ) : null}
        <button type="button" onClick={onClose}>
          Clear focus
        </button>
      </header>
      {s === null ? (
        <p className="table-note">This window's flame graph does not have this function.</p>
      ) : (
        <div className="sandwich-graphs">
          <div>
            <h3>Callers (who calls it, up to the top of the stack)</h3>
            <FlameGraph
              root={s.callers}
              unit={unit}
              total={s.total}
              label="Callers"
              testId="sandwich-callers"
            />
          </div>
          <div>
            <h3>Callees (what it calls)</h3>
            <FlameGraph
              root={s.callees}
              unit={unit}
              total={s.total}
              label="Callees"
              testId="sandwich-callees"
            />
          </div>
        </div>
      )}
      {props.children}
    </section>
  )
}
