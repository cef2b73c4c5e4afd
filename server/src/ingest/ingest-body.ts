import type { FastifyRequest } from 'fastify'
import { isKilnError, KilnError } from '../errors.js'

/** Content types a raw pprof body may come with; none at all is accepted too. */
export const RAW_CONTENT_TYPES = new Set([
  'application/octet-stream',
  'application/x-protobuf',
  'application/protobuf',
  'application/vnd.google.protobuf',
  'application/gzip',
  'application/x-gzip',
  'binary/octet-stream',
])

export interface IngestBody {
  profile: Buffer
  /** Pyroscope's per-sample-type settings (units, aggregation); validated JSON, kept as given. */
  sampleTypeConfig?: unknown
}

/**
 * The profile bytes of an ingest request: the raw body, or the `profile` field of a multipart
 * form as Pyroscope's Go and Java clients send it (`prev_profile` is ignored: it is a
 * baseline for delta computation that Kiln does not need).
 */
export async function readIngestBody(request: FastifyRequest): Promise<IngestBody> {
  if (request.isMultipart()) {
    try {
      return await readMultipart(request)
    } catch (error) {
      // Size limits keep their own codes (413); anything else busboy could not read is a body
      // the client malformed (no boundary, garbage, cut short), not a server error.
      if (isKilnError(error) || String((error as { code?: unknown }).code).startsWith('FST_')) {
        throw error
      }
      const detail = error instanceof Error ? error.message : String(error)
      throw new KilnError(
        'KILN_ERR_BAD_REQUEST',
        `malformed multipart body: ${detail.slice(0, 200)}`,
      )
    }
  }
  const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase()
  if (type !== '' && !RAW_CONTENT_TYPES.has(type)) {
    throw new KilnError(
      'KILN_ERR_FORMAT_UNSUPPORTED',
      `content-type ${type.slice(0, 64)}; send application/octet-stream or multipart/form-data`,
    )
  }
  if (!Buffer.isBuffer(request.body) || request.body.length === 0) {
    throw new KilnError('KILN_ERR_PPROF_INVALID', 'empty body')
  }
  return { profile: request.body }
}

/** The `profile` (and `sample_type_config`) fields of a multipart form. */
async function readMultipart(request: FastifyRequest): Promise<IngestBody> {
  let profile: Buffer | undefined
  let sampleTypeConfig: unknown
  for await (const part of request.parts()) {
    if (part.type === 'file') {
      const bytes = await part.toBuffer()
      if (part.fieldname === 'profile') profile = bytes
      else if (part.fieldname === 'sample_type_config')
        sampleTypeConfig = parseJson(bytes.toString('utf8'))
    } else if (part.fieldname === 'sample_type_config') {
      sampleTypeConfig = parseJson(String(part.value))
    }
  }
  if (!profile) throw new KilnError('KILN_ERR_BAD_REQUEST', 'multipart form has no `profile` field')
  return { profile, sampleTypeConfig }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    throw new KilnError('KILN_ERR_BAD_REQUEST', '`sample_type_config` is not JSON')
  }
}
