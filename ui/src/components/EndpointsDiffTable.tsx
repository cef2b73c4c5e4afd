import type { EndpointChange, EndpointsDiffResponse } from '@kiln/wire'
import {
  formatPerCallChange,
  hasEndpoints,
  missingChangeReason,
  perCallChangeKind,
  selectedEndpoint,
} from '../endpoints'
import { formatNumber, formatValue, valueUnit, type ValueUnit } from '../format'
import type { Resource } from '../hooks/use-resource'
import { ToggleCell } from './ToggleCell'
import { functionLocation } from '../top-functions'

interface EndpointsDiffPanelProps {
  /** The comparison's endpoints (`useEndpointsDiff`). */
  changes: Resource<EndpointsDiffResponse>
  baseQuery: string
  compQuery: string
  /** Narrow both sides to this endpoint, or widen them again when they already are. */
  onToggle(endpoint: string): void
}

/**
 * The compare view's "Endpoints: cost per call": each endpoint's value per call in both windows,
 * the one whose cost per call grew most first, with the function that grew most inside it. Not
 * drawn when the service's samples carry no endpoint.
 */
export function EndpointsDiffPanel({
  changes,
  baseQuery,
  compQuery,
  onToggle,
}: EndpointsDiffPanelProps) {
  if (changes.data === undefined && changes.error !== undefined) {
    return changes.error.statusCode === 404 ? null : (
      <p className="table-note" data-testid="endpoints-diff-error">
        Endpoints could not be compared: {changes.error.message}
      </p>
    )
  }
  if (changes.data === undefined || !hasEndpoints(changes.data.endpoints)) return null
  const base = selectedEndpoint(baseQuery)
  const selected = base !== null && base === selectedEndpoint(compQuery) ? base : null
  return <EndpointsDiffTable response={changes.data} selected={selected} onToggle={onToggle} />
}

interface EndpointsDiffTableProps {
  response: EndpointsDiffResponse
  /** The endpoint both sides are narrowed to, `null` for none. */
  selected: string | null
  onToggle(endpoint: string): void
}

function perCallText(value: number | null, unit: ValueUnit): string {
  return value === null ? '—' : formatValue(value, unit)
}

function GrewMostCell({ change }: { change: EndpointChange }) {
  const grew = change.grewMost
  if (grew === undefined) return <td className="muted">—</td>
  return (
    <td className="function-cell" data-function={grew.name}>
      <span className="function-name" title={grew.name}>
        {grew.name}
      </span>
      <span className="function-file">
        {functionLocation(grew)} · +{formatNumber(grew.change * 100)} pp of the endpoint
      </span>
    </td>
  )
}

export function EndpointsDiffTable({ response, selected, onToggle }: EndpointsDiffTableProps) {
  const unit = valueUnit(response.unit)
  return (
    <section className="packages-panel endpoints-panel" aria-label="Endpoints: cost per call">
      <table className="list-table packages-table" data-testid="endpoints-diff-table">
        <caption>
          Endpoints: cost per call ({response.type}), the largest growth first; click one to compare
          only its samples
        </caption>
        <thead>
          <tr>
            <th scope="col">Endpoint</th>
            <th scope="col" className="numeric">
              Per call, before → after
            </th>
            <th scope="col" className="numeric">
              Change
            </th>
            <th
              scope="col"
              className="numeric"
              title="Local root spans seen in the samples of each window (a lower bound)"
            >
              Calls
            </th>
            <th scope="col">Grew most</th>
          </tr>
        </thead>
        <tbody>
          {response.endpoints.map((change) => {
            const pressed = selected === change.endpoint
            const kind = perCallChangeKind(change.perCallChange)
            return (
              <tr
                key={change.endpoint}
                data-endpoint={change.endpoint}
                data-change={kind}
                className={pressed ? 'focused' : undefined}
              >
                <ToggleCell
                  pressed={pressed}
                  title={
                    pressed
                      ? 'Click again to compare every endpoint'
                      : 'Compare only this endpoint’s samples (both windows)'
                  }
                  onToggle={() => onToggle(change.endpoint)}
                >
                  <span className="function-name">{change.endpoint}</span>
                </ToggleCell>
                <td className="numeric">
                  {perCallText(change.baseline.perCall, unit)} →{' '}
                  {perCallText(change.comparison.perCall, unit)}
                </td>
                <td
                  className={`numeric change-${kind}`}
                  data-per-call-change={change.perCallChange ?? undefined}
                  title={missingChangeReason(change) ?? undefined}
                >
                  {formatPerCallChange(change.perCallChange)}
                </td>
                <td className="numeric">
                  {change.baseline.calls} → {change.comparison.calls}
                </td>
                <GrewMostCell change={change} />
              </tr>
            )
          })}
        </tbody>
      </table>
    </section>
  )
}
