import type { DiffNode, FlameNode } from '@kiln/wire'
import { useMemo } from 'react'
import { formatNumber, formatPercent, formatValue, type ValueUnit } from '../format'
import { packageChanges, packageTotals } from '../package-totals'
import { groupHint, packageSearch, type PackageGroup } from '../packages'

/** One window's tree (explore), or a diff's tree with both windows' totals (compare). */
export type PackagesSource =
  | { kind: 'explore'; root: FlameNode; total: number }
  | { kind: 'diff'; root: DiffNode; totals: { base: number; comp: number } }

interface PackagesTableProps {
  source: PackagesSource
  unit: ValueUnit
  /** The flame graph search: a package row sets it to the package's path. */
  search: string
  onSearchChange(search: string): void
}

const MEASURE: Record<ValueUnit, string> = { nanoseconds: 'time', bytes: 'memory', count: 'count' }

/** Changes under half a hundredth of a point print as 0 and are drawn neutral. */
const SAME_POINTS = 0.005

function changeKind(change: number): 'grew' | 'shrank' | 'same' {
  const points = change * 100
  return Math.abs(points) < SAME_POINTS ? 'same' : points > 0 ? 'grew' : 'shrank'
}

function formatPoints(change: number): string {
  const kind = changeKind(change)
  const sign = kind === 'grew' ? '+' : kind === 'shrank' ? '−' : ''
  return `${sign}${formatNumber(kind === 'same' ? 0 : Math.abs(change) * 100)} pp`
}

/** The group's name; for a package, a button that searches the flame graph for its files. */
function GroupCell(props: {
  group: PackageGroup
  label: string
  search: string
  onSearchChange(search: string): void
}) {
  const { group, label } = props
  if (group.kind !== 'package') {
    return (
      <td className="function-cell">
        <span className="function-name">{label}</span>
        <span className="package-hint">{groupHint(group)}</span>
      </td>
    )
  }
  const term = packageSearch(group)
  const pressed = props.search.trim() === term
  return (
    <td className="function-cell">
      <button
        type="button"
        className="function-button"
        aria-pressed={pressed}
        title={
          pressed
            ? 'Click again to clear the search'
            : `Highlight this package's frames in the flame graph (search “${term}”)`
        }
        onClick={() => props.onSearchChange(pressed ? '' : term)}
      >
        <span className="function-name">{label}</span>
        <span className="package-hint">{term}</span>
      </button>
    </td>
  )
}

interface RowsProps {
  unit: ValueUnit
  cell: { search: string; onSearchChange(search: string): void }
}

const packageAttribute = (group: PackageGroup) =>
  group.kind === 'package' ? { 'data-package': group.name } : {}

function TotalRows(props: RowsProps & { root: FlameNode; total: number }) {
  const { root, total, unit, cell } = props
  const rows = useMemo(() => packageTotals(root, total), [root, total])
  if (rows.length === 0) return <EmptyRow columns={3} />
  return (
    <>
      {rows.map((row) => (
        <tr key={row.key} data-group={row.group.kind} {...packageAttribute(row.group)}>
          <GroupCell group={row.group} label={row.label} {...cell} />
          <td className="numeric">{formatValue(row.self, unit)}</td>
          <td className="numeric" data-share={row.share}>
            {formatPercent(row.self, total)}
            <span className="package-bar" aria-hidden="true">
              <span style={{ width: `${Math.min(100, row.share * 100)}%` }} />
            </span>
          </td>
        </tr>
      ))}
    </>
  )
}

function ChangeRows(props: RowsProps & { root: DiffNode; base: number; comp: number }) {
  const { root, base, comp, unit, cell } = props
  const rows = useMemo(() => packageChanges(root, { base, comp }), [root, base, comp])
  if (rows.length === 0) return <EmptyRow columns={4} />
  return (
    <>
      {rows.map((row) => {
        const change = changeKind(row.change)
        return (
          <tr
            key={row.key}
            data-group={row.group.kind}
            data-change={change}
            {...packageAttribute(row.group)}
          >
            <GroupCell group={row.group} label={row.label} {...cell} />
            <td className="numeric" data-share={row.baseShare}>
              {formatValue(row.baseSelf, unit)}
              <span className="share">{formatPercent(row.baseSelf, base)}</span>
            </td>
            <td className="numeric" data-share={row.compShare}>
              {formatValue(row.compSelf, unit)}
              <span className="share">{formatPercent(row.compSelf, comp)}</span>
            </td>
            <td className={`numeric change-${change}`}>{formatPoints(row.change)}</td>
          </tr>
        )
      })}
    </>
  )
}

function EmptyRow({ columns }: { columns: number }) {
  return (
    <tr>
      <td colSpan={columns} className="empty-row">
        No samples.
      </td>
    </tr>
  )
}

/**
 * Self value per package (and Node core, the V8 runtime, the service's own code): which
 * libraries the window's time or memory is spent in. In a comparison, both windows' shares and
 * the change in points, the package whose share grew most first.
 */
export function PackagesTable(props: PackagesTableProps) {
  const { source, unit } = props
  const cell = { search: props.search, onSearchChange: props.onSearchChange }
  const isDiff = source.kind === 'diff'
  const columns = isDiff ? ['Baseline', 'Comparison', 'Change'] : ['Self', 'Share']
  return (
    <section className="packages-panel" aria-label="By package">
      <table className="list-table packages-table" data-testid="packages-table">
        <caption>
          By package: self {MEASURE[unit]} of each package&rsquo;s frames
          {isDiff ? ', the largest growth of share first' : ', as a share of the window'}
        </caption>
        <thead>
          <tr>
            <th scope="col">Package</th>
            {columns.map((column) => (
              <th key={column} scope="col" className="numeric">
                {column}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {source.kind === 'diff' ? (
            <ChangeRows
              root={source.root}
              base={source.totals.base}
              comp={source.totals.comp}
              unit={unit}
              cell={cell}
            />
          ) : (
            <TotalRows root={source.root} total={source.total} unit={unit} cell={cell} />
          )}
        </tbody>
      </table>
    </section>
  )
}
