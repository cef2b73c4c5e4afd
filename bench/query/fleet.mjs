// A synthetic fleet of Node services: deep, Node-like stacks grown from the real profiles in
// bench/ingest/corpus, picked per profile with a Zipf distribution, encoded as real pprof files
// with pprof-format (the encoder the agent uses). Deterministic: the same options give the same
// bytes, so the store and the raw files hold the same profiles.
import { readdirSync, readFileSync } from 'node:fs'
import { gzipSync, gunzipSync } from 'node:zlib'
import {
  Function as PprofFunction,
  Line,
  Location,
  Profile,
  Sample,
  StringTable,
  ValueType,
} from 'pprof-format'
import { prng } from '../prng.mjs'

/** A sampler of ranks 0..n-1 with P(rank r) proportional to 1 / (r + 1)^s. */
export function zipf(n, s, rand) {
  const cdf = new Float64Array(n)
  let total = 0
  for (let r = 0; r < n; r++) cdf[r] = total += 1 / Math.pow(r + 1, s)
  return () => {
    const x = rand() * total
    let lo = 0
    let hi = n - 1
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (cdf[mid] < x) lo = mid + 1
      else hi = mid
    }
    return lo
  }
}

/** The distinct stacks (root first, `{name, file, line}` frames) of the corpus' time profiles. */
function corpusStacks() {
  const dir = new URL('../ingest/corpus/', import.meta.url)
  const stacks = new Map()
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.wall.pb.gz'))) {
    const profile = Profile.decode(gunzipSync(readFileSync(new URL(file, dir))))
    const strings = profile.stringTable.strings
    const functions = new Map(profile.function.map((f) => [String(f.id), f]))
    const locations = new Map(profile.location.map((l) => [String(l.id), l]))
    for (const sample of profile.sample) {
      const frames = [...sample.locationId].reverse().map((id) => {
        const line = locations.get(String(id)).line[0]
        const fn = functions.get(String(line.functionId))
        return {
          name: strings[Number(fn.name)],
          file: strings[Number(fn.filename)],
          line: Number(line.line),
        }
      })
      stacks.set(frames.map((f) => `${f.name}@${f.file}:${f.line}`).join(';'), frames)
    }
  }
  return [...stacks.values()].sort((a, b) => a.length - b.length)
}

const MODULES = ['orders', 'payments', 'catalog', 'users', 'search', 'cart', 'shipping', 'auth']
const LAYERS = ['routes', 'controllers', 'services', 'repositories', 'serializers']
const VERBS = ['get', 'list', 'create', 'update', 'render', 'validate', 'encode', 'resolve']
const LIBRARIES = [
  ['node_modules/pg/lib/client.js', 'query', 312],
  ['node_modules/pg/lib/result.js', 'parseRow', 66],
  ['node_modules/ioredis/built/Redis.js', 'sendCommand', 388],
  ['node_modules/fast-json-stringify/index.js', 'serialize', 141],
  ['node_modules/ajv/dist/compile/index.js', 'validate', 87],
  ['node_modules/undici/lib/dispatcher/client.js', 'request', 211],
  ['node:internal/streams/readable', 'push', 248],
  ['node:zlib', 'processChunkSync', 372],
  ['node:crypto', 'digest', 142],
  ['node:buffer', 'toString', 825],
]

/**
 * An application's functions, layer by layer: each calls two to four functions of the next
 * layers, or itself (recursion); the last layer calls into libraries. Functions have one line
 * each, as in V8's profiles, so frames repeat across stacks the way they do in real ones.
 */
function callGraph(rand) {
  const layers = LAYERS.map((layer, l) =>
    MODULES.flatMap((module) =>
      VERBS.filter(() => rand() < 0.6).map((verb) => ({
        name: `${verb}${module[0].toUpperCase()}${module.slice(1)}${l === 0 ? 'Route' : ''}`,
        file: `/srv/app/src/${layer}/${module}.js`,
        line: 5 + Math.floor(rand() * 300),
        layer: l,
        calls: [],
      })),
    ),
  )
  for (const [l, layer] of layers.entries()) {
    for (const fn of layer) {
      const next = layers.slice(l + 1).flat()
      for (let c = 2 + Math.floor(rand() * 3); c > 0 && next.length > 0; c--)
        fn.calls.push(next[Math.floor(rand() * Math.min(next.length, 60))])
      if (rand() < 0.15) fn.calls.push(fn)
    }
  }
  return layers
}

