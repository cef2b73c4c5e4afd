// The service under test: a small Fastify shop API doing what real services do per request,
// JSON parse + schema validation, lookups, arithmetic, string work, a hash and JSON
// serialization, about 1-3 ms of CPU per request. The profiler (if any) is loaded by the
// command line (`--import`), exactly as users load it; this file knows nothing about it, except
// for the optional `BENCH_WITH_LABELS=1` mode that wraps each handler in Kiln's `withLabels`.
//
// With `BENCH_TOGGLE=kiln|pyroscope` (paired.mjs) the service starts and stops that agent in
// its own process when its parent says so over IPC (`{ agent: 'on', options }`, `{ agent: 'off' }`),
// answering `{ agent, done: true, stats }` (Kiln's getStats() before it stopped): the same
// process, with and without the agent.
//
// With `BENCH_OTEL=1` the service is traced as a real one would be: the OpenTelemetry SDK with
// the HTTP instrumentation (spans exported in batches to nowhere) and the route of each request
// on its server span (what @fastify/otel does), loaded before Fastify so `http` is patched.
//
// Prints one JSON line `{"port": N}` on stdout once listening; exits on SIGTERM.
import { createHash } from 'node:crypto'
import { createRequire } from 'node:module'
import { QUERIES, makeCatalog } from './workload.mjs'

let setRoute = (_request) => undefined
if (process.env.BENCH_OTEL === '1') setRoute = await traceWithOpenTelemetry()
// After OpenTelemetry: its HTTP instrumentation patches `http` as Fastify requires it.
const { default: Fastify } = await import('fastify')

/** Register the SDK and the HTTP instrumentation; returns what names a request's route. */
async function traceWithOpenTelemetry() {
  const require = createRequire(import.meta.url)
  const { trace } = require('@opentelemetry/api')
  const { registerInstrumentations } = require('@opentelemetry/instrumentation')
  const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http')
  const { BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base')
  const { NodeTracerProvider } = require('@opentelemetry/sdk-trace-node')
  const discard = {
    export: (_spans, done) => done({ code: 0 }),
    shutdown: async () => undefined,
  }
  const provider = new NodeTracerProvider({ spanProcessors: [new BatchSpanProcessor(discard)] })
  provider.register()
  registerInstrumentations({ instrumentations: [new HttpInstrumentation()] })
  return (request) => {
    const span = trace.getActiveSpan()
    const route = request.routeOptions.url
    if (span !== undefined && route !== undefined) {
      span.setAttribute('http.route', route)
      span.updateName(`${request.method} ${route}`)
    }
  }
}

const catalog = makeCatalog()
const bySku = new Map(catalog.map((p) => [p.sku, p]))
const TAX = { NL: 0.21, DE: 0.19, FR: 0.2, PT: 0.23, PL: 0.23 }
const BLOCKED = ['fraud', 'test order', 'chargeback', 'stolen card', 'do not ship']

let withLabels = (_labels, fn) => fn()
if (process.env.BENCH_WITH_LABELS === '1') ({ withLabels } = await import('@kiln/agent'))

/** Edit distance: the kind of plain JS loop a risk check runs on free text. */
function levenshtein(a, b) {
  const prev = new Array(b.length + 1)
  for (let j = 0; j <= b.length; j++) prev[j] = j
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]
    prev[0] = i
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1))
      diag = tmp
    }
  }
  return prev[b.length]
}

function riskScore(order) {
  const texts = [
    order.customer.email,
    order.customer.address.line1,
    ...order.lines.map((l) => l.note),
  ]
  let score = 0
  for (const text of texts) {
    if (!text) continue
    for (const bad of BLOCKED) score += Math.max(0, 4 - levenshtein(text.toLowerCase(), bad))
  }
  return score
}

function quote(order) {
  const rate = TAX[order.customer.address.country] ?? 0.2
  const tierDiscount = { basic: 0, silver: 0.03, gold: 0.07 }[order.customer.tier] ?? 0
  const lines = order.lines.map((line) => {
    const product = bySku.get(line.sku)
    if (!product) return { sku: line.sku, available: false, netCents: 0, taxCents: 0 }
    let unit = product.priceCents * (1 - tierDiscount)
    if (order.coupon === 'SPRING10' && product.category !== 'electronics') unit *= 0.9
    const net = Math.round(unit * line.quantity) + (line.giftWrap ? 350 : 0)
    return {
      sku: line.sku,
      name: product.name,
      available: product.stock.ams + product.stock.fra >= line.quantity,
      netCents: net,
      taxCents: Math.round(net * rate),
    }
  })
  const netCents = lines.reduce((s, l) => s + l.netCents, 0)
  const taxCents = lines.reduce((s, l) => s + l.taxCents, 0)
  const risk = riskScore(order)
  const body = { orderId: order.orderId, currency: order.currency, netCents, taxCents, risk, lines }
  const quoteId = createHash('sha256').update(JSON.stringify(body)).digest('hex').slice(0, 16)
  return { quoteId, ...body, totalCents: netCents + taxCents }
}

