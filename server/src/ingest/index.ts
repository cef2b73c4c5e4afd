/** The ingest pipeline's stages, exported for benchmarks and tools (`@kiln/server/ingest`). */
export { decodePprof, decompress, isGzip } from './pprof-decode.js'
export { normalizeProfile } from './pprof-normalize.js'
export type { NormalizeInput, NormalizeLimits, NormalizeResult } from './pprof-normalize.js'
export { parseAppName } from './app-name.js'
export { parseTimeParam } from './time-param.js'