/**
 * `size` distinct stacks, 10 to 80 frames deep: a real corpus stack (its runtime and framework
 * frames) cut at a random depth, continued by a walk down the application's call graph into a
 * library leaf: the shape of a Node service's CPU profile.
 */
export function stackPool(size, seed = 1) {
  const rand = prng(seed)
  const base = corpusStacks()
  const graph = callGraph(rand)
  const seen = new Set()
  const pool = []
  while (pool.length < size) {
    const root = base[Math.floor(rand() * base.length)]
    const frames = root.slice(0, Math.max(3, Math.floor(root.length * (0.5 + 0.5 * rand()))))
    let fn = graph[0][Math.floor(rand() * graph[0].length)]
    for (let depth = 0; fn && frames.length < 76; depth++) {
      frames.push({ name: fn.name, file: fn.file, line: fn.line })
      if (fn.calls.length === 0 || (depth >= 3 && rand() < 0.08)) break
      fn = fn.calls[Math.floor(rand() * fn.calls.length)]
    }
    const [file, name, line] = LIBRARIES[Math.floor(rand() * LIBRARIES.length)]
    frames.push({ name, file, line })
    const key = frames.map((f) => `${f.name}@${f.file}:${f.line}`).join(';')
    if (seen.has(key)) continue
    seen.add(key)
    pool.push(frames)
  }
  return pool
}

/**
 * `count` profile templates of `stacksPerProfile` distinct stacks each, drawn from the pool by a
 * Zipf law (a few hot paths, a long tail), with heavy-tailed values: `unitValue` times a sample
 * count. `hot` pool indexes get ten times the weight (a version's regression).
 */
export function profileTemplates({ pool, count, stacksPerProfile, unitValue, seed, hot = [] }) {
  const rand = prng(seed)
  const pick = zipf(pool.length, 1.1, rand)
  // Ranks map to pool indexes through a fixed shuffle, so popularity does not follow depth.
  const order = Array.from(pool.keys())
  const shuffle = prng(7)
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(shuffle() * (i + 1))
    ;[order[i], order[j]] = [order[j], order[i]]
  }
  const templates = []
  for (let k = 0; k < count; k++) {
    const stacks = new Map()
    for (const h of hot) stacks.set(h, 0)
    while (stacks.size < Math.min(stacksPerProfile, pool.length)) stacks.set(order[pick()], 0)
    for (const index of stacks.keys()) {
      const samples = 1 + Math.floor(Math.pow(rand(), 6) * 200) * (hot.includes(index) ? 10 : 1)
      stacks.set(index, samples * unitValue)
    }
    templates.push([...stacks].map(([stack, value]) => ({ stack, value })))
  }
  return templates
}

/** A template as a gzipped pprof with one sample type, values multiplied by `scale`. */
export function encodeTemplate(template, pool, { sampleType, scale, timeNanos, durationNanos }) {
  const strings = new StringTable()
  const functions = new Map()
  const locations = new Map()
  const locationOf = (f) => {
    const key = `${f.name}@${f.file}:${f.line}`
    let location = locations.get(key)
    if (location) return location
    const fnKey = `${f.name}@${f.file}`
    let fn = functions.get(fnKey)
    if (!fn) {
      fn = new PprofFunction({
        id: functions.size + 1,
        name: strings.dedup(f.name),
        systemName: strings.dedup(f.name),
        filename: strings.dedup(f.file),
      })
      functions.set(fnKey, fn)
    }
    location = new Location({
      id: locations.size + 1,
      line: [new Line({ functionId: fn.id, line: f.line })],
    })
    locations.set(key, location)
    return location
  }
  const sample = template.map(
    ({ stack, value }) =>
      new Sample({
        locationId: [...pool[stack]].reverse().map((f) => locationOf(f).id),
        value: [value * scale],
      }),
  )
  const profile = new Profile({
    sampleType: [
      new ValueType({ type: strings.dedup(sampleType[0]), unit: strings.dedup(sampleType[1]) }),
    ],
    sample,
    location: [...locations.values()],
    function: [...functions.values()],
    stringTable: strings,
    timeNanos,
    durationNanos,
  })
  return gzipSync(profile.encode())
}
