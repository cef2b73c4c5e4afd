import { AsyncLocalStorage, createHook, type AsyncHook } from 'node:async_hooks'
import { ENDPOINT_LABEL, SPAN_ID_LABEL, TRACE_ID_LABEL, isLabelName } from '@kiln/wire'
import { activeRoot, endpointOf, installOtel, uninstallOtel, type LocalRoot } from './otel.js'

export type Labels = Readonly<Record<string, string>>

/**
 * What the time profiler keeps with each sample: the labels of `withLabels` and, with
 * OpenTelemetry in the process, the local root span of the active span (otel.ts). One object
 * per (labels, root) pair, so republishing the same state allocates nothing.
 */
export interface SampleContext {
  readonly labels: Labels
  readonly root: LocalRoot | undefined
}

const EMPTY: Labels = Object.freeze({})
const store = new AsyncLocalStorage<Labels>()
let hook: AsyncHook | undefined
let setContext: ((context: SampleContext) => void) | undefined

const withoutRoot = new WeakMap<Labels, SampleContext>()
const withRoot = new WeakMap<LocalRoot, WeakMap<Labels, SampleContext>>()

function contextFor(labels: Labels, root: LocalRoot | undefined): SampleContext {
  let cache = withoutRoot
  if (root !== undefined) {
    let own = withRoot.get(root)
    if (own === undefined) withRoot.set(root, (own = new WeakMap()))
    cache = own
  }
  let context = cache.get(labels)
  if (context === undefined) {
    context = Object.freeze({ labels, root })
    cache.set(labels, context)
  }
  return context
}

function currentLabels(): Labels {
  return store.getStore() ?? EMPTY
}

/** What the profiler holds now: publishing it again would change nothing (a native call saved). */
let lastPublished: SampleContext | undefined

function publish(context: SampleContext): void {
  if (context === lastPublished) return
  lastPublished = context
  try {
    setContext?.(context)
  } catch {
    // the profiler is stopping: the context has nowhere to go
    lastPublished = undefined
  }
}

/**
 * Publish the current context to a profiler that has just started (it holds none yet), and
 * forget what the previous one held.
 */
export function republishContext(): void {
  lastPublished = undefined
  if (setContext) publish(contextFor(currentLabels(), activeRoot()))
}

/** Republish the current continuation's labels and span before each of its callbacks. */
function followContinuations(): void {
  if (hook !== undefined) return
  hook = createHook({ before: () => publish(contextFor(currentLabels(), activeRoot())) })
  hook.enable()
}

export interface LabelSinkOptions {
  /** Follow OpenTelemetry's active span (see otel.ts); default true. */
  traces?: boolean
}

/**
 * Tell the labels module where to publish the current sample context (the time profiler's
 * context), or stop publishing with `undefined`.
 */
export function bindLabelSink(
  sink: ((context: SampleContext) => void) | undefined,
  options: LabelSinkOptions = {},
): void {
  setContext = sink
  lastPublished = undefined
  if (sink) {
    if (options.traces !== false) {
      installOtel({
        enter: (root) => publish(contextFor(currentLabels(), root)),
        exit: () => publish(contextFor(currentLabels(), activeRoot())),
        installed: followContinuations,
      })
    }
  } else {
    uninstallOtel()
    hook?.disable()
    hook = undefined
  }
}

/**
 * Run `fn` with `labels` added to every sample taken while it, or anything it awaits, runs.
 * Labels follow async continuations through AsyncLocalStorage: the first call enables an async
 * hook that republishes the continuation's labels to the profiler before each callback (Node
 * 20 has no async context frame the profiler could read itself). Without a running agent it
 * just calls `fn`. Labels whose name the server would refuse (`isLabelName`) are left out, so
 * one bad name never costs the profiles that carry it.
 */
export function withLabels<T>(labels: Record<string, string>, fn: () => T): T {
  if (!setContext) return fn()
  followContinuations()
  const outer = currentLabels()
  const merged: Record<string, string> = Object.assign(Object.create(null) as object, outer)
  for (const [key, value] of Object.entries(labels)) {
    if (isLabelName(key)) merged[key] = String(value)
  }
  Object.freeze(merged)
  return store.run(merged, () => {
    publish(contextFor(merged, activeRoot()))
    try {
      return fn()
    } finally {
      publish(contextFor(outer, activeRoot()))
    }
  })
}

/**
 * The labels of samples' contexts, for the profile serializer: the `withLabels` labels, and for
 * a sample taken in a span, its local root's trace and span ids and its endpoint as they are
 * now (one serializer per profile: endpoints are read once per root per profile).
 */
export function contextLabeler(): (context: unknown) => Record<string, string> {
  const done = new Map<SampleContext, Record<string, string>>()
  return (context) => {
    const sample = context as SampleContext | undefined
    if (sample === undefined || sample === null || typeof sample !== 'object') return {}
    if (sample.root === undefined) return (sample.labels ?? {}) as Record<string, string>
    let labels = done.get(sample)
    if (labels === undefined) {
      const root = sample.root
      labels = { ...sample.labels, [TRACE_ID_LABEL]: root.traceId, [SPAN_ID_LABEL]: root.spanId }
      const endpoint = endpointOf(root)
      if (endpoint !== undefined) labels[ENDPOINT_LABEL] = endpoint
      done.set(sample, labels)
    }
    return labels
  }
}
