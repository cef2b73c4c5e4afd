import { randomUUID } from 'node:crypto'
import { SPAN_ID_LABEL, TRACE_ID_LABEL, VERSION_LABELS } from '@kiln/wire'
import { KilnError } from '../errors.js'
import { LABEL_NAME_RE } from './app-name.js'
import {
  emptyBatch,
  type RowBatch,
  type SampleRow,
  type StackRow,
  type TraceSampleRow,
} from '../store/rows.js'
import { profileIdOf, uploadHashOf } from '../store/stored-profiles.js'
import { hash64 } from './hash.js'
import type { DecodedPprof, PprofId } from './pprof-reader.js'
import { decimal64, hashBytes, HashFold, hashFrame, hashString, lastHash } from './stack-hash.js'
import {
  OUTSIDE_JS_FRAME,
  RUNTIME_FRAME,
  countTypeOf,
  estimateNodeCpu,
  isNodeTimeProfile,
  type CpuEstimate,
} from './node-cpu.js'
import { mapSampleType, type SampleTypeMapping } from './sample-types.js'

export interface NormalizeLimits {
  maxSamplesPerProfile: number
  maxStackDepth: number
  maxLabels: number
  maxLabelNameLength: number
  maxLabelValueLength: number
  /** Rows one profile may add to `trace_samples`; samples past it keep no trace. */
  maxTraceRowsPerProfile?: number
}

export interface NormalizeInput {
  /**
   * What names this upload, the same on every re-send: its profiles' ids derive from it.
   * Without one, each call is a new upload (benchmarks, tests).
   */
  uploadKey?: string
  tenant: string
  service: string
  labels: Record<string, string>
  /** Unix ms; when absent, the pprof's own time (or now) is used. */
  fromMs?: number | undefined
  untilMs?: number | undefined
  spyName?: string | undefined
  limits: NormalizeLimits
  /** Unix ms, for `received_at` and for profiles without any time. */
  now?: number
  /** Whether the store has the stack of this (decimal) hash: it then gets no row. */
  knownStack?: (hash: string) => boolean
}

export interface NormalizeResult {
  batch: RowBatch
  /** Kiln types found in the profile, e.g. `['wall', 'cpu']`. */
  types: string[]
  samples: number
  /** Unix ms: the end of the profile's interval, as its `profiles` rows have it. */
  untilMs: number
  /** Samples whose trace was not kept (`maxTraceRowsPerProfile`). */
  traceRowsDropped: number
  /**
   * Trace or span id labels that were not 1 to 32 hex digits: dropped (the sample is kept,
   * without that id), as one bad label must not lose a whole profile.
   */
  traceIdsInvalid: number
}

export const TRUNCATED_FRAME = '[truncated]'

/**
 * Turn a decoded pprof into storage rows: one series per label set, one stack per distinct
 * frame list (root first, hashed), one sample row per (type, series, stack) with summed values,
 * and one profile row per type. Stacks `input.knownStack` says are stored get no stack row (their
 * frames are neither decoded nor copied): only their hash is computed, from the string table's
 * bytes.
 */
