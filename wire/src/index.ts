export { PROFILE_TYPES, isProfileTypeName } from './profile-types.js'
export type { Aggregation, ProfileTypeInfo, ProfileTypeName } from './profile-types.js'
export { VERSION_LABELS, formatAppName } from './ingest.js'
export type { IngestQuery, IngestResponse } from './ingest.js'
export type {
  ErrorResponse,
  FlameNode,
  FlamegraphQuery,
  FlamegraphResponse,
  ServiceSummary,
  ServicesResponse,
} from './query.js'
