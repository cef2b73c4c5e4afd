import type { LabelsResponse } from '@kiln/wire'
import { fetchLabels } from '../api'
import { MINUTE_MS, type TimeWindow } from '../time-window'
import { useResource, type Resource } from './use-resource'

/**
 * Label names of a service's series in a window. They change slowly, so a window that moves with
 * time is asked about again once a minute at most, not on every refresh.
 */
export function useLabelNames(
  service: string,
  type: string | null,
  window: TimeWindow,
): Resource<LabelsResponse> {
  const minutes = [Math.floor(window.from / MINUTE_MS), Math.ceil(window.to / MINUTE_MS)]
  return useResource(
    type === null
      ? null
      : {
          key: JSON.stringify(['labels', service, type, minutes]),
          load: (signal) => fetchLabels({ service, type, ...window }, signal),
        },
    0,
  )
}
