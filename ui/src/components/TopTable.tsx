import type { TopFunction } from '@kiln/wire'
import { formatPercent, formatValue, type ValueUnit } from '../format'
import { topLeftOutNote } from '../left-out'
import { filterFunctions, functionLocation, functionRef, sameFunction } from '../top-functions'
import type { FunctionRef, TopSort } from '../url-state'
import { LeftOutNote } from './LeftOutNote'

/** Rows drawn at most; the search narrows the rest. */
const MAX_ROWS = 200

interface TopTableProps {
  functions: readonly TopFunction[]
  unit: ValueUnit
  total: number
  /** Distinct stacks of the window. */
  stacks: number
  /** The response's `leftOut`: value of the stacks the table could not read; absent when exact. */
  leftOut?: number | undefined
  search: string
  sort: TopSort
  focus: FunctionRef | null
  onSortChange(sort: TopSort): void
  /** Focus the flame graph on a function; `null` clears the focus. */
  onFocus(fn: FunctionRef | null): void
}

const COLUMNS: readonly { key: TopSort; label: string; hint: string }[] = [
  { key: 'self', label: 'Self', hint: 'where the function itself was running (the leaf)' },
  { key: 'total', label: 'Total', hint: 'the function and everything it called' },
]

/** The heaviest functions of the window, sortable by self or total, filtered by the search. */
export function TopTable(props: TopTableProps) {
  const { unit, total, sort, focus } = props
  const rows = filterFunctions(props.functions, props.search, sort)
  return (
    <section className="top-panel" aria-label="Top functions">
      <LeftOutNote
        note={topLeftOutNote({ leftOut: props.leftOut, total, stacks: props.stacks, unit })}
        testId="top-left-out"
      />
      <table className="top-table" data-testid="top-table">
        <caption>
          Top functions{props.search.trim() !== '' ? ` matching “${props.search.trim()}”` : ''}
        </caption>
        <thead>
          <tr>
            <th scope="col">Function</th>
            {COLUMNS.map((column) => (
              <th
                key={column.key}
                scope="col"
                className="numeric"
                aria-sort={sort === column.key ? 'descending' : 'none'}
              >
                <button
                  type="button"
                  className="sort-button"
                  data-testid={`top-sort-${column.key}`}
                  title={`Sort by ${column.label.toLowerCase()}: ${column.hint}`}
                  onClick={() => props.onSortChange(column.key)}
                >
                  {column.label}
                  {sort === column.key ? ' ▼' : ''}
                </button>
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.slice(0, MAX_ROWS).map((fn) => {
            const focused = focus !== null && sameFunction(fn, focus)
            return (
              <tr
                key={`${fn.name}\u0000${fn.file ?? ''}`}
                className={focused ? 'focused' : undefined}
                data-function={fn.name}
              >
                <td className="function-cell">
                  <button
                    type="button"
                    className="function-button"
                    aria-pressed={focused}
                    title={
                      focused
                        ? 'Focused: click again to see the whole flame graph'
                        : 'Focus the flame graph on this function and show its callers and callees'
                    }
                    onClick={() => props.onFocus(focused ? null : functionRef(fn))}
                  >
                    <span className="function-name">{fn.name}</span>
                    <span className="function-file">{functionLocation(fn)}</span>
                  </button>
                </td>
                <td className="numeric">
                  {formatValue(fn.self, unit)}
                  <span className="share">{formatPercent(fn.self, total)}</span>
                </td>
                <td className="numeric">
                  {formatValue(fn.total, unit)}
                  <span className="share">{formatPercent(fn.total, total)}</span>
                </td>
              </tr>
            )
          })}
          {rows.length === 0 ? (
            <tr>
              <td colSpan={3} className="empty-row">
                No function matches the search.
              </td>
            </tr>
          ) : null}
        </tbody>
      </table>
      {rows.length > MAX_ROWS ? (
        <p className="table-note">
          {MAX_ROWS} of {rows.length} shown; search to narrow.
        </p>
      ) : null}
    </section>
  )
}
