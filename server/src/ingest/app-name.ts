import { LABEL_NAME_PATTERN } from '@kiln/wire'
import { KilnError } from '../errors.js'

export interface AppName {
  service: string
  labels: Record<string, string>
}

/** What a service name may be, in `name` or in Pyroscope's `service_name` label. */
export const SERVICE_RE = /^[A-Za-z0-9][A-Za-z0-9._\-/:]*$/
export const MAX_SERVICE_LENGTH = 256
export const LABEL_NAME_RE = new RegExp(LABEL_NAME_PATTERN)

/**
 * Parse Pyroscope's `name` parameter: `service{k=v,k2=v2}` (labels optional). Pyroscope clients
 * also append the profile type to the service (`app.cpu`); that suffix is kept as part of the
 * name, since Kiln reads the type from the pprof sample types.
 */
export function parseAppName(raw: string, maxServiceLength = MAX_SERVICE_LENGTH): AppName {
  const brace = raw.indexOf('{')
  const service = (brace === -1 ? raw : raw.slice(0, brace)).trim()
  if (service.length === 0) throw new KilnError('KILN_ERR_APP_NAME_INVALID', 'service is empty')
  if (service.length > maxServiceLength || !SERVICE_RE.test(service)) {
    throw new KilnError(
      'KILN_ERR_APP_NAME_INVALID',
      `service must match ${SERVICE_RE.source} and be at most ${maxServiceLength} characters`,
    )
  }
  // No prototype: a label named `__proto__` is a label like any other, not the object's prototype.
  const labels: Record<string, string> = Object.create(null) as Record<string, string>
  if (brace !== -1) {
    if (!raw.endsWith('}')) throw new KilnError('KILN_ERR_APP_NAME_INVALID', 'missing closing }')
    const body = raw.slice(brace + 1, -1).trim()
    for (const pair of body === '' ? [] : body.split(',')) {
      const eq = pair.indexOf('=')
      if (eq === -1) throw new KilnError('KILN_ERR_APP_NAME_INVALID', `label without =: ${pair}`)
      const key = pair.slice(0, eq).trim()
      const value = pair.slice(eq + 1).trim()
      if (!LABEL_NAME_RE.test(key)) {
        throw new KilnError('KILN_ERR_APP_NAME_INVALID', `bad label name: ${key.slice(0, 64)}`)
      }
      labels[key] = value
    }
  }
  return { service, labels }
}
