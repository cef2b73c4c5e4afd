/**
 * OpenTelemetry spans on profile samples, without depending on `@opentelemetry/api`: the agent
 * reads the API's global registry (one per major version, shared by every copy of the API in
 * the process) and the span that a context holds, both by their well-known symbols.
 *
 * The time profiler keeps one context per sample, the one last published (see labels.ts). The
 * active OpenTelemetry span changes in two ways, and each republishes it:
 * - synchronously, when `context.with(ctx, fn)` runs `fn` (how instrumentations such as the HTTP
 *   one run a request's handler inside its server span): the registered context manager's
 *   `with` is wrapped;
 * - on each async continuation (a callback, a resolved await): the async hook of labels.ts reads
 *   the manager's active context.
 *
 * A sample carries the *local root* span of its span (the first span of the trace in this
 * process: a server span, a consumer span, a job's span): its ids, and its endpoint read when
 * the profile is serialized, since instrumentations set `http.route` late in a request.
 */

/** `Symbol.for('opentelemetry.js.api.1')`: where `@opentelemetry/api` 1.x keeps its globals. */
const API_KEY = Symbol.for('opentelemetry.js.api.1')
/** `createContextKey('OpenTelemetry Context Key SPAN')` in `@opentelemetry/api`. */
const SPAN_KEY = Symbol.for('OpenTelemetry Context Key SPAN')
/** Marks a context manager whose `with` is wrapped. */
const WRAPPED = Symbol('kiln.otel.wrapped')
/** Endpoints longer than this are cut (a route is short; a span name could be anything). */
const MAX_ENDPOINT_LENGTH = 200
/** Local roots remembered by trace id, for spans whose parent is not the active span. */
const MAX_ROOTS_BY_TRACE = 4096

interface OtelContext {
  getValue(key: symbol): unknown
}

interface ContextManager {
  active(): OtelContext
  with(
    context: OtelContext,
    fn: (...args: unknown[]) => unknown,
    thisArg?: unknown,
    ...args: unknown[]
  ): unknown
  [WRAPPED]?: (
    context: OtelContext,
    fn: (...args: unknown[]) => unknown,
    thisArg?: unknown,
    ...args: unknown[]
  ) => unknown
}

interface SpanContextLike {
  traceId: string
  spanId: string
  isRemote?: boolean
}

/** What is read of a span: the API's `Span`, plus the SDK's public fields when present. */
interface SpanLike {
  spanContext(): SpanContextLike
  /** SDK 2.x. */
  parentSpanContext?: SpanContextLike
  /** SDK 1.x. */
  parentSpanId?: string
  name?: unknown
  attributes?: Record<string, unknown>
}

/** The first span of a trace in this process, which samples of its work carry. */
export interface LocalRoot {
  readonly traceId: string
  readonly spanId: string
  readonly span: SpanLike
}

type Hooks = {
  /** `fn` of a wrapped `with` starts: its context's local root is active. */
  enter(root: LocalRoot | undefined): void
  /** A wrapped `with` returned: the context before it is active again. */
  exit(): void
  /** A context manager was wrapped: async continuations must now be followed. */
  installed(): void
}

let hooks: Hooks | undefined
let registry: Record<PropertyKey, unknown> | undefined
const wrapped = new Set<ContextManager>()
const roots = new WeakMap<SpanLike, LocalRoot>()
const rootsByTrace = new Map<string, WeakRef<LocalRoot>>()

function spanOf(context: OtelContext | undefined): SpanLike | undefined {
  const span = context?.getValue(SPAN_KEY) as SpanLike | undefined
  return typeof span?.spanContext === 'function' ? span : undefined
}

function parentOf(span: SpanLike): { spanId: string; remote: boolean } | undefined {
  const parent = span.parentSpanContext
  if (parent && typeof parent.spanId === 'string') {
    return { spanId: parent.spanId, remote: parent.isRemote === true }
  }
  if (typeof span.parentSpanId === 'string' && span.parentSpanId !== '') {
    return { spanId: span.parentSpanId, remote: false }
  }
  return undefined
}

/**
 * The local root of `span`: itself when it has no parent or a remote one; else its parent's,
 * when the parent is `active` (a child started in its parent's context, the common case) or a
 * local root of the same trace was seen; else itself (SDK 1.x does not say whether a parent is
 * remote: a span of an incoming request's trace is then its own root).
 */
function rootOf(span: SpanLike, active: SpanLike | undefined): LocalRoot {
  const known = roots.get(span)
  if (known !== undefined) return known
  const { traceId, spanId } = span.spanContext()
  const parent = parentOf(span)
  let root: LocalRoot | undefined
  if (parent !== undefined && !parent.remote) {
    if (active !== undefined && active !== span && active.spanContext().spanId === parent.spanId) {
      root = rootOf(active, undefined)
    } else {
      root = rootsByTrace.get(traceId)?.deref()
    }
  }
  if (root === undefined) {
    root = { traceId, spanId, span }
    rootsByTrace.delete(traceId)
    rootsByTrace.set(traceId, new WeakRef(root))
    if (rootsByTrace.size > MAX_ROOTS_BY_TRACE) {
      rootsByTrace.delete(rootsByTrace.keys().next().value!)
    }
  }
  roots.set(span, root)
  return root
}

