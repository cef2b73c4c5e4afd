import type { DiffChanges, DiffFunction } from '@kiln/wire'
import { formatNumber, formatRate, formatValue, type ValueUnit } from '../format'
import { changesLeftOutNote } from '../left-out'
import { functionLocation, functionRef, sameFunction } from '../top-functions'
import type { DiffMode, FunctionRef, RankBy } from '../url-state'
import { LeftOutNote } from './LeftOutNote'

interface ChangesTableProps {
  changes: DiffChanges
  rank: RankBy
  mode: DiffMode
  unit: ValueUnit
  totals: { base: number; comp: number }
  /** Distinct stacks of each window. */
  stacks: { base: number; comp: number }
  /**
   * Seconds of collected instance time of each window (cumulative types): absolute values are
   * shown per second of it, so windows of other lengths or fleets compare. `null`: raw values
   * (gauges such as heap in use, which are not per second).
   */
  seconds: { base: number; comp: number } | null
  focus: FunctionRef | null
  onRankChange(rank: RankBy): void
  onFocus(fn: FunctionRef | null): void
}

const pct = (part: number, total: number) =>
  total > 0 ? `${formatNumber((100 * part) / total)}%` : '–'
const signed = (text: string, value: number) => `${value > 0 ? '+' : value < 0 ? '−' : ''}${text}`

function ChangeRows(props: ChangesTableProps & { kind: 'grew' | 'shrank'; rows: DiffFunction[] }) {
  const { rank, mode, unit, totals, focus, kind, rows } = props
  if (rows.length === 0) {
    return (
      <tr>
        <td colSpan={4} className="empty-row">
          No function {kind === 'grew' ? 'grew' : 'shrank'}.
        </td>
      </tr>
    )
  }
  return (
    <>
      {rows.map((fn) => {
        const base = rank === 'self' ? fn.baseSelf : fn.baseTotal
        const comp = rank === 'self' ? fn.compSelf : fn.compTotal
        const share = rank === 'self' ? fn.selfShare : fn.totalShare
        const delta = rank === 'self' ? fn.selfDelta : fn.totalDelta
        const { seconds } = props
        const perSecond = mode === 'absolute' && seconds !== null
        const change =
          mode === 'normalized'
            ? signed(`${formatNumber(Math.abs(share) * 100)} pp`, share)
            : perSecond
              ? // `delta` is the comparison at the baseline's coverage, less the baseline.
                signed(formatRate(Math.abs(delta) / seconds.base, unit), delta)
              : signed(formatValue(Math.abs(delta), unit), delta)
        const shown = (value: number, side: 'base' | 'comp') =>
          perSecond ? formatRate(value / seconds[side], unit) : formatValue(value, unit)
        const focused = focus !== null && sameFunction(fn, focus)
        return (
          <tr
            key={`${fn.name}\u0000${fn.file ?? ''}`}
            data-function={fn.name}
            data-change={kind}
            className={focused ? 'focused' : undefined}
          >
            <td className="function-cell">
              <button
                type="button"
                className="function-button"
                aria-pressed={focused}
                title="Find this function in the flame graph"
                onClick={() => props.onFocus(focused ? null : functionRef(fn))}
              >
                <span className="function-name">{fn.name}</span>
                <span className="function-file">{functionLocation(fn)}</span>
              </button>
            </td>
            <td className="numeric">
              {shown(base, 'base')}
              <span className="share">{pct(base, totals.base)}</span>
            </td>
            <td className="numeric">
              {shown(comp, 'comp')}
              <span className="share">{pct(comp, totals.comp)}</span>
            </td>
            <td className={`numeric change-${kind}`}>{change}</td>
          </tr>
        )
      })}
    </>
  )
}

/** The functions that grew and shrank most, as the diff ranked them. */
export function ChangesTable(props: ChangesTableProps) {
  const { changes, rank, mode } = props
  const lists = changes[rank]
  return (
    <section className="changes-panel" aria-label="Functions that changed">
      <div className="segmented" role="group" aria-label="Rank by">
        {(['self', 'total'] as const).map((candidate) => (
          <button
            key={candidate}
            type="button"
            aria-pressed={rank === candidate}
            onClick={() => props.onRankChange(candidate)}
            title={
              candidate === 'self'
                ? 'Time or memory in the function itself'
                : 'The function and everything it called'
            }
          >
            {candidate === 'self' ? 'Self' : 'Total'}
          </button>
        ))}
      </div>
      <LeftOutNote
        note={changesLeftOutNote({
          changes,
          baseline: { total: props.totals.base, stacks: props.stacks.base },
          comparison: { total: props.totals.comp, stacks: props.stacks.comp },
          unit: props.unit,
        })}
        testId="changes-left-out"
      />
      {(['grew', 'shrank'] as const).map((kind) => (
        <table key={kind} className="changes-table" data-testid={`changes-${kind}`}>
          <caption>
            {kind === 'grew' ? 'Grew most' : 'Shrank most'} (
            {mode === 'normalized'
              ? 'change of share of the total'
              : props.seconds !== null
                ? 'change per second of collected instance time'
                : 'change of value'}
            )
          </caption>
          <thead>
            <tr>
              <th scope="col">Function</th>
              <th scope="col" className="numeric">
                Baseline
              </th>
              <th scope="col" className="numeric">
                Comparison
              </th>
              <th scope="col" className="numeric">
                Change
              </th>
            </tr>
          </thead>
          <tbody>
            <ChangeRows {...props} kind={kind} rows={lists[kind]} />
          </tbody>
        </table>
      ))}
    </section>
  )
}
