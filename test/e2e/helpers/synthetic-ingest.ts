import { TENANT_HEADER, formatAppName } from '@kiln/wire'
import { encodeProfile } from '../../../server/test/helpers/pprof-builder.js'

/** One upload of a synthetic profile: every stack and value known to the test. */
export interface SyntheticUpload {
  service: string
  /** Upload labels (`service{k=v}`), e.g. `service_version`. */
  labels: Record<string, string>
  /** Start of the profile, Unix ms. */
  at: number
  durationMs?: number
  /** pprof sample type, e.g. `['cpu', 'nanoseconds']` or `['inuse_space', 'bytes']`. */
  sampleType: [type: string, unit: string]
  /** Root first, `name` or `name@file`. */
  samples: { stack: string[]; value: number }[]
}

/** Who sends an upload: an ingest token and, on a multi-tenant server, the tenant. */
export interface IngestCredential {
  token: string
  tenant?: string
}

/**
 * POST one upload to `/ingest` the way Pyroscope clients do (with `Authorization` and
 * `X-Scope-OrgID` when a credential is given), and fail on anything but 200.
 */
export async function ingestUpload(
  serverUrl: string,
  upload: SyntheticUpload,
  credential?: IngestCredential,
): Promise<void> {
  const from = upload.at / 1000
  const until = (upload.at + (upload.durationMs ?? 10_000)) / 1000
  const name = encodeURIComponent(formatAppName(upload.service, upload.labels))
  const body = encodeProfile({
    sampleTypes: [upload.sampleType],
    samples: upload.samples.map((s) => ({ stack: s.stack, values: [s.value] })),
  })
  const headers: Record<string, string> = { 'content-type': 'application/octet-stream' }
  if (credential !== undefined) headers.authorization = `Bearer ${credential.token}`
  if (credential?.tenant !== undefined) headers[TENANT_HEADER] = credential.tenant
  const response = await fetch(
    `${serverUrl}/ingest?name=${name}&from=${from}&until=${until}&format=pprof`,
    { method: 'POST', headers, body: new Uint8Array(body) },
  )
  if (response.status !== 200) {
    throw new Error(`ingest ${upload.service}: ${response.status} ${await response.text()}`)
  }
}

/** Ingest uploads a few at a time (the server batches concurrent inserts). */
export async function ingestAll(
  serverUrl: string,
  uploads: readonly SyntheticUpload[],
  { concurrency = 8, credential }: { concurrency?: number; credential?: IngestCredential } = {},
): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < uploads.length) {
      const upload = uploads[next++]!
      await ingestUpload(serverUrl, upload, credential)
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
}

/** Self value of each function name over the uploads (the leaf of each stack). */
export function selfByFunction(uploads: readonly SyntheticUpload[]): Map<string, number> {
  const out = new Map<string, number>()
  for (const u of uploads) {
    for (const s of u.samples) {
      const leaf = s.stack.at(-1)!.split('@')[0]!
      out.set(leaf, (out.get(leaf) ?? 0) + s.value)
    }
  }
  return out
}
