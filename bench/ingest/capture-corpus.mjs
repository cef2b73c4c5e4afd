// Captures the ingest benchmark's corpus: real profiles of real Node workloads, written by
// @datadog/pprof exactly as the agent sends them (gzipped pprof). Run once; the output is
// committed so every run measures the same bytes:
//   node bench/ingest/capture-corpus.mjs
import { writeFileSync } from 'node:fs'
import { gzipSync } from 'node:zlib'
import { heap, time } from '@datadog/pprof'
import Fastify from 'fastify'
import { runWorkload } from '../../test/fixtures/demo-workload.mjs'

const out = (name) => new URL(`./corpus/${name}`, import.meta.url)

async function capture(name, seconds, work, { lineNumbers = false } = {}) {
  heap.start(512 * 1024, 64)
  // Line numbers exclude contexts (and so CPU time): the large profile is wall-only, per line.
  const contexts = !lineNumbers
  time.start({
    intervalMicros: 10_000,
    durationMillis: seconds * 1000,
    collectCpuTime: contexts,
    withContexts: contexts,
    lineNumbers,
  })
  await work(seconds * 1000)
  const wall = time.stop(false)
  const heapProfile = heap.profile()
  heap.stop()
  const wallBytes = gzipSync(wall.encode())
  const heapBytes = gzipSync(heapProfile.encode())
  writeFileSync(out(`${name}.wall.pb.gz`), wallBytes)
  writeFileSync(out(`${name}.heap.pb.gz`), heapBytes)
  console.log(
    `${name}: wall ${wallBytes.length} B (${wall.sample.length} samples), heap ${heapBytes.length} B (${heapProfile.sample.length} samples)`,
  )
}

// An HTTP service under load: Fastify, JSON in and out, with routing and validation frames.
async function fastifyService(durationMs) {
  const app = Fastify()
  const catalog = Array.from({ length: 200 }, (_, i) => ({
    id: i,
    name: `item-${i}`,
    price: i * 1.5,
    tags: ['a', 'b', `t${i % 7}`],
  }))
  app.post(
    '/orders',
    { schema: { body: { type: 'object', properties: { items: { type: 'array' } } } } },
    async (req) => {
      const items = req.body.items.map((id) => catalog[id % catalog.length])
      const total = items.reduce((s, i) => s + i.price, 0)
      return { id: Math.random().toString(36).slice(2), items, total, at: new Date().toISOString() }
    },
  )
  app.get('/catalog', async () => catalog.filter((c) => c.id % 3 === 0))
  await app.listen({ port: 0 })
  const url = `http://127.0.0.1:${app.server.address().port}`
  const end = Date.now() + durationMs
  const worker = async () => {
    while (Date.now() < end) {
      await fetch(`${url}/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ items: [1, 2, 3, 42, 77] }),
      }).then((r) => r.arrayBuffer())
      await fetch(`${url}/catalog`).then((r) => r.arrayBuffer())
    }
  }
  await Promise.all(Array.from({ length: 8 }, worker))
  await app.close()
}

await capture('small-demo', 10, (ms) => runWorkload(ms))
await capture('medium-http', 10, fastifyService)
await capture('large-http-lines', 30, fastifyService, { lineNumbers: true })
