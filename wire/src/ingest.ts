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
 * The one grammar of a label name, wherever one enters or leaves Kiln: the upload's
 * `service{k=v}`, the pprof's sample labels, the agent's settings and `withLabels`, query
 * selectors and `groupBy`, alert labels carried into links, and the UI's label filter.
 * Letters, digits, `_` and `.`, not starting with a digit or a `.`: Prometheus's grammar plus
 * `.`, as Pyroscope and OpenTelemetry clients send them (`http.route`, `service.version`).
 * Defined here once, by its two character classes; keep no other copy.
 */
const LABEL_NAME_START_CLASS = '[A-Za-z_]'
const LABEL_NAME_CHAR_CLASS = '[A-Za-z0-9_.]'

/** {@link isLabelName} as a JSON Schema / RegExp source: `^[A-Za-z_][A-Za-z0-9_.]*$`. */
export const LABEL_NAME_PATTERN: string = `^${LABEL_NAME_START_CLASS}${LABEL_NAME_CHAR_CLASS}*$`

const LABEL_NAME_RE = new RegExp(LABEL_NAME_PATTERN)
const LABEL_NAME_START_RE = new RegExp(`^${LABEL_NAME_START_CLASS}$`)
const LABEL_NAME_CHAR_RE = new RegExp(`^${LABEL_NAME_CHAR_CLASS}$`)

/** Whether `name` is a label name: letters, digits, `_`, `.`, not starting with a digit or `.`. */
export function isLabelName(name: string): boolean {
  return LABEL_NAME_RE.test(name)
}

/** Whether the character `c` may start a label name (for parsers reading one character at a time). */
export function isLabelNameStartChar(c: string): boolean {
  return LABEL_NAME_START_RE.test(c)
}

/** Whether the character `c` may follow the first in a label name. */
export function isLabelNameChar(c: string): boolean {
  return LABEL_NAME_CHAR_RE.test(c)
}

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
