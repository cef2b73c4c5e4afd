import type { Aggregation, ProfileTypeInfo } from './profile-types.js'

/** A node of a flame graph. `value` is the node's total (itself and below), `self` its own. */
export interface FlameNode {
  name: string
  /** Source file of the function, when the profile carried one. */
  file?: string
  value: number
  self: number
  children: FlameNode[]
}

/** `GET /api/v1/flamegraph?service=&type=&from=&to=` (times in Unix milliseconds). */
export interface FlamegraphQuery {
  service: string
  type: string
  from: number
  to: number
  maxNodes?: number
}

export interface FlamegraphResponse {
  service: string
  type: string
  unit: ProfileTypeInfo['unit']
  aggregation: Aggregation
  from: number
  to: number
  /** Sum of every sample in the window, including stacks folded into "other". */
  total: number
  /** Number of distinct stacks that were aggregated. */
  stacks: number
  root: FlameNode
}

export interface ServiceSummary {
  name: string
  types: string[]
  /** Unix ms of the newest profile. */
  lastSeen: number
}

/** `GET /api/v1/services` */
export interface ServicesResponse {
  services: ServiceSummary[]
}

/** Every 4xx/5xx body from the server. `code` is stable (`KILN_ERR_*`). */
export interface ErrorResponse {
  statusCode: number
  code: string
  error: string
  message: string
}
