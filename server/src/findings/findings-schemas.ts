import { unixMs } from '../http/unix-ms.js'
import { Type } from '@sinclair/typebox'
import { LinksSchema } from '../hooks/hooks-schemas.js'

/* TypeBox schemas of the findings routes; the shapes mirror `Finding` of `@kiln/wire`. */

const Window = Type.Object({ from: Type.Number(), to: Type.Number() })

const FindingFunctionSchema = Type.Object({
  name: Type.String(),
  file: Type.String(),
  base: Type.Number(),
  comp: Type.Number(),
  baseShare: Type.Optional(Type.Number()),
  compShare: Type.Optional(Type.Number()),
  growthPerHour: Type.Optional(Type.Number()),
})

export const FindingSchema = Type.Object({
  id: Type.String(),
  kind: Type.String({ enum: ['cpu_regression', 'heap_growth'] }),
  service: Type.String(),
  type: Type.String(),
  title: Type.String(),
  time: Type.Number(),
  detectedAt: Type.Number(),
  window: Window,
  baseline: Window,
  version: Type.Optional(Type.String()),
  previousVersion: Type.Optional(Type.String()),
  versionsCompared: Type.Optional(Type.Array(Type.String(), { minItems: 2, maxItems: 2 })),
  functions: Type.Array(FindingFunctionSchema),
  stats: Type.Record(Type.String(), Type.Number()),
  links: LinksSchema,
  delivery: Type.String({ enum: ['none', 'pending', 'delivered', 'failed'] }),
})

export const FindingsQuery = Type.Object({
  service: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
  kind: Type.Optional(Type.Union([Type.Literal('cpu_regression'), Type.Literal('heap_growth')])),
  from: Type.Optional(unixMs('Unix ms; default `to` - 24 h')),
  to: Type.Optional(unixMs('Unix ms; default now')),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, default: 500 })),
})

export const FindingsSchema = {
  summary: "Kiln's findings (CPU regressions by version, heap growth) overlapping [from, to)",
  querystring: FindingsQuery,
  response: {
    200: Type.Object({
      from: Type.Number(),
      to: Type.Number(),
      findings: Type.Array(FindingSchema),
    }),
  },
}

export const FindingsRunSchema = {
  summary: "Run Kiln's detectors now over the request's tenant; returns the findings created",
  response: { 200: Type.Object({ findings: Type.Array(FindingSchema) }) },
}
