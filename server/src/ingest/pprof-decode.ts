import { promisify } from 'node:util'
import { gunzip } from 'node:zlib'
import { Profile } from 'pprof-format'
import { KilnError } from '../errors.js'

const gunzipAsync = promisify(gunzip)

export function isGzip(body: Uint8Array): boolean {
  return body.length >= 2 && body[0] === 0x1f && body[1] === 0x8b
}

/**
 * Gunzip when the body is gzip, refusing to produce more than `maxBytes` (a 1 KB gzip bomb can
 * expand to gigabytes; zlib stops at `maxOutputLength` instead).
 */
export async function decompress(body: Buffer, maxBytes: number): Promise<Buffer> {
  if (!isGzip(body)) {
    if (body.length > maxBytes)
      throw new KilnError('KILN_ERR_DECOMPRESSED_TOO_LARGE', String(maxBytes))
    return body
  }
  try {
    return await gunzipAsync(body, { maxOutputLength: maxBytes })
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new KilnError('KILN_ERR_DECOMPRESSED_TOO_LARGE', String(maxBytes), { cause: error })
    }
    throw new KilnError('KILN_ERR_GZIP_INVALID', (error as Error).message, { cause: error })
  }
}

/** Decode a pprof protobuf, wrapping decoder failures in our own error. */
export function decodePprof(bytes: Uint8Array): Profile {
  if (bytes.length === 0) throw new KilnError('KILN_ERR_PPROF_INVALID', 'empty body')
  try {
    return Profile.decode(bytes)
  } catch (error) {
    throw new KilnError('KILN_ERR_PPROF_INVALID', (error as Error).message, { cause: error })
  }
}
