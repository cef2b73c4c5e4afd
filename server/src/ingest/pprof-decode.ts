import { promisify } from 'node:util'
import { gunzip, gunzipSync, type InputType, type ZlibOptions } from 'node:zlib'
import { KilnError } from '../errors.js'
import { readPprof, type DecodedPprof, type ReadOptions } from './pprof-reader.js'

/** `gunzip` with `info: true`: the output and the engine, whose `bytesWritten` is the input read. */
const gunzipWithInfo = promisify(gunzip) as unknown as (
  body: InputType,
  options: ZlibOptions & { info: true },
) => Promise<{ buffer: Buffer; engine: { bytesWritten: number } }>

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
  let inflated: { buffer: Buffer; engine: { bytesWritten: number } }
  try {
    // A small body inflates faster here than on libuv's pool, in the CPU the handoff costs
    // (bench/README.md, "Ingest speed"): a 16 KB profile takes ~0.15 ms. A large one could hold
    // the event loop for tens of ms, and goes to the pool.
    inflated =
      (body.length <= INFLATE_HERE_BYTES && inflateHere(body, maxBytes)) ||
      (await gunzipWithInfo(body, { maxOutputLength: maxBytes, info: true }))
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new KilnError('KILN_ERR_DECOMPRESSED_TOO_LARGE', String(maxBytes), { cause: error })
    }
    throw new KilnError('KILN_ERR_GZIP_INVALID', (error as Error).message, { cause: error })
  }
  // zlib skips zero bytes after the last member (gzip(1) pads so); Go's gzip reads them as a
  // next member's header and fails, and so does `go tool pprof`.
  const unread = body.length - inflated.engine.bytesWritten
  if (unread > 0) {
    throw new KilnError('KILN_ERR_GZIP_INVALID', `${unread} bytes after the last gzip member`)
  }
  return inflated.buffer
}

/** Gzipped bodies up to this size are inflated on the event loop, if they inflate to... */
const INFLATE_HERE_BYTES = 64 * 1024
/** ...at most this much: a small body can inflate a thousandfold, and then goes to the pool. */
const INFLATED_HERE_BYTES = 1024 * 1024

/** `body` inflated on this thread, or `undefined` when it inflates beyond what is done here. */
function inflateHere(body: Buffer, maxBytes: number): Inflated | undefined {
  const limit = Math.min(maxBytes, INFLATED_HERE_BYTES)
  try {
    return gunzipSync(body, { maxOutputLength: limit, info: true }) as unknown as Inflated
  } catch (error) {
    const tooLarge = (error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE'
    if (tooLarge && limit < maxBytes) return undefined
    throw error
  }
}

type Inflated = { buffer: Buffer; engine: { bytesWritten: number } }

/**
 * Decode a pprof, refusing what Go's pprof refuses (`pprof-reader.ts`). An empty body is not a
 * profile.
 */
export function decodePprof(bytes: Uint8Array, options: ReadOptions = {}): DecodedPprof {
  return readPprof(bytes, options)
}
