/**
 * The ingest protocol is Pyroscope's (`POST /ingest`), so existing Pyroscope clients work.
 * Kiln's agent sends these query parameters; the body is a gzipped pprof.
 */
export interface IngestQuery {
  /** `service{k=v,k2=v2}`: the service name followed by static labels. */
  name: string
  /** Start of the profile's interval, Unix seconds (ms, µs and ns are detected by size). */
  from?: string
  until?: string
  format?: string
  sampleRate?: string
  spyName?: string
}

/**
 * A label name, wherever one enters Kiln: the upload's `service{k=v}`, the pprof's sample
 * labels, the agent's settings and `withLabels`. Prometheus's grammar plus `.` (Pyroscope's).
 */
export const LABEL_NAME_PATTERN = '^[A-Za-z_][A-Za-z0-9_.]*$'

/**
 * The request header that names an upload (Kiln's agent: a random id per profile, the same on
 * each of its retries), so a re-sent upload is stored once. Uploads without it are recognised
 * by their content. Letters, digits, `-` and `_`, 8 to 128 characters.
 */
export const UPLOAD_ID_HEADER = 'x-kiln-upload-id'
export const UPLOAD_ID_PATTERN = '^[A-Za-z0-9_-]{8,128}$'

/**
 * With {@link UPLOAD_ID_HEADER}: which attempt at the upload this is, from 1. A first attempt
 * cannot be stored already, so the server skips looking it up in the store; any other value,
 * or none, is looked up. (A proxy that replays a POST to another server would defeat this: none
 * does unless configured to.)
 */
export const UPLOAD_ATTEMPT_HEADER = 'x-kiln-upload-attempt'

/** Labels carrying the service version; `service_version` is canonical. */
export const VERSION_LABELS = ['service_version', 'version'] as const

export interface IngestResponse {
  /** Profiles (one per sample type) stored by this request. */
  profiles: number
  samples: number
}

/** Build the `name` parameter: `service{k=v,...}` with keys sorted. */
export function formatAppName(service: string, labels: Record<string, string>): string {
  const pairs = Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
  return pairs.length === 0 ? service : `${service}{${pairs.join(',')}}`
}
