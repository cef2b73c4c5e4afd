import { AsyncLocalStorage, createHook, type AsyncHook } from 'node:async_hooks'
import { LABEL_NAME_PATTERN } from '@kiln/wire'

export type Labels = Readonly<Record<string, string>>

const EMPTY: Labels = Object.freeze({})
const LABEL_NAME_RE = new RegExp(LABEL_NAME_PATTERN)
const store = new AsyncLocalStorage<Labels>()
let hook: AsyncHook | undefined
let setContext: ((labels: Labels) => void) | undefined

/**
 * Tell the labels module where to publish the current labels (the time profiler's context),
 * or stop publishing with `undefined`.
 */
export function bindLabelSink(sink: ((labels: Labels) => void) | undefined): void {
  setContext = sink
  if (!sink) {
    hook?.disable()
    hook = undefined
  }
}

function publish(labels: Labels): void {
  try {
    setContext?.(labels)
  } catch {
    // the profiler is stopping: the labels have nowhere to go
  }
}

/**
 * Run `fn` with `labels` added to every sample taken while it, or anything it awaits, runs.
 * Labels follow async continuations through AsyncLocalStorage: the first call enables an async
 * hook that republishes the continuation's labels to the profiler before each callback (Node
 * 20 has no async context frame the profiler could read itself). Without a running agent it
 * just calls `fn`. Labels whose name the server would refuse (`LABEL_NAME_PATTERN`) are left
 * out, so one bad name never costs the profiles that carry it.
 */
export function withLabels<T>(labels: Record<string, string>, fn: () => T): T {
  if (!setContext) return fn()
  if (!hook) {
    hook = createHook({ before: () => publish(store.getStore() ?? EMPTY) })
    hook.enable()
  }
  const outer = store.getStore() ?? EMPTY
  const merged: Record<string, string> = Object.assign(Object.create(null) as object, outer)
  for (const [key, value] of Object.entries(labels)) {
    if (LABEL_NAME_RE.test(key)) merged[key] = String(value)
  }
  Object.freeze(merged)
  return store.run(merged, () => {
    publish(merged)
    try {
      return fn()
    } finally {
      publish(outer)
    }
  })
}

/** The labels a sample's context carries, for the profile serializer. */
export function labelsOfContext(context: object | undefined): Record<string, string> {
  return (context as Labels | undefined) ?? {}
}
