import type { ServiceSummary } from '@kiln/wire'

export const DEFAULT_PROFILE_TYPE = 'cpu'

export interface Selection {
  service: ServiceSummary
  /** `null` when the service reports no profile types. */
  type: string | null
}

/**
 * The service and type to show: the wanted ones when the server knows them, else the first
 * service and its `cpu` type (or its first type). `null` when there are no services.
 */
export function resolveSelection(
  services: readonly ServiceSummary[],
  wanted: { service: string | null; type: string | null },
): Selection | null {
  const service = services.find((candidate) => candidate.name === wanted.service) ?? services[0]
  if (service === undefined) return null
  const { types } = service
  const type =
    wanted.type !== null && types.includes(wanted.type)
      ? wanted.type
      : types.includes(DEFAULT_PROFILE_TYPE)
        ? DEFAULT_PROFILE_TYPE
        : (types[0] ?? null)
  return { service, type }
}
