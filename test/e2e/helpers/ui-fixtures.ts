import type { SyntheticUpload } from './synthetic-ingest.js'

/*
 * The data of the UI tests: a CPU service with a deploy that made one function slower, and a
 * service whose heap in use grows at one allocation site. Every value is chosen here, so the
 * tests derive the expected rankings from these numbers.
 */

export const MS = 1e6 // nanoseconds per millisecond
export const UPLOAD_MS = 10_000
/** Uploads per version: 10 minutes of 10 s profiles. */
export const UPLOADS_PER_VERSION = 60

export const CPU_SERVICE = 'checkout'
export const OLD_VERSION = '1.0.0'
export const NEW_VERSION = '1.1.0'
export const SLOWER_FUNCTION = 'parseCatalog'

/** CPU per 10 s upload of each leaf, by version: `parseCatalog` triples in the new version. */
export const CPU_STACKS: Record<string, { stack: string[]; ms: number }[]> = {
  [OLD_VERSION]: [
    { stack: ['main@app.js', 'handleRequest@server.js', 'renderInvoice@invoice.js'], ms: 300 },
    { stack: ['main@app.js', 'handleRequest@server.js', 'parseCatalog@catalog.js'], ms: 200 },
    { stack: ['main@app.js', 'hashPasswords@auth.js'], ms: 100 },
    { stack: ['main@app.js', 'gcSweep@gc.js'], ms: 20 },
  ],
  [NEW_VERSION]: [
    { stack: ['main@app.js', 'handleRequest@server.js', 'renderInvoice@invoice.js'], ms: 300 },
    { stack: ['main@app.js', 'handleRequest@server.js', 'parseCatalog@catalog.js'], ms: 600 },
    { stack: ['main@app.js', 'hashPasswords@auth.js'], ms: 100 },
    { stack: ['main@app.js', 'gcSweep@gc.js'], ms: 20 },
  ],
}

/** Two instances take turns, so the label filter has values to suggest. */
export const INSTANCES = ['api-1', 'api-2']

/** The old version for 10 minutes up to `deployAt`, the new one for 10 minutes after. */
export function cpuUploads(deployAt: number): SyntheticUpload[] {
  const uploads: SyntheticUpload[] = []
  for (const [v, version] of [OLD_VERSION, NEW_VERSION].entries()) {
    for (let k = 0; k < UPLOADS_PER_VERSION; k++) {
      uploads.push({
        service: CPU_SERVICE,
        labels: { service_version: version, instance: INSTANCES[k % INSTANCES.length]! },
        at: deployAt + (v - 1) * UPLOADS_PER_VERSION * UPLOAD_MS + k * UPLOAD_MS,
        sampleType: ['cpu', 'nanoseconds'],
        samples: CPU_STACKS[version]!.map((s) => ({ stack: s.stack, value: s.ms * MS })),
      })
    }
  }
  return uploads
}

export const HEAP_SERVICE = 'orders-cache'
export const LEAKING_SITE = 'cacheOrders'
export const SHRINKING_SITE = 'parseConfig'
const KB = 1024

/** Bytes in use of each allocation site at snapshot `k`: `cacheOrders` grows 100 KB a snapshot. */
export function heapSites(k: number): { stack: string[]; value: number }[] {
  return [
    {
      stack: ['main@app.js', 'loadOrders@orders.js', 'cacheOrders@cache.js'],
      value: 1024 * KB + k * 100 * KB,
    },
    { stack: ['main@app.js', 'handleRequest@server.js', 'bufferPool@pool.js'], value: 4096 * KB },
    {
      stack: ['main@app.js', 'parseConfig@config.js'],
      value: Math.max(256 * KB, 2048 * KB - k * 20 * KB),
    },
  ]
}

/** Heap snapshots every 10 s for 20 minutes ending at `end`. */
export function heapUploads(end: number): SyntheticUpload[] {
  const count = 2 * UPLOADS_PER_VERSION
  return Array.from({ length: count }, (_, k) => ({
    service: HEAP_SERVICE,
    labels: { service_version: '2.0.0' },
    at: end - (count - k) * UPLOAD_MS,
    sampleType: ['inuse_space', 'bytes'] as [string, string],
    samples: heapSites(k),
  }))
}

/** Average bytes in use of each site over the snapshots starting in `[from, to)`. */
export function averageHeap(
  uploads: readonly SyntheticUpload[],
  from: number,
  to: number,
): Map<string, number> {
  const inside = uploads.filter((u) => u.at >= from && u.at < to)
  const sums = new Map<string, number>()
  for (const u of inside) {
    for (const s of u.samples) {
      const site = s.stack.at(-1)!.split('@')[0]!
      sums.set(site, (sums.get(site) ?? 0) + s.value / inside.length)
    }
  }
  return sums
}

/** The key of the largest value. */
export function argMax(values: Map<string, number>): string {
  return [...values].sort((a, b) => b[1] - a[1])[0]![0]
}
