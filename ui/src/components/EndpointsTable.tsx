import type { EndpointsResponse } from '@kiln/wire'
import { useMemo } from 'react'
import {
  endpointLabel,
  endpointRows,
  hasEndpoints,
  selectedEndpoint,
  type EndpointFigure,
} from '../endpoints'
import { formatPercent, formatValue, valueUnit, type ValueUnit } from '../format'
import type { Resource } from '../hooks/use-resource'
import { ToggleCell } from './ToggleCell'

interface EndpointsPanelProps {
  /** The window's endpoints (`useEndpoints`). */
  endpoints: Resource<EndpointsResponse>
  /** The view's label filter; its endpoint matcher marks the selected row. */
  query: string
  /** Narrow the view to this endpoint, or widen it again when it already is. */
  onToggle(endpoint: string): void
}

/**
 * The explore view's endpoints: the window's CPU and wall time per endpoint, the calls seen and
 * CPU per call. Nothing is drawn for a service whose samples carry no endpoint.
 */
export function EndpointsPanel({ endpoints, query, onToggle }: EndpointsPanelProps) {
  if (endpoints.data === undefined && endpoints.error !== undefined) {
    // A server without endpoints (404) has none to show; any other failure is said, quietly.
    return endpoints.error.statusCode === 404 ? null : (
      <p className="table-note" data-testid="endpoints-error">
        Endpoints could not be loaded: {endpoints.error.message}
      </p>
    )
  }
  if (endpoints.data === undefined || !hasEndpoints(endpoints.data.endpoints)) return null
  return (
    <EndpointsTable
      response={endpoints.data}
      selected={selectedEndpoint(query)}
      onToggle={onToggle}
    />
  )
}

function FigureCell({ figure, unit }: { figure: EndpointFigure | null; unit: ValueUnit }) {
  if (figure === null) {
    return <td className="numeric muted">—</td>
  }
  return (
    <td className="numeric" data-share={figure.share}>
      {formatValue(figure.value, unit)}
      <span className="share">{formatPercent(figure.share, 1)}</span>
      <span className="package-bar" aria-hidden="true">
        <span style={{ width: `${Math.min(100, figure.share * 100)}%` }} />
      </span>
    </td>
  )
}

interface EndpointsTableProps {
  response: EndpointsResponse
  /** The endpoint the view is narrowed to, `null` for none. */
  selected: string | null
  onToggle(endpoint: string): void
}

export function EndpointsTable({ response, selected, onToggle }: EndpointsTableProps) {
  const rows = useMemo(() => endpointRows(response), [response])
  const cpuUnit = valueUnit(response.types.cpu?.unit ?? 'nanoseconds')
  const wallUnit = valueUnit(response.types.wall?.unit ?? 'nanoseconds')
  return (
    <section className="packages-panel endpoints-panel" aria-label="By endpoint">
      <table className="list-table packages-table" data-testid="endpoints-table">
        <caption>
          By endpoint: CPU and wall time of each request route (the trace&rsquo;s local root span),
          as a share of the window; click one to filter the view by it
        </caption>
        <thead>
          <tr>
            <th scope="col">Endpoint</th>
            <th scope="col" className="numeric">
              CPU
            </th>
            <th scope="col" className="numeric">
              Wall
            </th>
            <th
              scope="col"
              className="numeric"
              title="Local root spans seen in the samples: requests that ran while the agent collected (a lower bound)"
            >
              Calls
            </th>
            <th scope="col" className="numeric" title="CPU time over the calls seen">
              CPU per call
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => {
            const pressed = selected === row.endpoint
            return (
              <tr
                key={row.endpoint}
                data-endpoint={row.endpoint}
                className={pressed ? 'focused' : undefined}
              >
                <ToggleCell
                  pressed={pressed}
                  title={
                    pressed
                      ? 'Click again to show every endpoint'
                      : row.endpoint === ''
                        ? 'Show only the samples outside any endpoint'
                        : 'Show only this endpoint’s samples (flame graph, top functions, timeline)'
                  }
                  onToggle={() => onToggle(row.endpoint)}
                >
                  <span className="function-name">{endpointLabel(row.endpoint)}</span>
                </ToggleCell>
                <FigureCell figure={row.cpu} unit={cpuUnit} />
                <FigureCell figure={row.wall} unit={wallUnit} />
                <td className="numeric">{row.calls > 0 ? row.calls : '—'}</td>
                <td className="numeric" data-per-call={row.cpuPerCall ?? undefined}>
                  {row.cpuPerCall !== null ? formatValue(row.cpuPerCall, 'nanoseconds') : '—'}
                </td>
              </tr>
            )
          })}
        </tbody>
      </table>
    </section>
  )
}