export function normalizeProfile(profile: DecodedPprof, input: NormalizeInput): NormalizeResult {
  const { limits, tenant, service } = input
  const uploadKey = input.uploadKey ?? randomUUID()
  const now = input.now ?? Date.now()
  const { strings, samples } = profile
  const str = (index: number): string => strings.get(index)

  if (samples.count > limits.maxSamplesPerProfile) {
    throw new KilnError(
      'KILN_ERR_PROFILE_LIMIT',
      `${samples.count} samples, limit ${limits.maxSamplesPerProfile} (KILN_MAX_SAMPLES_PER_PROFILE)`,
    )
  }

  const sampleTypes = profile.sampleTypes.map((t) => `${str(t.type)}/${str(t.unit)}`)
  // The first sample type of each Kiln type counts: two that map to one (`space/bytes` and
  // `inuse_space/bytes`) measure the same quantity, and adding them would count it twice.
  const mapped = new Set<string>()
  const mappings: (SampleTypeMapping | undefined)[] = profile.sampleTypes.map((t) => {
    const mapping = mapSampleType(str(t.type), str(t.unit))
    if (!mapping || mapped.has(mapping.type)) return undefined
    mapped.add(mapping.type)
    return mapping
  })
  const types = [...new Set(mappings.flatMap((m) => (m ? [m.type] : [])))]
  if (types.length === 0) {
    throw new KilnError(
      'KILN_ERR_PPROF_INVALID',
      `no supported sample type in [${sampleTypes.join(', ')}]`,
    )
  }
  const values = checkedValues(profile, mappings)

  checkLabels(input.labels, limits)
  let traceIdsInvalid = 0
  /** A trace or span id label's value lowercased, or '' (counted) when it is not a hex id. */
  const idOf = (value: string): string => {
    if (HEX_ID.test(value)) return value.toLowerCase()
    traceIdsInvalid++
    return ''
  }
  // Trace and span ids in the upload's own labels (`name=app{trace_id=...}`) are defaults for
  // every sample, never series labels: each id would be a series.
  const uploadLabels = withoutTraceLabels(input.labels)
  const uploadTraceId = TRACE_ID_LABEL in input.labels ? idOf(input.labels[TRACE_ID_LABEL]!) : ''
  const uploadSpanId = SPAN_ID_LABEL in input.labels ? idOf(input.labels[SPAN_ID_LABEL]!) : ''
  const version = VERSION_LABELS.map((k) => uploadLabels[k]).find((v) => v) ?? ''
  const { timeNanos, durationNanos } = profile
  if (timeNanos < 0 || durationNanos < 0) {
    throw malformed(
      `time_nanos ${timeNanos} and duration_nanos ${durationNanos} cannot be negative`,
    )
  }
  const fromMs = input.fromMs ?? (timeNanos > 0 ? Math.floor(timeNanos / 1e6) : now)
  const durationMs = Math.floor(durationNanos / 1e6)
  const untilMs = input.untilMs ?? (durationMs > 0 ? fromMs + durationMs : fromMs)
  const lastSeen = Math.floor(now / 1000)

  const batch = emptyBatch()
  const upload = uploadHashOf(uploadKey)
  const seriesIds = new Map<string, string>()
  /** The id of the series of (type, labels), adding its row the first time. */
  const seriesOf = (type: string, labels: Record<string, string>): string => {
    const sorted = Object.keys(labels).sort()
    const key = `${type}\u0001${sorted.map((k) => `${k}\u0000${labels[k]}`).join('\u0001')}`
    let id = seriesIds.get(key)
    if (id === undefined) {
      id = hash64(`${tenant}\u0002${service}\u0002${key}`)
      seriesIds.set(key, id)
      const sortedLabels = Object.fromEntries(sorted.map((k) => [k, labels[k]!]))
      batch.series.push({
        tenant,
        service,
        type,
        series_id: id,
        labels: sortedLabels,
        instance_id: labels === uploadLabels ? id : seriesOf(type, uploadLabels),
        last_seen: lastSeen,
      })
    }
    return id
  }

  const frames = new FrameTable(profile)
  const stackRows = new Set<string>()
  const totals = new Map<string, number>()

  /** The decimal hash of a sample's stack, adding its row when it is new to the store. */
  const stackOf = (sample: number): string => {
    const hash = frames.stackHash(sample, limits.maxStackDepth)
    if (!stackRows.has(hash) && !input.knownStack?.(hash)) {
      stackRows.add(hash)
      batch.stacks.push({
        tenant,
        service,
        stack_hash: hash,
        ...frames.stackFrames(sample, limits.maxStackDepth),
        last_seen: lastSeen,
      })
    }
    return hash
  }
  /**
   * Add `value` (already in the Kiln type's unit) to the row of (type, series, stack). Rows are
   * kept per type, by stack alone for the upload's own series (most samples: no key to build).
   */
  const rowsByType = new Map<string, Map<string, SampleRow>>()
  const addValue = (type: string, seriesId: string, stackHash: string, value: number): void => {
    let rows = rowsByType.get(type)
    if (rows === undefined) {
      rows = new Map()
      rowsByType.set(type, rows)
    }
    const key = seriesId === uploadSeries.get(type) ? stackHash : `${seriesId}\u0000${stackHash}`
    const row = rows.get(key)
    if (row) row.value += value
    else {
      rows.set(key, {
        tenant,
        service,
        type,
        time: fromMs,
        series_id: seriesId,
        stack_hash: stackHash,
        value,
        upload,
      })
    }
    totals.set(type, (totals.get(type) ?? 0) + value)
  }

  /**
   * Trace and span ids are not series labels (each id would be a series): which label keys (by
   * string index) name them, found once per key.
   */
  const traceKeys = new Map<number, number>()
  const traceKey = (key: number): number => {
    let kind = traceKeys.get(key)
    if (kind === undefined) {
      const name = str(key)
      kind = name === TRACE_ID_LABEL ? TRACE_ID : name === SPAN_ID_LABEL ? SPAN_ID : 0
      traceKeys.set(key, kind)
    }
    return kind
  }
  /** Rows of `trace_samples`, by (type, series, stack, trace, span), up to the limit. */
  const traceRows = new Map<string, TraceSampleRow>()
  const maxTraceRows = limits.maxTraceRowsPerProfile ?? Number.POSITIVE_INFINITY
  let traceRowsDropped = 0
  const addTraceValue = (
    type: string,
    seriesId: string,
    stackHash: string,
    traceId: string,
    spanId: string,
    value: number,
  ): void => {
    const key = `${type}\u0000${seriesId}\u0000${stackHash}\u0000${traceId}\u0000${spanId}`
    const row = traceRows.get(key)
    if (row) row.value += value
    else if (traceRows.size >= maxTraceRows) traceRowsDropped++
    else {
      traceRows.set(key, {
        tenant,
        service,
        type,
        time: fromMs,
        trace_id: traceId,
        span_id: spanId,
        series_id: seriesId,
        stack_hash: stackHash,
        value,
        upload,
      })
    }
  }

  const cpu = nodeCpuEstimate(profile, sampleTypes, values, (s) => frames.leafName(s))
  const typeCount = mappings.length
  /** The series of the upload's own labels, per Kiln type. */
  const uploadSeries = new Map<string, string>(types.map((t) => [t, seriesOf(t, uploadLabels)]))
  /** Series of a sample's own labels, by the label pairs' string indices and Kiln type. */
  const labelledSeries = new Map<string, string>()
  const scaled = new Float64Array(typeCount)

  for (let s = 0; s < samples.count; s++) {
    // A sample's own labels are added to the upload's, and win over an upload label of the same
    // name. A key twice in one sample (which pprof discourages and no profiler sends) is refused:
    // no one value of it would be right.
    let labels: Record<string, string> | undefined
    let signature = ''
    let traceId = uploadTraceId
    let spanId = uploadSpanId
    for (let l = samples.labelStart[s]!; l < samples.labelStart[s + 1]!; l++) {
      if (samples.labelStr[l] === 0) continue // numeric labels (e.g. thread ids) are not series keys
      const trace = traceKey(samples.labelKey[l]!)
      if (trace === TRACE_ID) traceId = idOf(str(samples.labelStr[l]!))
      else if (trace === SPAN_ID) spanId = idOf(str(samples.labelStr[l]!))
      else signature += `${samples.labelKey[l]}:${samples.labelStr[l]},`
    }
    if (signature !== '') {
      // No prototype, as in parseAppName: `__proto__` stays a label.
      labels = Object.assign(Object.create(null) as Record<string, string>, uploadLabels)
      const own = new Set<string>()
      for (let l = samples.labelStart[s]!; l < samples.labelStart[s + 1]!; l++) {
        if (samples.labelStr[l] === 0 || traceKey(samples.labelKey[l]!) !== 0) continue
        const key = str(samples.labelKey[l]!)
        if (own.has(key))
          throw malformed(`a sample has the label ${JSON.stringify(key.slice(0, 64))} twice`)
        own.add(key)
        labels[key] = str(samples.labelStr[l]!)
      }
      checkLabels(labels, limits)
    }
    // Each mapped type's value of the sample, in the Kiln type's unit; zero-valued samples
    // add no row and no stack.
    let any = false
    for (let i = 0; i < typeCount; i++) {
      const mapping = mappings[i]
      if (!mapping) continue
      const value =
        cpu && i === cpu.index
          ? cpu.estimate.cpuNanos[s]!
          : Math.round(values[s * typeCount + i]! * mapping.scale)
      scaled[i] = value
      if (value !== 0) any = true
    }
    if (!any) continue
    const stackHash = stackOf(s)
    for (let i = 0; i < typeCount; i++) {
      const mapping = mappings[i]
      if (!mapping || scaled[i] === 0) continue
      const type = mapping.type
      let seriesId: string
      if (labels === undefined) seriesId = uploadSeries.get(type)!
      else {
        const key = `${type}\u0000${signature}`
        seriesId = labelledSeries.get(key) ?? seriesOf(type, labels)
        labelledSeries.set(key, seriesId)
      }
      addValue(type, seriesId, stackHash, scaled[i]!)
      if (traceId !== '' || spanId !== '') {
        addTraceValue(type, seriesId, stackHash, traceId, spanId, scaled[i]!)
      }
    }
  }
  if (cpu && cpu.estimate.outsideJsNanos > 0) {
    const frames = [RUNTIME_FRAME, OUTSIDE_JS_FRAME]
    const hash = hashOfNamedFrames(frames)
    if (!stackRows.has(hash) && !input.knownStack?.(hash)) {
      batch.stacks.push({
        tenant,
        service,
        stack_hash: hash,
        functions: frames,
        files: ['', ''],
        lines: [0, 0],
        last_seen: lastSeen,
      })
    }
    addValue('cpu', uploadSeries.get('cpu')!, hash, cpu.estimate.outsideJsNanos)
  }

  for (const rows of rowsByType.values()) for (const row of rows.values()) batch.samples.push(row)
  for (const row of traceRows.values()) batch.traceSamples.push(row)
  for (const type of types) {
    batch.profiles.push({
      tenant,
      service,
      type,
      profile_id: profileIdOf(uploadKey, type),
      series_id: uploadSeries.get(type)!,
      time_start: fromMs,
      time_end: untilMs,
      version,
      labels: uploadLabels,
      total: totals.get(type) ?? 0,
      sample_count: rowsByType.get(type)?.size ?? 0,
      spy_name: input.spyName ?? '',
      received_at: now,
    })
  }
  // Series of the upload's labels for types without samples stay: the profiles rows name them.
  return { batch, types, samples: samples.count, untilMs, traceRowsDropped, traceIdsInvalid }
}