function search(q, page) {
  const terms = q.toLowerCase().split(/\s+/).filter(Boolean)
  const hits = []
  for (const p of catalog) {
    const words = p.name.split(' ')
    let score = 0
    for (const t of terms) {
      for (const w of words) if (w.startsWith(t)) score += w === t ? 3 : 1
      if (p.tags.includes(t)) score += 2
      if (p.category === t) score += 1
    }
    if (score > 0) hits.push({ p, score })
  }
  hits.sort((a, b) => b.score - a.score || b.p.rating - a.p.rating || (a.p.sku < b.p.sku ? -1 : 1))
  const items = hits.slice(page * 40, page * 40 + 40).map(({ p, score }) => ({
    ...p,
    score,
    inStock: p.stock.ams + p.stock.fra > 0,
    price: `€${(p.priceCents / 100).toFixed(2)}`,
  }))
  return { q, page, total: hits.length, items, facets: facets(hits) }
}

function facets(hits) {
  const counts = {}
  for (const { p } of hits) counts[p.category] = (counts[p.category] ?? 0) + 1
  return Object.entries(counts)
    .map(([category, count]) => ({ category, count }))
    .sort((a, b) => b.count - a.count)
}

const orderSchema = {
  type: 'object',
  required: ['orderId', 'currency', 'customer', 'lines'],
  properties: {
    orderId: { type: 'string' },
    currency: { type: 'string', enum: ['EUR'] },
    coupon: { type: ['string', 'null'] },
    customer: {
      type: 'object',
      required: ['id', 'email', 'tier', 'address'],
      properties: {
        id: { type: 'string' },
        email: { type: 'string' },
        tier: { type: 'string', enum: ['basic', 'silver', 'gold'] },
        address: {
          type: 'object',
          required: ['line1', 'city', 'country', 'postcode'],
          properties: {
            line1: { type: 'string' },
            city: { type: 'string' },
            country: { type: 'string', minLength: 2, maxLength: 2 },
            postcode: { type: 'string' },
          },
        },
      },
    },
    lines: {
      type: 'array',
      maxItems: 200,
      items: {
        type: 'object',
        required: ['sku', 'quantity'],
        properties: {
          sku: { type: 'string' },
          quantity: { type: 'integer', minimum: 1 },
          giftWrap: { type: 'boolean' },
          note: { type: 'string' },
        },
      },
    },
  },
}

const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 })
app.addHook('onRequest', async (request) => setRoute(request))

app.post('/api/checkout/quote', { schema: { body: orderSchema } }, (req) =>
  withLabels({ route: '/api/checkout/quote' }, () => quote(req.body)),
)

app.get(
  '/api/catalog/search',
  {
    schema: {
      querystring: {
        type: 'object',
        properties: {
          q: { type: 'string', default: QUERIES[0] },
          page: { type: 'integer', minimum: 0, default: 0 },
        },
      },
    },
  },
  (req) => withLabels({ route: '/api/catalog/search' }, () => search(req.query.q, req.query.page)),
)

app.get('/health', () => ({ ok: true }))

await app.listen({ host: '127.0.0.1', port: 0 })
process.stdout.write(`${JSON.stringify({ port: app.server.address().port })}\n`)

if (process.env.BENCH_TOGGLE) {
  const toggle = await agentToggle(process.env.BENCH_TOGGLE)
  process.on('message', (message) => {
    const done = message.agent === 'on' ? toggle.on(message.options) : toggle.off()
    done.then(
      (stats) => process.send({ agent: message.agent, done: true, stats }),
      (error) => process.send({ agent: message.agent, error: String(error) }),
    )
  })
}

/** Start and stop Kiln's agent or @pyroscope/nodejs in this process, as their APIs allow. */
async function agentToggle(kind) {
  if (kind === 'kiln') {
    const agent = await import('@kiln/agent')
    return {
      on: async (options) => {
        if (!agent.start(options)) throw new Error('Kiln agent did not start')
      },
      // What the agent measured of itself, for the report.
      off: async () => {
        const stats = agent.getStats()
        await agent.stop(2000)
        return stats
      },
    }
  }
  const { default: Pyroscope } = await import('@pyroscope/nodejs')
  return {
    on: async (options) => {
      Pyroscope.init(options)
      Pyroscope.start()
    },
    off: () => Pyroscope.stop(),
  }
}

process.once('SIGTERM', () => {
  app.close().finally(() => process.exit(0))
})
