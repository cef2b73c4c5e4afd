import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsync } from 'fastify'
import {
  SCHEDULE_PATH,
  schedulePeriod,
  scheduleSlot,
  type SchedulePlan,
  type ScheduleRequest,
  type ScheduleSettings,
} from '@kiln/wire'
import type { KilnConfig } from '../config/config-schema.js'
import { liveInstances } from '../store/checkins.js'
import { emptyBatch } from '../store/rows.js'

/** An instance is live while its last check-in is younger than this many check-in intervals. */
export const LIVE_CHECKINS = 2.5

/** Fields a later agent may add are ignored. */
const ScheduleBody = Type.Object({
  service: Type.String({ minLength: 1, maxLength: 256, pattern: '^[^{}\\s]+$' }),
  instance: Type.String({ minLength: 1, maxLength: 256, pattern: '^[\\x21-\\x7e]+$' }),
})

const PlanSchema = Type.Object({
  windowMs: Type.Integer(),
  period: Type.Integer(),
  slot: Type.Integer(),
  instances: Type.Integer(),
  rank: Type.Integer(),
  concurrent: Type.Number(),
  serverTimeMs: Type.Integer(),
  checkinMs: Type.Integer(),
})

/**
 * `POST /api/v1/schedule`: an agent checks in and gets its plan (wire/src/schedule.ts). The
 * check-in is stored before the answer, and the service's live instances are read back from
 * the store: two servers behind one load balancer, or a server after a restart, rank the same
 * instances the same way and give the same plans.
 */
export const schedulePlugin: FastifyPluginAsync<{ config: KilnConfig }> = async (
  fastify,
  { config },
) => {
  const settings: ScheduleSettings = {
    concurrent: config.scheduleConcurrent,
    maxShare: config.scheduleMaxShare,
    minShare: config.scheduleMinShare,
  }
  fastify.post<{ Body: ScheduleRequest; Reply: SchedulePlan }>(
    SCHEDULE_PATH,
    {
      bodyLimit: 4096,
      config: { access: 'ingest' },
      schema: { body: ScheduleBody, response: { 200: PlanSchema } },
    },
    async (request) => {
      const { service, instance } = request.body
      const { tenant } = request
      const now = Date.now()
      const checkin = { tenant, service, time: now, instance }
      await fastify.store.checkins.write({ ...emptyBatch(), checkins: [checkin] })
      // Check-ins are not in the ingest log: read without waiting for it.
      const { direct: client, database } = fastify.store
      const sinceMs = now - LIVE_CHECKINS * config.scheduleCheckinMs
      const live = await liveInstances(client, database, { tenant, service, sinceMs })
      if (!live.includes(instance)) live.push(instance) // not yet visible to this read
      live.sort()
      const rank = live.indexOf(instance)
      const period = schedulePeriod(live.length, settings)
      return {
        windowMs: config.scheduleWindowMs,
        period,
        slot: scheduleSlot(rank, live.length, period),
        instances: live.length,
        rank,
        concurrent: live.length / period,
        // The agent takes its clock's offset as this minus the middle of its exchange (NTP's
        // formula, the server's two times folded into one), so this is the middle of the
        // server's part. The time at the answer would skew every agent's clock by half the
        // store's write and read, which under heavy ingest take seconds (measured: agents on the
        // server's own machine 0.9 s off, against 1 s windows).
        serverTimeMs: Math.round((now + Date.now()) / 2),
        checkinMs: config.scheduleCheckinMs,
      }
    },
  )
}