/**
 * Frames of a profile's locations, hashed once per function and line, and the hash and frames
 * of each sample's stack from them.
 */
class FrameTable {
  readonly #profile: DecodedPprof
  /** Hash of each line's frame (halves), and of each address-only location's. */
  readonly #lineHi: Int32Array
  readonly #lineLo: Int32Array
  readonly #addressHi: Int32Array
  readonly #addressLo: Int32Array
  readonly #fold = new HashFold()
  /** The last walked stack's frames (see {@link #walk}), and whether it was cut. */
  #refs = new Int32Array(64)
  #truncated = false

  constructor(profile: DecodedPprof) {
    this.#profile = profile
    const { strings, functions, locations } = profile
    // Each string's hash, computed when a function first names it.
    const stringHi = new Int32Array(strings.count)
    const stringLo = new Int32Array(strings.count)
    const hashed = new Uint8Array(strings.count)
    const bytes = strings.buffer
    const hashOf = (index: number): void => {
      if (hashed[index]) return
      hashBytes(bytes, strings.byteStart(index), strings.byteEnd(index))
      stringHi[index] = lastHash.hi
      stringLo[index] = lastHash.lo
      hashed[index] = 1
    }
    hashString(ANONYMOUS)
    const anonymous = { hi: lastHash.hi, lo: lastHash.lo }
    const lines = locations.lineFunction.length
    this.#lineHi = new Int32Array(lines)
    this.#lineLo = new Int32Array(lines)
    for (let loc = 0; loc < locations.count; loc++) {
      for (let l = locations.lineStart[loc]!; l < locations.lineStart[loc + 1]!; l++) {
        const line = locations.lineNumber[l]!
        if (line < 0) throw malformed(`location ${locations.id[loc]} has line ${line}`)
        const fn = locations.lineFunction[l]!
        const name = functions.name[fn]!
        const file = functions.file[fn]!
        hashOf(file)
        let nameHi = anonymous.hi
        let nameLo = anonymous.lo
        if (strings.byteEnd(name) > strings.byteStart(name)) {
          hashOf(name)
          nameHi = stringHi[name]!
          nameLo = stringLo[name]!
        }
        hashFrame(nameHi, nameLo, stringHi[file]!, stringLo[file]!, line)
        this.#lineHi[l] = lastHash.hi
        this.#lineLo[l] = lastHash.lo
      }
    }
    this.#addressHi = new Int32Array(locations.count)
    this.#addressLo = new Int32Array(locations.count)
    for (let loc = 0; loc < locations.count; loc++) {
      if (locations.lineStart[loc + 1]! > locations.lineStart[loc]!) continue
      frameHash(addressName(locations.address[loc]!), '', 0)
      this.#addressHi[loc] = lastHash.hi
      this.#addressLo[loc] = lastHash.lo
    }
  }

