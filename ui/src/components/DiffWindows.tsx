import type { DiffResponse } from '@kiln/wire'
import { useEffect, useState, type FormEvent } from 'react'
import { formatValue } from '../format'
import { normalizeSelector } from '../label-selector'
import { formatDuration, formatWindow, windowLength, type TimeWindow } from '../time-window'
import { PprofLink } from './PprofLink'

interface Side {
  window: TimeWindow
  query: string
}

interface DiffWindowsProps {
  service: string
  type: string
  baseline: Side
  comparison: Side
  diff: DiffResponse | undefined
  onQueryChange(side: 'baseline' | 'comparison', query: string): void
}

function SelectorInput(props: { value: string; label: string; onApply(query: string): void }) {
  const [draft, setDraft] = useState(props.value)
  useEffect(() => setDraft(props.value), [props.value])
  function apply(event: FormEvent) {
    event.preventDefault()
    props.onApply(normalizeSelector(draft))
  }
  return (
    <form className="selector-form" onSubmit={apply}>
      <input
        type="text"
        className="selector-input"
        spellCheck={false}
        aria-label={props.label}
        placeholder="{} (every series)"
        value={draft}
        onChange={(event) => setDraft(event.target.value)}
      />
      <button type="submit" disabled={normalizeSelector(draft) === props.value}>
        Apply
      </button>
    </form>
  )
}

/** The two sides of the comparison: window, selector, total, and a pprof of each. */
export function DiffWindows({
  service,
  type,
  baseline,
  comparison,
  diff,
  onQueryChange,
}: DiffWindowsProps) {
  const sides = [
    { key: 'baseline', title: 'Baseline', side: baseline, result: diff?.baseline },
    { key: 'comparison', title: 'Comparison', side: comparison, result: diff?.comparison },
  ] as const
  return (
    <div className="diff-windows">
      {sides.map(({ key, title, side, result }) => (
        <section key={key} className={`diff-window diff-window-${key}`} data-testid={`diff-${key}`}>
          {/* Title and window on one line, selector and total on the next where they fit: the
              flame graph below stays in view on short and narrow screens. */}
          <div className="diff-window-line">
            <h2>{title}</h2>
            <p>
              {formatWindow(side.window)}{' '}
              <span className="muted">({formatDuration(windowLength(side.window))})</span>
            </p>
          </div>
          <div className="diff-window-line">
            <SelectorInput
              value={side.query}
              label={`${title} label selector`}
              onApply={(query) => onQueryChange(key, query)}
            />
            <p className="muted">
              {result !== undefined && diff !== undefined ? (
                <>
                  Total <strong>{formatValue(result.total, diff.unit)}</strong>, {result.stacks}{' '}
                  stacks ·{' '}
                </>
              ) : null}
              <PprofLink
                query={{
                  service,
                  type,
                  ...side.window,
                  ...(side.query !== '' ? { query: side.query } : {}),
                }}
                testId={`export-pprof-${key}`}
              />
            </p>
          </div>
        </section>
      ))}
    </div>
  )
}
