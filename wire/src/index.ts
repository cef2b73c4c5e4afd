export { PROFILE_TYPES, isProfileTypeName } from './profile-types.js'
export type { Aggregation, ProfileTypeInfo, ProfileTypeName } from './profile-types.js'
export {
  LABEL_NAME_PATTERN,
  UPLOAD_ATTEMPT_HEADER,
  UPLOAD_ID_HEADER,
  UPLOAD_ID_PATTERN,
  VERSION_LABELS,
  formatAppName,
  isLabelName,
  isLabelNameChar,
  isLabelNameStartChar,
} from './ingest.js'
export type { IngestQuery, IngestResponse } from './ingest.js'
export { AGENT_STATS_HEADER, AGENT_STATS_HEADER_MAX_BYTES } from './agents.js'
export type { AgentInstance, AgentStatsHeader, AgentWindowStats, AgentsResponse } from './agents.js'
export { OTHER_NODE_NAME } from './query.js'
export type {
  DiffChanges,
  DiffFunction,
  DiffNode,
  DiffQuery,
  DiffResponse,
  DiffWindow,
  ErrorResponse,
  ExportPprofQuery,
  FlameNode,
  FlamegraphQuery,
  FlamegraphResponse,
  LabelValuesResponse,
  LabelsResponse,
  ProfileTypeSummary,
  ProfileTypesResponse,
  ServiceSummary,
  ServicesResponse,
  TimelineQuery,
  TimelineResponse,
  TopFunction,
  TopQuery,
  TopResponse,
  VersionSummary,
  VersionsResponse,
  WindowQuery,
} from './query.js'
export type {
  AlertSource,
  AlertView,
  AlertsResponse,
  DeliveryState,
  Finding,
  FindingFunction,
  FindingKind,
  FindingNotification,
  FindingsResponse,
  FindingsRunResponse,
  GenericAlert,
  HookResponse,
  OpenResponse,
} from './alerts.js'
export {
  baselineWindow,
  comparisonLinks,
  diffApiLink,
  diffUiLink,
  flamegraphApiLink,
  flamegraphUiLink,
} from './links.js'
export type { DeepLinks, DiffLinkParams, FlamegraphLinkParams, TimeWindow } from './links.js'
export { SESSION_PATH, TENANT_HEADER, TENANT_PATTERN, TOKEN_SCOPES } from './auth.js'
export type { AccessLevel, SessionCredential, SessionResponse, TokenScope } from './auth.js'
export { SCHEDULE_PATH, collectsIn, schedulePeriod, scheduleSlot, windowIndex } from './schedule.js'
export type { SchedulePlan, ScheduleRequest, ScheduleSettings } from './schedule.js'
export { ENDPOINT_LABEL, SPAN_ID_LABEL, TRACE_ID_LABEL, TRACE_ID_PATTERN } from './traces.js'
export type {
  EndpointChange,
  EndpointSummary,
  EndpointsDiffResponse,
  EndpointsResponse,
  TraceSummary,
  TracesResponse,
} from './traces.js'
export { MAX_TIME_MS, TimeSyntaxError, parseTime, unixDigitsToMs } from './time.js'
export { API_ROUTES, KilnApiError, KilnClient, apiUrl } from './client.js'
export type {
  ApiRoute,
  DiffParams,
  EndpointsDiffParams,
  EndpointsParams,
  FlamegraphParams,
  KilnClientOptions,
  ListParams,
  TimeParam,
  TimelineParams,
  TopParams,
  TracesParams,
  WindowParams,
} from './client.js'
export {
  PYROSCOPE_PROFILE_TYPES,
  kilnTypeOf,
  pyroscopeProfileTypeId,
  pyroscopeUnits,
} from './pyroscope.js'
