import { promisify } from 'node:util'
import { gzip as gzipCallback } from 'node:zlib'
import type { ClickHouseClient } from '@clickhouse/client'
import {
  Function as PprofFunction,
  Line,
  Location,
  Profile,
  Sample,
  StringTable,
  ValueType,
} from 'pprof-format'
import { OTHER_NODE_NAME, PROFILE_TYPES } from '@kiln/wire'
import { formatSelector } from './selector.js'
import { queryStacks, type WindowStack } from './stack-query.js'
import type { QueryWindow } from './window-sql.js'

const gzip = promisify(gzipCallback)

export interface ExportOptions extends QueryWindow {
  /** Stacks beyond this many (the lightest) are merged into one `other` sample. */
  maxStacks: number
}

export interface ExportedProfile {
  /** Gzipped pprof. */
  body: Buffer
  /** e.g. `checkout-cpu-1700000000000-1700000900000.pb.gz` */
  filename: string
}

/**
 * The window merged into one pprof: the aggregated stacks of the flame graph (same SQL, same
 * totals) written back as samples, with one sample type `<kiln type>/<unit>`, so `go tool pprof`
 * shows the flame graph's numbers. Gauge values (averages) are rounded to integers, as pprof
 * values are int64.
 */
export async function exportPprof(
  client: ClickHouseClient,
  db: string,
  options: ExportOptions,
): Promise<ExportedProfile> {
  const { maxStacks, ...window } = options
  const set = await queryStacks(client, db, [window], maxStacks)
  const stacks = [...set.stacks]
  if (set.remainders[0]! !== 0) {
    stacks.push({ functions: [OTHER_NODE_NAME], files: [''], lines: [0], values: set.remainders })
  }
  const profile = encodeStacks(stacks, window, {
    comment: `kiln export: service=${window.service} type=${window.type} query=${formatSelector(window.selector)}`,
  })
  return {
    body: await gzip(profile),
    filename: `${window.service.replace(/[^A-Za-z0-9._-]/g, '_')}-${window.type}-${window.from}-${window.to}.pb.gz`,
  }
}

/** Encode stacks (root first, one value each) as an uncompressed pprof. */
export function encodeStacks(
  stacks: readonly WindowStack[],
  window: Pick<QueryWindow, 'type' | 'from' | 'to'>,
  { comment }: { comment?: string } = {},
): Uint8Array {
  const strings = new StringTable()
  const info = PROFILE_TYPES[window.type]
  const functions = new Map<string, PprofFunction>()
  const locations = new Map<string, Location>()
  const locationOf = (name: string, file: string, line: number): Location => {
    const key = `${name}\u0000${file}\u0000${line}`
    let location = locations.get(key)
    if (location) return location
    const fnKey = `${name}\u0000${file}`
    let fn = functions.get(fnKey)
    if (!fn) {
      fn = new PprofFunction({
        id: functions.size + 1,
        name: strings.dedup(name),
        systemName: strings.dedup(name),
        filename: strings.dedup(file),
      })
      functions.set(fnKey, fn)
    }
    location = new Location({
      id: locations.size + 1,
      line: [new Line({ functionId: fn.id, line })],
    })
    locations.set(key, location)
    return location
  }

  const samples: Sample[] = []
  for (const stack of stacks) {
    const value = Math.round(stack.values[0] ?? 0)
    if (value === 0) continue
    const locationId: number[] = []
    // pprof lists the leaf first.
    for (let i = stack.functions.length - 1; i >= 0; i--) {
      const location = locationOf(stack.functions[i]!, stack.files[i] ?? '', stack.lines[i] ?? 0)
      locationId.push(Number(location.id))
    }
    samples.push(new Sample({ locationId, value: [value] }))
  }

  const sampleType = new ValueType({
    type: strings.dedup(window.type),
    unit: strings.dedup(info.unit),
  })
  return new Profile({
    sampleType: [sampleType],
    sample: samples,
    location: [...locations.values()],
    function: [...functions.values()],
    stringTable: strings,
    timeNanos: BigInt(window.from) * 1_000_000n,
    durationNanos: BigInt(window.to - window.from) * 1_000_000n,
    periodType: new ValueType({ type: sampleType.type, unit: sampleType.unit }),
    period: 1,
    comment: comment === undefined ? [] : [strings.dedup(comment)],
  }).encode()
}
