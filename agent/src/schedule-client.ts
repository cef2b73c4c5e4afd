import { hostname } from 'node:os'
import { SCHEDULE_PATH, type SchedulePlan, type ScheduleRequest } from '@kiln/wire'
import { Type } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { authHeaders, post, type PostResult } from './http-post.js'
import { parseRetryAfter } from './retry-after.js'
import type { CheckInResult } from './scheduler.js'

/**
 * What the agent accepts as a plan. Bounds are the agent's own, wider than the Kiln server's
 * settings: a plan outside them (a window under 1 s, a slot past its period) is garbage, and
 * the agent plans alone rather than follow it. Fields a later server adds are ignored.
 */
const PlanSchema = Type.Object({
  windowMs: Type.Integer({ minimum: 1000, maximum: 3_600_000 }),
  period: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
  slot: Type.Integer({ minimum: 0 }),
  instances: Type.Integer({ minimum: 0 }),
  rank: Type.Integer({ minimum: 0 }),
  concurrent: Type.Number({ minimum: 0 }),
  serverTimeMs: Type.Number({ minimum: 0 }),
  checkinMs: Type.Integer({ minimum: 1 }),
})

export interface ScheduleClientOptions {
  serverUrl: string
  token?: string | undefined
  tenant?: string | undefined
  timeoutMs: number
  service: string
  instance: string
}

/**
 * This process's name in the schedule: stable for its life, unique in the service (a host runs
 * one process of a pid at a time), readable next to the `host` and `pid` labels of its uploads.
 * The server takes printable ASCII without spaces, up to 256 characters.
 */
export function instanceId(host = hostname(), pid = process.pid): string {
  return `${host}:${pid}`.replace(/[^\x21-\x7e]/g, '_').slice(-256)
}

/**
 * The check-in: `POST SCHEDULE_PATH` with `{service, instance}` and the ingest credentials.
 * Never rejects: every way it can go wrong is a `CheckInResult`.
 */
export function scheduleClient(options: ScheduleClientOptions): () => Promise<CheckInResult> {
  const request: ScheduleRequest = { service: options.service, instance: options.instance }
  const body = Buffer.from(JSON.stringify(request))
  return async () => {
    let result: PostResult
    try {
      const url = new URL(SCHEDULE_PATH, options.serverUrl)
      const headers = { 'content-type': 'application/json', ...authHeaders(options) }
      result = await post(url, body, headers, options.timeoutMs)
    } catch (error) {
      return { kind: 'failed', error: error instanceof Error ? error.message : String(error) }
    }
    return readAnswer(result, Date.now())
  }
}

/** A check-in's answer as the scheduler takes it. */
export function readAnswer(result: PostResult, nowMs: number): CheckInResult {
  const { status } = result
  // Pyroscope, and Kiln before schedules, have no such route.
  if (status === 404 || status === 405) return { kind: 'unsupported', status }
  if (status < 200 || status >= 300) {
    const retryAfterMs =
      status === 429 || status === 503 ? parseRetryAfter(result.retryAfter, nowMs) : undefined
    return { kind: 'failed', error: `HTTP ${status}: ${result.body.slice(0, 200)}`, retryAfterMs }
  }
  let plan: unknown
  try {
    plan = JSON.parse(result.body)
  } catch {
    return { kind: 'failed', error: `not JSON: ${JSON.stringify(result.body.slice(0, 100))}` }
  }
  if (!Value.Check(PlanSchema, plan)) {
    const first = Value.Errors(PlanSchema, plan).First()
    const where = first ? `${first.path || '/'}: ${first.message}` : 'not an object'
    return { kind: 'failed', error: `not a schedule plan (${where})` }
  }
  if (plan.slot >= plan.period) {
    return {
      kind: 'failed',
      error: `not a schedule plan (slot ${plan.slot} >= period ${plan.period})`,
    }
  }
  const checked: SchedulePlan = plan
  return { kind: 'plan', plan: checked }
}
