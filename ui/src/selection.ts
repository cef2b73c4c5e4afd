import type { ServiceSummary } from '@kiln/wire'

export const DEFAULT_PROFILE_TYPE = 'cpu'

export interface Selection {
  service: ServiceSummary
  /** `null` when the service reports no profile types. */
  type: string | null
}

/** The service that sent a profile last (the first of equals): what an engineer opens first. */
export function mostRecentService(services: readonly ServiceSummary[]): ServiceSummary | undefined {
  let best: ServiceSummary | undefined
  for (const s of services) if (best === undefined || s.lastSeen > best.lastSeen) best = s
  return best
}

/**
 * The service and type to show: the wanted ones when the server knows them, else the most
 * recently active service and its `cpu` type (or its first type). `null` when there are no
 * services, or when a service is wanted that the server does not know: the page says so
 * instead of showing another one.
 */
export function resolveSelection(
  services: readonly ServiceSummary[],
  wanted: { service: string | null; type: string | null },
): Selection | null {
  const service =
    wanted.service === null
      ? mostRecentService(services)
      : services.find((candidate) => candidate.name === wanted.service)
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
