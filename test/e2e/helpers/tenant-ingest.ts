import { TENANT_HEADER, formatAppName } from '@kiln/wire'
import { encodeProfile } from '../../../server/test/helpers/pprof-builder.js'
import type { SyntheticUpload } from './synthetic-ingest.js'

/** Who sends an upload: an ingest token and, on a multi-tenant server, the tenant. */
export interface IngestCredential {
  token: string
  tenant?: string
}

/**
 * POST one upload to `/ingest` as `ingestUpload` does, with `Authorization` and
 * `X-Scope-OrgID`; fail on anything but 200.
 */
export async function ingestUploadAs(
  serverUrl: string,
  upload: SyntheticUpload,
  credential: IngestCredential,
): Promise<void> {
  const from = upload.at / 1000
  const until = (upload.at + (upload.durationMs ?? 10_000)) / 1000
  const name = encodeURIComponent(formatAppName(upload.service, upload.labels))
  const body = encodeProfile({
    sampleTypes: [upload.sampleType],
    samples: upload.samples.map((s) => ({ stack: s.stack, values: [s.value] })),
  })
  const headers: Record<string, string> = {
    'content-type': 'application/octet-stream',
    authorization: `Bearer ${credential.token}`,
  }
  if (credential.tenant !== undefined) headers[TENANT_HEADER] = credential.tenant
  const response = await fetch(
    `${serverUrl}/ingest?name=${name}&from=${from}&until=${until}&format=pprof`,
    { method: 'POST', headers, body: new Uint8Array(body) },
  )
  if (response.status !== 200) {
    throw new Error(`ingest ${upload.service}: ${response.status} ${await response.text()}`)
  }
}

/** `ingestUploadAs` for many uploads, a few at a time. */
export async function ingestAllAs(
  serverUrl: string,
  uploads: readonly SyntheticUpload[],
  credential: IngestCredential,
  concurrency = 8,
): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < uploads.length) {
      const upload = uploads[next++]!
      await ingestUploadAs(serverUrl, upload, credential)
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
}