  /**
   * The sample's frames root first into {@link #refs}, each a line's index, or `-(location + 1)`
   * for a location without lines (its address); with more than `maxDepth` frames only the
   * leaf-most `maxDepth - 1` are kept, and {@link #truncated} says so. Returns how many.
   */
  #walk(sample: number, maxDepth: number): number {
    const { samples, locations } = this.#profile
    const from = samples.locationStart[sample]!
    const to = samples.locationStart[sample + 1]!
    let depth = 0
    for (let i = from; i < to; i++) {
      const loc = samples.location[i]!
      depth += Math.max(1, locations.lineStart[loc + 1]! - locations.lineStart[loc]!)
    }
    this.#truncated = depth > maxDepth
    let skip = this.#truncated ? depth - maxDepth + 1 : 0
    if (this.#refs.length < depth - skip) this.#refs = new Int32Array(2 * (depth - skip))
    const refs = this.#refs
    let n = 0
    for (let i = to - 1; i >= from; i--) {
      const loc = samples.location[i]!
      const first = locations.lineStart[loc]!
      const last = locations.lineStart[loc + 1]! - 1
      if (last < first) {
        if (skip > 0) skip--
        else refs[n++] = -(loc + 1)
        continue
      }
      for (let l = last; l >= first; l--) {
        if (skip > 0) skip--
        else refs[n++] = l
      }
    }
    return n
  }

