import type { EndpointsDiffResponse, EndpointsResponse } from '@kiln/wire'
import { fetchEndpoints, fetchEndpointsDiff } from '../api'
import { withoutEndpoint } from '../endpoints'
import type { TimeWindow } from '../time-window'
import { useResource, type Resource } from './use-resource'

/*
 * The endpoint tables' answers, loaded by the view itself (not the table) so that narrowing the
 * view to an endpoint, which reloads the flame graph and redraws what hangs on it, keeps the
 * table and its answer on screen. Both ask without the endpoint matcher: every endpoint stays
 * listed, and can be switched to, while the view shows one.
 */

/** CPU and wall per endpoint of explore's window; `null` request: not asked (heap types). */
export function useEndpoints(
  request: {
    service: string
    window: TimeWindow
    /** What the window is (a preset or fixed times), not its moving ends. */
    windowKey: string
    query: string
  } | null,
  refreshToken: number,
): Resource<EndpointsResponse> {
  const listed = request === null ? '' : withoutEndpoint(request.query)
  return useResource(
    request && {
      key: `endpoints${JSON.stringify([request.service, request.windowKey, listed])}`,
      group: JSON.stringify([request.service, listed]),
      load: (signal) =>
        fetchEndpoints(
          {
            service: request.service,
            ...request.window,
            ...(listed !== '' ? { query: listed } : {}),
          },
          signal,
        ),
    },
    refreshToken,
  )
}

/** Each endpoint's cost per call in the comparison's two windows; `null`: not asked. */
export function useEndpointsDiff(
  request: {
    service: string
    type: string
    baseline: TimeWindow
    comparison: TimeWindow
    /** What the windows are (the link's times), not their moving ends. */
    windowsKey: string
    baseQuery: string
    compQuery: string
  } | null,
  refreshToken: number,
): Resource<EndpointsDiffResponse> {
  const baseQuery = request === null ? '' : withoutEndpoint(request.baseQuery)
  const compQuery = request === null ? '' : withoutEndpoint(request.compQuery)
  return useResource(
    request && {
      key: `endpoints-diff${JSON.stringify([request.service, request.type, request.windowsKey, baseQuery, compQuery])}`,
      group: JSON.stringify([request.service, request.type, baseQuery, compQuery]),
      load: (signal) =>
        fetchEndpointsDiff(
          {
            service: request.service,
            type: request.type,
            baseFrom: request.baseline.from,
            baseTo: request.baseline.to,
            compFrom: request.comparison.from,
            compTo: request.comparison.to,
            ...(baseQuery !== '' ? { baseQuery } : {}),
            ...(compQuery !== '' ? { compQuery } : {}),
          },
          signal,
        ),
    },
    refreshToken,
  )
}
