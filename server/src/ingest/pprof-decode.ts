import { promisify } from 'node:util'
import { gunzip, type InputType, type ZlibOptions } from 'node:zlib'
import { Profile } from 'pprof-format'
import { KilnError } from '../errors.js'
import { checkWireFormat } from './pprof-wire.js'

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
  let inflated: Awaited<ReturnType<typeof gunzipWithInfo>>
  try {
    inflated = await gunzipWithInfo(body, { maxOutputLength: maxBytes, info: true })
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

/**
 * Decode a pprof, refusing what Go's pprof refuses: a malformed protobuf (`pprof-wire.ts`), and
 * references its parser checks (`postDecode`, `CheckValid` in github.com/google/pprof/profile).
 * Decoder failures are wrapped in our own error.
 */
export function decodePprof(bytes: Uint8Array): Profile {
  if (bytes.length === 0) throw new KilnError('KILN_ERR_PPROF_INVALID', 'empty body')
  checkWireFormat(bytes)
  let profile: Profile
  try {
    profile = Profile.decode(bytes)
  } catch (error) {
    throw new KilnError('KILN_ERR_PPROF_INVALID', (error as Error).message, { cause: error })
  }
  checkReferences(profile)
  return profile
}

type Numeric = number | bigint

/**
 * Every string index within the string table; mapping, function and location ids non-zero and
 * unique; every function a line names and every location a sample names present; as many values
 * in each sample as sample types. Go's pprof refuses a profile that breaks any of these, and
 * pprof-format decodes it regardless.
 */
function checkReferences(profile: Profile): void {
  const strings = profile.stringTable.strings.length
  /** A string index that is not in the table (as a signed int64), or `undefined`. */
  const outside = (index: Numeric): number | undefined => {
    // pprof-format hands back varints of up to 4 bytes as numbers, longer ones as bigints.
    const i = typeof index === 'number' ? index : Number(BigInt.asIntN(64, index))
    return i >= 0 && i < strings ? undefined : i
  }
  const string = (index: Numeric, what: () => string) => {
    const i = outside(index)
    if (i !== undefined) throw malformed(`${what()} is string ${i} of ${strings}`)
  }
  const ids = (kind: string, items: readonly { id: Numeric }[]) => {
    const seen = new Set<string>()
    for (const { id } of items) {
      const key = String(id)
      if (key === '0') throw malformed(`a ${kind} has id 0`)
      if (seen.has(key)) throw malformed(`two ${kind}s have id ${key}`)
      seen.add(key)
    }
    return seen
  }

  for (const t of profile.sampleType) {
    string(t.type, () => 'a sample type')
    string(t.unit, () => 'a sample unit')
  }
  if (profile.periodType) {
    string(profile.periodType.type, () => 'the period type')
    string(profile.periodType.unit, () => 'the period unit')
  }
  string(profile.dropFrames, () => 'drop_frames')
  string(profile.keepFrames, () => 'keep_frames')
  string(profile.defaultSampleType, () => 'default_sample_type')
  for (const c of profile.comment) string(c, () => 'a comment')
  for (const m of profile.mapping) {
    string(m.filename, () => `mapping ${m.id}'s file`)
    string(m.buildId, () => `mapping ${m.id}'s build id`)
  }
  for (const f of profile.function) {
    string(f.name, () => `function ${f.id}'s name`)
    string(f.systemName, () => `function ${f.id}'s system name`)
    string(f.filename, () => `function ${f.id}'s file`)
  }
  ids('mapping', profile.mapping)
  const functions = ids('function', profile.function)
  const locations = ids('location', profile.location)
  for (const loc of profile.location) {
    for (const line of loc.line) {
      if (!functions.has(String(line.functionId))) {
        throw malformed(`location ${loc.id} refers to missing function ${line.functionId}`)
      }
    }
  }

  // The hot loop of a large profile: no allocation unless something is wrong.
  const types = profile.sampleType.length
  for (let index = 0; index < profile.sample.length; index++) {
    const sample = profile.sample[index]!
    if (sample.value.length !== types) {
      throw malformed(`sample ${index} has ${sample.value.length} values for ${types} sample types`)
    }
    for (const id of sample.locationId) {
      if (!locations.has(String(id))) {
        throw malformed(`sample ${index} refers to missing location ${id}`)
      }
    }
    for (const label of sample.label) {
      // As Go's pprof reads a label: a string label when `str` is set, else a numeric one.
      const value = Number(label.str) !== 0 ? label.str : label.numUnit
      if (outside(label.key) !== undefined || outside(value) !== undefined) {
        throw malformed(`a label of sample ${index} refers to a string outside the table`)
      }
    }
  }
}

function malformed(detail: string): KilnError {
  return new KilnError('KILN_ERR_PPROF_INVALID', detail)
}
