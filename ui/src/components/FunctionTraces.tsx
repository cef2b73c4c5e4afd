import type { TraceSummary } from '@kiln/wire'
import { fetchTraces } from '../api'
import { endpointLabel } from '../endpoints'
import { formatValue, valueUnit, type ValueUnit } from '../format'
import { useResource } from '../hooks/use-resource'
import { safeHref } from '../safe-href'
import { formatSpan, type TimeWindow } from '../time-window'
import { shortTraceId, traceSampleWindow } from '../traces'
import { defaultTraceState, type FunctionRef } from '../url-state'
import { AppLink } from './AppLink'

/** Traces listed per function. */
const TRACES_LIMIT = 10

interface FunctionTracesProps {
  service: string
  /** A type whose samples carry traces (cpu, wall). */
  type: string
  window: TimeWindow
  /** What the window is (a preset or fixed times), not its moving ends: the request's key. */
  windowKey: string
  query: string
  fn: FunctionRef
  refreshToken: number
}

/**
 * "Traces that ran it": the heaviest traces of the window whose samples have the function on
 * their stack, each opening its own profile in Kiln and, when the server knows the tracing UI,
 * the trace there.
 */
export function FunctionTraces(props: FunctionTracesProps) {
  const { service, type, window, windowKey, query, fn, refreshToken } = props
  const traces = useResource(
    {
      key: `traces${JSON.stringify([service, type, windowKey, query, fn.name, fn.file ?? null])}`,
      load: (signal) =>
        fetchTraces(
          {
            service,
            type,
            ...window,
            ...(query !== '' ? { query } : {}),
            function: fn.name,
            ...(fn.file !== undefined ? { file: fn.file } : {}),
            limit: TRACES_LIMIT,
          },
          signal,
        ),
    },
    refreshToken,
  )
  const data = traces.data
  return (
    <section
      className="function-traces"
      aria-label="Traces that ran it"
      data-testid="function-traces"
    >
      <h3>Traces that ran it</h3>
      {data === undefined ? (
        <p className="table-note">
          {traces.error !== undefined
            ? `Traces could not be loaded: ${traces.error.message}`
            : 'Loading traces…'}
        </p>
      ) : data.traces.length === 0 ? (
        <p className="table-note" data-testid="function-traces-empty">
          No sampled trace ran it in this window (samples carry a trace when the service runs
          OpenTelemetry with Kiln&rsquo;s agent).
        </p>
      ) : (
        <>
          <ul className="trace-list">
            {data.traces.map((trace) => (
              <TraceItem
                key={trace.traceId}
                trace={trace}
                service={service}
                type={type}
                unit={valueUnit(data.unit)}
              />
            ))}
          </ul>
          {data.more > 0 ? (
            <p className="table-note">
              {data.more} more {data.more === 1 ? 'trace' : 'traces'} ran it; the heaviest{' '}
              {data.traces.length} are listed.
            </p>
          ) : null}
        </>
      )}
    </section>
  )
}

function TraceItem(props: { trace: TraceSummary; service: string; type: string; unit: ValueUnit }) {
  const { trace, service, type, unit } = props
  const tracing = safeHref(trace.tracingUrl)
  const window = traceSampleWindow(trace)
  return (
    <li data-trace-id={trace.traceId}>
      <AppLink
        to={defaultTraceState({ service, type }, { traceId: trace.traceId, window })}
        className="trace-id"
        title={`Profile of trace ${trace.traceId} in Kiln`}
        data-testid="trace-link"
      >
        <code>{shortTraceId(trace.traceId)}</code>
      </AppLink>
      <span className="trace-endpoint">{endpointLabel(trace.endpoint)}</span>
      <span className="numeric" title="Value of its samples that ran the function">
        {formatValue(trace.value, unit)}
      </span>
      <span className="muted">{formatSpan(trace.first, trace.last)}</span>
      {tracing !== null ? (
        <a href={tracing} target="_blank" rel="noopener noreferrer" data-testid="tracing-link">
          open in tracing UI
        </a>
      ) : null}
    </li>
  )
}
