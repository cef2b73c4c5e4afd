// What following OpenTelemetry spans costs the main thread, per operation, measured side by side
// in one process: the OpenTelemetry SDK is registered throughout, and Kiln's span following
// (agent/src/otel.ts: the wrapped `context.with` and the async hook that republishes the active
// span) is switched on and off between alternating runs. Reports ns per `context.with` and per
// async continuation inside a span, medians over the runs, and what that comes to for a request
// that makes `--withs` calls and `--continuations` continuations.
//   node bench/agent-overhead/otel-micro.mjs [--runs 15] [--withs 12] [--continuations 40]
// Needs `pnpm --filter @kiln/agent build` first.
import { parseArgs } from 'node:util'
import { time } from '@datadog/pprof'
import { context, trace } from '@opentelemetry/api'
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node'

// (the profiler runs in both arms; see below)
// Not part of the agent's public surface: the module that follows spans, to switch it alone.
const { bindLabelSink } = await import('../../agent/dist/labels.js')

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '15' },
    withs: { type: 'string', default: '12' },
    continuations: { type: 'string', default: '40' },
  },
})
const RUNS = Number(args.runs)

const provider = new NodeTracerProvider()
provider.register()
const tracer = trace.getTracer('otel-micro')

// The time profiler runs in both arms, as the agent runs it (CPU time, contexts at 50 Hz): the
// arms differ only in whether the active span is followed and published to it.
time.start({
  intervalMicros: 20_000,
  durationMillis: 3_600_000,
  collectCpuTime: true,
  withContexts: true,
  lineNumbers: false,
  workaroundV8Bug: false,
})
let published = 0
/** What the agent's sink does: hand the context to the time profiler (a native call). */
const sink = (c) => {
  published++
  time.setContext(c)
}

/** ns per `context.with(ctx, fn)` of a span's context, synchronous. */
function withCost(n) {
  const span = tracer.startSpan('request')
  const ctx = trace.setSpan(context.active(), span)
  let sum = 0
  const fn = (i) => (sum += i)
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < n; i++) context.with(ctx, fn, undefined, i)
  const ns = Number(process.hrtime.bigint() - t0) / n
  span.end()
  if (sum < 0) throw new Error('unreachable')
  return ns
}

/** ns per async continuation (an `await` of a resolved promise) inside an active span. */
async function continuationCost(n) {
  return tracer.startActiveSpan('request', async (span) => {
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < n; i++) await null
    const ns = Number(process.hrtime.bigint() - t0) / n
    span.end()
    return ns
  })
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const results = { off: { with: [], cont: [] }, on: { with: [], cont: [] } }
// Warm-up of both paths.
for (const on of [false, true, false]) {
  bindLabelSink(on ? sink : undefined)
  withCost(200_000)
  await continuationCost(200_000)
}
for (let r = 0; r < RUNS; r++) {
  for (const on of r % 2 === 0 ? [false, true] : [true, false]) {
    bindLabelSink(on ? sink : undefined)
    const side = on ? results.on : results.off
    side.with.push(withCost(500_000))
    side.cont.push(await continuationCost(500_000))
  }
}
bindLabelSink(undefined)
time.stop(false)
await provider.shutdown()

const w = { off: median(results.off.with), on: median(results.on.with) }
const c = { off: median(results.off.cont), on: median(results.on.cont) }
const perRequestNs =
  Number(args.withs) * (w.on - w.off) + Number(args.continuations) * (c.on - c.off)
console.log(`medians of ${RUNS} alternating runs (published contexts: ${published})`)
console.log('| operation | OpenTelemetry alone | + Kiln following spans | added |')
console.log('|---|---|---|---|')
console.log(
  `| context.with, ns | ${w.off.toFixed(0)} | ${w.on.toFixed(0)} | ${(w.on - w.off).toFixed(0)} |`,
)
console.log(
  `| async continuation in a span, ns | ${c.off.toFixed(0)} | ${c.on.toFixed(0)} | ${(c.on - c.off).toFixed(0)} |`,
)
console.log(
  `a request of ${args.withs} withs and ${args.continuations} continuations: +${(perRequestNs / 1000).toFixed(1)} µs`,
)
