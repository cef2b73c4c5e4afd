import { randomUUID } from 'node:crypto'
import type { Profile } from 'pprof-format'
import { VERSION_LABELS } from '@kiln/wire'
import { KilnError } from '../errors.js'
import { LABEL_NAME_RE } from './app-name.js'
import { emptyBatch, type RowBatch, type SampleRow } from '../store/rows.js'
import { profileIdOf, uploadHashOf } from '../store/stored-profiles.js'
import { hash64 } from './hash.js'
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
}

export interface NormalizeResult {
  batch: RowBatch
  /** Kiln types found in the profile, e.g. `['wall', 'cpu']`. */
  types: string[]
  samples: number
  /** Unix ms: the end of the profile's interval, as its `profiles` rows have it. */
  untilMs: number
}

interface Frame {
  name: string
  file: string
  line: number
}

export const TRUNCATED_FRAME = '[truncated]'

/**
 * Turn a decoded pprof into storage rows: one series per label set, one stack per distinct
 * frame list (root first, hashed), one sample row per (type, series, stack) with summed values,
 * and one profile row per type. Every id the pprof refers to is checked; a dangling one is a
 * malformed profile, not a crash.
 */
export function normalizeProfile(profile: Profile, input: NormalizeInput): NormalizeResult {
  const { limits, tenant, service } = input
  const uploadKey = input.uploadKey ?? randomUUID()
  const now = input.now ?? Date.now()
  const strings = profile.stringTable.strings
  const str = (index: number | bigint, what: string): string => {
    const s = strings[Number(index)]
    if (s === undefined) throw malformed(`${what} refers to string ${index} of ${strings.length}`)
    return s
  }

  if (profile.sample.length > limits.maxSamplesPerProfile) {
    throw new KilnError(
      'KILN_ERR_PROFILE_LIMIT',
      `${profile.sample.length} samples, limit ${limits.maxSamplesPerProfile} (KILN_MAX_SAMPLES_PER_PROFILE)`,
    )
  }

  const sampleTypes = profile.sampleType.map(
    (t) => `${str(t.type, 'sample type')}/${str(t.unit, 'sample unit')}`,
  )
  // The first sample type of each Kiln type counts: two that map to one (`space/bytes` and
  // `inuse_space/bytes`) measure the same quantity, and adding them would count it twice.
  const mapped = new Set<string>()
  const mappings: (SampleTypeMapping | undefined)[] = profile.sampleType.map((t) => {
    const mapping = mapSampleType(str(t.type, 'sample type'), str(t.unit, 'sample unit'))
    if (!mapping || mapped.has(mapping.type)) return undefined
    mapped.add(mapping.type)
    return mapping
  })
  const types = [...new Set(mappings.flatMap((m) => (m ? [m.type] : [])))]
  if (types.length === 0) {
    const found = profile.sampleType.map((t) => `${str(t.type, '')}/${str(t.unit, '')}`)
    throw new KilnError(
      'KILN_ERR_PPROF_INVALID',
      `no supported sample type in [${found.join(', ')}]`,
    )
  }

  const functions = new Map<string, { name: string; file: string }>()
  for (const fn of profile.function) {
    functions.set(String(fn.id), {
      name: str(fn.name, 'function name'),
      file: str(fn.filename, 'file name'),
    })
  }
  const locations = new Map<string, Frame[]>()
  for (const loc of profile.location) {
    const frames: Frame[] = []
    // pprof lists inlined functions first and their caller last; we store leaf first here.
    for (const line of loc.line) {
      const fn = functions.get(String(line.functionId))
      if (!fn) throw malformed(`location ${loc.id} refers to missing function ${line.functionId}`)
      const lineNumber = signed(line.line)
      if (lineNumber < 0) throw malformed(`location ${loc.id} has line ${lineNumber}`)
      frames.push({ name: fn.name || '<anonymous>', file: fn.file, line: lineNumber })
    }
    if (frames.length === 0) {
      frames.push({ name: `0x${BigInt(loc.address).toString(16)}`, file: '', line: 0 })
    }
    locations.set(String(loc.id), frames)
  }

  checkLabels(input.labels, limits)
  const version = VERSION_LABELS.map((k) => input.labels[k]).find((v) => v) ?? ''
  const timeNanos = signed(profile.timeNanos)
  const durationNanos = signed(profile.durationNanos)
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
        instance_id: labels === input.labels ? id : seriesOf(type, input.labels),
        last_seen: lastSeen,
      })
    }
    return id
  }

  const stackIds = new Map<string, string>()
  const sampleRows = new Map<string, SampleRow>()
  const totals = new Map<string, number>()

  /**
   * The hash of the stack `key` names, adding its row the first time it is seen (only then are
   * its frames, root first, built).
   */
  const stackOf = (key: string, framesOf: () => Frame[]): string => {
    let stackHash = stackIds.get(key)
    if (stackHash !== undefined) return stackHash
    let rootFirst = framesOf()
    if (rootFirst.length > limits.maxStackDepth) {
      rootFirst = [
        { name: TRUNCATED_FRAME, file: '', line: 0 },
        ...rootFirst.slice(rootFirst.length - limits.maxStackDepth + 1),
      ]
    }
    stackHash = hash64(
      rootFirst.map((f) => `${f.name}\u0000${f.file}\u0000${f.line}`).join('\u0001'),
    )
    stackIds.set(key, stackHash)
    batch.stacks.push({
      tenant,
      service,
      stack_hash: stackHash,
      functions: rootFirst.map((f) => f.name),
      files: rootFirst.map((f) => f.file),
      lines: rootFirst.map((f) => f.line),
      last_seen: lastSeen,
    })
    return stackHash
  }
  /** Add `value` (already in the Kiln type's unit) to the row of (type, labels, stack). */
  const addValue = (
    type: string,
    labels: Record<string, string>,
    stackHash: string,
    value: number,
  ): void => {
    if (value === 0) return
    const seriesId = seriesOf(type, labels)
    const key = `${type}\u0000${seriesId}\u0000${stackHash}`
    const row = sampleRows.get(key)
    if (row) row.value += value
    else {
      sampleRows.set(key, {
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

  const values = sampleValues(profile, mappings)
  // Locations list the leaf first, and a location's frames too: the first frame is the leaf.
  const leafOf = (sample: Profile['sample'][number]): string =>
    locations.get(String(sample.locationId[0]))?.[0]?.name ?? ''
  const cpu = nodeCpuEstimate(profile, sampleTypes, leafOf, values)

  profile.sample.forEach((sample, sampleIndex) => {
    const stackHash = stackOf(sample.locationId.join(','), () => {
      const leafFirst: Frame[] = []
      for (const locationId of sample.locationId) {
        const frames = locations.get(String(locationId))
        if (!frames) throw malformed(`sample refers to missing location ${locationId}`)
        leafFirst.push(...frames)
      }
      return leafFirst.reverse()
    })

    // A sample's own labels are added to the upload's, and win over an upload label of the same
    // name. A key twice in one sample (which pprof discourages and no profiler sends) is refused:
    // no one value of it would be right.
    let labels = input.labels
    if (sample.label.length > 0) {
      // No prototype, as in parseAppName: `__proto__` stays a label.
      labels = Object.assign(Object.create(null) as Record<string, string>, input.labels)
      const own = new Set<string>()
      for (const label of sample.label) {
        if (Number(label.str) === 0) continue // numeric labels (e.g. thread ids) are not series keys
        const key = str(label.key, 'label key')
        if (own.has(key))
          throw malformed(`a sample has the label ${JSON.stringify(key.slice(0, 64))} twice`)
        own.add(key)
        labels[key] = str(label.str, 'label value')
      }
      checkLabels(labels, limits)
    }

    mappings.forEach((mapping, i) => {
      if (!mapping) return
      if (cpu && i === cpu.index) {
        addValue(mapping.type, labels, stackHash, cpu.estimate.cpuNanos[sampleIndex]!)
        return
      }
      addValue(
        mapping.type,
        labels,
        stackHash,
        Math.round(values[sampleIndex]![i]! * mapping.scale),
      )
    })
  })
  if (cpu && cpu.estimate.outsideJsNanos > 0) {
    const frames = [RUNTIME_FRAME, OUTSIDE_JS_FRAME].map((name) => ({ name, file: '', line: 0 }))
    addValue(
      'cpu',
      input.labels,
      stackOf('\u0000outside-js', () => frames),
      cpu.estimate.outsideJsNanos,
    )
  }

  batch.samples = [...sampleRows.values()]
  for (const type of types) {
    batch.profiles.push({
      tenant,
      service,
      type,
      profile_id: profileIdOf(uploadKey, type),
      series_id: seriesOf(type, input.labels),
      time_start: fromMs,
      time_end: untilMs,
      version,
      labels: input.labels,
      total: totals.get(type) ?? 0,
      sample_count: batch.samples.filter((s) => s.type === type).length,
      spy_name: input.spyName ?? '',
      received_at: now,
    })
  }
  // Only stacks some sample refers to (zero-valued samples add none).
  const usedStacks = new Set(batch.samples.map((s) => s.stack_hash))
  batch.stacks = batch.stacks.filter((s) => usedStacks.has(s.stack_hash))
  return { batch, types, samples: profile.sample.length, untilMs }
}

/**
 * The CPU estimate of a Node time profile (`node-cpu.ts`), with the index of its CPU values;
 * `undefined` for other profiles, whose CPU values are taken as they are.
 */
function nodeCpuEstimate(
  profile: Profile,
  sampleTypes: readonly string[],
  leafOf: (sample: Profile['sample'][number]) => string,
  values: readonly number[][],
): { index: number; estimate: CpuEstimate } | undefined {
  if (!isNodeTimeProfile(sampleTypes)) return undefined
  const at = (type: string) => sampleTypes.indexOf(type)
  const count = at(countTypeOf(sampleTypes)!)
  const [wall, index] = [at('wall/nanoseconds'), at('cpu/nanoseconds')]
  const estimate = estimateNodeCpu(
    profile.sample.map((sample, i) => ({
      leaf: leafOf(sample),
      count: values[i]![count]!,
      wallNanos: values[i]![wall]!,
      cpuNanos: values[i]![index]!,
    })),
  )
  return { index, estimate }
}

/**
 * pprof's int64 fields as numbers, signed (the decoder hands back a 64-bit varint as unsigned:
 * `-1` arrives as 2^64 - 1).
 */
function signed(raw: number | bigint | undefined): number {
  if (raw === undefined) return 0
  return typeof raw === 'bigint' ? Number(BigInt.asIntN(64, raw)) : raw
}

/**
 * Every sample's values, checked: one per sample type, none negative (no Kiln type has a
 * negative quantity: a diff of profiles is not a profile), each and each type's sum exact as a
 * double (2^53), which is what the store's rows and every total Kiln shows are computed in.
 */
function sampleValues(
  profile: Profile,
  mappings: readonly (SampleTypeMapping | undefined)[],
): number[][] {
  const sums = mappings.map(() => 0)
  const out = profile.sample.map((sample, index) => {
    if (sample.value.length !== mappings.length) {
      throw malformed(
        `sample ${index} has ${sample.value.length} values for ${mappings.length} sample types`,
      )
    }
    return sample.value.map((raw, i) => {
      const value = signed(raw)
      if (value < 0) throw malformed(`sample ${index} has a negative value (${value})`)
      const scaled = value * (mappings[i]?.scale ?? 1)
      sums[i]! += scaled
      if (!Number.isSafeInteger(Math.round(scaled)) || !Number.isSafeInteger(sums[i]!)) {
        throw new KilnError(
          'KILN_ERR_PROFILE_LIMIT',
          `sample values add up beyond 2^53 (${Number.MAX_SAFE_INTEGER}), which no total can hold exactly`,
        )
      }
      return value
    })
  })
  return out
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

function malformed(detail: string): KilnError {
  return new KilnError('KILN_ERR_PPROF_INVALID', detail)
}