function wrap(manager: ContextManager): void {
  if (manager[WRAPPED] !== undefined || typeof manager.with !== 'function') return
  const original = manager.with
  const patched = function (
    this: ContextManager,
    context: OtelContext,
    fn: (...args: unknown[]) => unknown,
    thisArg?: unknown,
    ...args: unknown[]
  ): unknown {
    const h = hooks
    if (h === undefined || typeof fn !== 'function') {
      return original.call(this, context, fn, thisArg, ...args)
    }
    let root: LocalRoot | undefined
    try {
      const span = spanOf(context)
      root = span === undefined ? undefined : rootOf(span, spanOf(this.active()))
    } catch {
      root = undefined // a span of an unexpected shape: the samples go without it
    }
    const run = function (this: unknown, ...runArgs: unknown[]): unknown {
      h.enter(root)
      return fn.apply(this, runArgs)
    }
    try {
      return original.call(this, context, run, thisArg, ...args)
    } finally {
      h.exit()
    }
  }
  manager.with = patched
  manager[WRAPPED] = original
  wrapped.add(manager)
  hooks?.installed()
}

/**
 * Follow the registry's `context` entry: the manager in it now, and any registered later
 * (`context.setGlobalContextManager`), are wrapped.
 */
function watch(api: Record<PropertyKey, unknown>): void {
  registry = api
  let manager = api.context as ContextManager | undefined
  if (manager !== undefined) wrap(manager)
  const descriptor = Object.getOwnPropertyDescriptor(api, 'context')
  if (descriptor?.get !== undefined || descriptor?.configurable === false) return
  Object.defineProperty(api, 'context', {
    configurable: true,
    enumerable: true,
    get: () => manager,
    set: (next: ContextManager | undefined) => {
      manager = next
      if (next !== undefined && hooks !== undefined) wrap(next)
    },
  })
}

/**
 * Start following OpenTelemetry's active span: now if the API has registered its globals, else
 * as soon as it does (the agent usually loads first, with `--import`).
 */
export function installOtel(next: Hooks): void {
  hooks = next
  const g = globalThis as Record<PropertyKey, unknown>
  const api = g[API_KEY]
  if (api !== null && typeof api === 'object') {
    watch(api as Record<PropertyKey, unknown>)
    return
  }
  if (Object.getOwnPropertyDescriptor(g, API_KEY) !== undefined) return
  Object.defineProperty(g, API_KEY, {
    configurable: true,
    get: () => undefined,
    set: (value: unknown) => {
      // The API creates its registry once: keep it as a plain property from then on.
      Object.defineProperty(g, API_KEY, { value, writable: true, configurable: true })
      if (value !== null && typeof value === 'object') watch(value as Record<PropertyKey, unknown>)
    },
  })
}

/** Stop following spans; wrapped managers get their own `with` back. */
export function uninstallOtel(): void {
  hooks = undefined
  for (const manager of wrapped) {
    const original = manager[WRAPPED]
    if (original !== undefined) manager.with = original
    delete manager[WRAPPED]
  }
  wrapped.clear()
}

/**
 * The local root of the active span, `undefined` without one. A manager registered again
 * after `unregisterGlobal` (which drops the registry's watched entry) is wrapped here.
 */
export function activeRoot(): LocalRoot | undefined {
  const manager = registry?.context as ContextManager | undefined
  if (manager === undefined || hooks === undefined) return undefined
  try {
    if (manager[WRAPPED] === undefined) watch(registry!)
    const span = spanOf(manager.active())
    return span === undefined ? undefined : rootOf(span, undefined)
  } catch {
    return undefined
  }
}

/**
 * The endpoint of a local root as it is now: `METHOD route` when the span has `http.route`
 * (HTTP server instrumentations set it once the framework has routed the request), else its
 * name (OpenTelemetry span names are low-cardinality by convention). `undefined`: neither.
 */
export function endpointOf(root: LocalRoot): string | undefined {
  try {
    const attributes = root.span.attributes
    const route = attributes?.['http.route']
    if (typeof route === 'string' && route !== '') {
      const method = attributes?.['http.request.method'] ?? attributes?.['http.method']
      const endpoint = typeof method === 'string' && method !== '' ? `${method} ${route}` : route
      return endpoint.slice(0, MAX_ENDPOINT_LENGTH)
    }
    const name = root.span.name
    return typeof name === 'string' && name !== '' ? name.slice(0, MAX_ENDPOINT_LENGTH) : undefined
  } catch {
    return undefined
  }
}
