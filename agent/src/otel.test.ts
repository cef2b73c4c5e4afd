import { context, propagation, trace, SpanKind, ROOT_CONTEXT } from '@opentelemetry/api'
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bindLabelSink, contextLabeler, withLabels, type SampleContext } from './labels.js'

/*
 * The real OpenTelemetry SDK, registered after the sink is bound (as when the agent loads with
 * `--import` before the application sets up tracing): every context the profiler would be given
 * is recorded, and read back as the serializer would label samples.
 */

const published: SampleContext[] = []
const exporter = new InMemorySpanExporter()
let provider: NodeTracerProvider

beforeAll(() => {
  bindLabelSink((c) => published.push(c))
  provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
  provider.register()
})

afterAll(async () => {
  bindLabelSink(undefined)
  await provider.shutdown()
  trace.disable()
  context.disable()
  propagation.disable()
})

const tracer = () => trace.getTracer('kiln-test')
const labelsNow = (labeler = contextLabeler()) => labeler(published.at(-1))
const tick = () => new Promise<void>((resolve) => setImmediate(resolve))

describe('OpenTelemetry spans on samples', () => {
  it('carries the local root span, also in children and after awaits, and reads its route late', async () => {
    let root: { traceId: string; spanId: string } | undefined
    const seen: Record<string, string>[] = []
    await tracer().startActiveSpan('GET', { kind: SpanKind.SERVER }, async (server) => {
      root = server.spanContext()
      server.setAttribute('http.request.method', 'GET')
      seen.push(labelsNow())
      await tracer().startActiveSpan('db', async (child) => {
        seen.push(labelsNow())
        await tick()
        // An async continuation republishes the span it resumes in.
        seen.push(labelsNow())
        child.end()
      })
      // The framework routes the request: the route is read when the profile is serialized.
      server.setAttribute('http.route', '/checkout/:id')
      seen.push(labelsNow())
      server.end()
    })
    const ids = { trace_id: root!.traceId, span_id: root!.spanId }
    expect(seen[0]).toEqual({ ...ids, endpoint: 'GET' })
    expect(seen[1]).toEqual({ ...ids, endpoint: 'GET' })
    expect(seen[2]).toEqual({ ...ids, endpoint: 'GET' })
    expect(seen[3]).toEqual({ ...ids, endpoint: 'GET /checkout/:id' })
    // Outside the span, samples carry nothing of it.
    expect(labelsNow()).toEqual({})
  })

  it('starts a new local root under a remote parent, and keeps withLabels labels beside it', () => {
    const remoteTrace = '0af7651916cd43dd8448eb211c80319c'
    const parent = propagation.extract(ROOT_CONTEXT, {
      traceparent: `00-${remoteTrace}-b7ad6b7169203331-01`,
    })
    let labels: Record<string, string> = {}
    let spanId = ''
    tracer().startActiveSpan('consume orders', { kind: SpanKind.CONSUMER }, parent, (span) => {
      spanId = span.spanContext().spanId
      withLabels({ tier: 'gold' }, () => {
        labels = labelsNow()
      })
      span.end()
    })
    expect(labels).toEqual({
      tier: 'gold',
      trace_id: remoteTrace,
      span_id: spanId,
      endpoint: 'consume orders',
    })
  })

  it('gives a span started outside its parent context the local root of its trace', () => {
    tracer().startActiveSpan('job', (job) => {
      const jobContext = context.active()
      // Started from a saved context and entered later from elsewhere.
      context.with(ROOT_CONTEXT, () => {
        const step = tracer().startSpan('step', {}, jobContext)
        context.with(trace.setSpan(ROOT_CONTEXT, step), () => {
          expect(labelsNow().span_id).toBe(job.spanContext().spanId)
        })
        step.end()
      })
      job.end()
    })
  })

  it('stops following spans once the sink is unbound', () => {
    bindLabelSink(undefined)
    const before = published.length
    tracer().startActiveSpan('after', (span) => span.end())
    expect(published.length).toBe(before)
    bindLabelSink((c) => published.push(c))
  })
})