  /**
   * The decimal hash of the sample's stack: its frames root first, the deepest cut to
   * `maxDepth` under a {@link TRUNCATED_FRAME}.
   */
  stackHash(sample: number, maxDepth: number): string {
    const n = this.#walk(sample, maxDepth)
    const fold = this.#fold
    fold.reset()
    if (this.#truncated) {
      frameHash(TRUNCATED_FRAME, '', 0)
      fold.add(lastHash.hi, lastHash.lo)
    }
    const refs = this.#refs
    for (let i = 0; i < n; i++) {
      const ref = refs[i]!
      if (ref >= 0) fold.add(this.#lineHi[ref]!, this.#lineLo[ref]!)
      else fold.add(this.#addressHi[-ref - 1]!, this.#addressLo[-ref - 1]!)
    }
    fold.finish()
    return decimal64(lastHash.hi, lastHash.lo)
  }

  /** The sample's frames root first, cut as {@link stackHash} cuts them. */
  stackFrames(sample: number, maxDepth: number): Pick<StackRow, 'functions' | 'files' | 'lines'> {
    const { locations, functions, strings } = this.#profile
    const n = this.#walk(sample, maxDepth)
    const out = { functions: [] as string[], files: [] as string[], lines: [] as number[] }
    if (this.#truncated) {
      out.functions.push(TRUNCATED_FRAME)
      out.files.push('')
      out.lines.push(0)
    }
    for (let i = 0; i < n; i++) {
      const ref = this.#refs[i]!
      if (ref < 0) {
        out.functions.push(addressName(locations.address[-ref - 1]!))
        out.files.push('')
        out.lines.push(0)
        continue
      }
      const fn = locations.lineFunction[ref]!
      out.functions.push(strings.get(functions.name[fn]!) || ANONYMOUS)
      out.files.push(strings.get(functions.file[fn]!))
      out.lines.push(locations.lineNumber[ref]!)
    }
    return out
  }

  /** The name of the sample's leaf frame (the first line of its first location). */
  leafName(sample: number): string {
    const { samples, locations, functions, strings } = this.#profile
    if (samples.locationStart[sample + 1] === samples.locationStart[sample]) return ''
    const loc = samples.location[samples.locationStart[sample]!]!
    const first = locations.lineStart[loc]!
    if (locations.lineStart[loc + 1] === first) return addressName(locations.address[loc]!)
    return strings.get(functions.name[locations.lineFunction[first]!]!) || ANONYMOUS
  }
}

const ANONYMOUS = '<anonymous>'

function addressName(address: PprofId): string {
  return `0x${BigInt(address).toString(16)}`
}

/** The hash of a frame given by its strings, into `lastHash`. */
function frameHash(name: string, file: string, line: number): void {
  hashString(name)
  const { hi, lo } = lastHash
  hashString(file)
  hashFrame(hi, lo, lastHash.hi, lastHash.lo, line)
}

/** The decimal hash of a stack of named frames without file or line, root first. */
function hashOfNamedFrames(names: readonly string[]): string {
  const fold = new HashFold()
  for (const name of names) {
    frameHash(name, '', 0)
    fold.add(lastHash.hi, lastHash.lo)
  }
  fold.finish()
  return decimal64(lastHash.hi, lastHash.lo)
}

/**
 * The CPU estimate of a Node time profile (`node-cpu.ts`), with the index of its CPU values;
 * `undefined` for other profiles, whose CPU values are taken as they are.
 */
function nodeCpuEstimate(
  profile: DecodedPprof,
  sampleTypes: readonly string[],
  values: Float64Array,
  leafOf: (sample: number) => string,
): { index: number; estimate: CpuEstimate } | undefined {
  if (!isNodeTimeProfile(sampleTypes)) return undefined
  const at = (type: string) => sampleTypes.indexOf(type)
  const count = at(countTypeOf(sampleTypes)!)
  const [wall, index] = [at('wall/nanoseconds'), at('cpu/nanoseconds')]
  const types = sampleTypes.length
  const input = []
  for (let s = 0; s < profile.samples.count; s++) {
    input.push({
      leaf: leafOf(s),
      count: values[s * types + count]!,
      wallNanos: values[s * types + wall]!,
      cpuNanos: values[s * types + index]!,
    })
  }
  return { index, estimate: estimateNodeCpu(input) }
}

/**
 * Every sample's values, checked: none negative (no Kiln type has a negative quantity: a diff of
 * profiles is not a profile), each and each type's sum exact as a double (2^53), which is what
 * the store's rows and every total Kiln shows are computed in. (The decoder has checked one value
 * per sample type, and refused values beyond 2^53.)
 */
function checkedValues(
  profile: DecodedPprof,
  mappings: readonly (SampleTypeMapping | undefined)[],
): Float64Array {
  const values = profile.samples.value
  const types = mappings.length
  const sums = mappings.map(() => 0)
  for (let s = 0; s < profile.samples.count; s++) {
    for (let i = 0; i < types; i++) {
      const value = values[s * types + i]!
      if (value < 0) throw malformed(`sample ${s} has a negative value (${value})`)
      const scaled = value * (mappings[i]?.scale ?? 1)
      sums[i]! += scaled
      if (!Number.isSafeInteger(Math.round(scaled)) || !Number.isSafeInteger(sums[i]!)) {
        throw new KilnError(
          'KILN_ERR_PROFILE_LIMIT',
          `sample values add up beyond 2^53 (${Number.MAX_SAFE_INTEGER}), which no total can hold exactly`,
        )
      }
    }
  }
  return values
}

function checkLabels(labels: Record<string, string>, limits: NormalizeLimits): void {
  const keys = Object.keys(labels)
  if (keys.length > limits.maxLabels) {
    throw new KilnError(
      'KILN_ERR_PROFILE_LIMIT',
      `${keys.length} labels, limit ${limits.maxLabels} (KILN_MAX_LABELS)`,
    )
  }
  for (const key of keys) {
    if (!LABEL_NAME_RE.test(key)) {
      throw new KilnError(
        'KILN_ERR_PPROF_INVALID',
        `label name ${JSON.stringify(key.slice(0, 64))} must match ${LABEL_NAME_RE.source}`,
      )
    }
    if (key.length > limits.maxLabelNameLength) {
      throw new KilnError(
        'KILN_ERR_PROFILE_LIMIT',
        `label name of ${key.length} characters, limit ${limits.maxLabelNameLength} (KILN_MAX_LABEL_NAME_LENGTH)`,
      )
    }
    const value = labels[key]!
    if (value.length > limits.maxLabelValueLength) {
      throw new KilnError(
        'KILN_ERR_PROFILE_LIMIT',
        `label ${key.slice(0, 64)} has a value of ${value.length} characters, limit ${limits.maxLabelValueLength} (KILN_MAX_LABEL_VALUE_LENGTH)`,
      )
    }
  }
}

const TRACE_ID = 1
const SPAN_ID = 2
const HEX_ID = /^[0-9a-fA-F]{1,32}$/

/** The labels without trace and span ids; the same object when it has neither. */
function withoutTraceLabels(labels: Record<string, string>): Record<string, string> {
  if (!(TRACE_ID_LABEL in labels) && !(SPAN_ID_LABEL in labels)) return labels
  const rest = Object.assign(Object.create(null) as Record<string, string>, labels)
  delete rest[TRACE_ID_LABEL]
  delete rest[SPAN_ID_LABEL]
  return rest
}

function malformed(detail: string): KilnError {
  return new KilnError('KILN_ERR_PPROF_INVALID', detail)
}
