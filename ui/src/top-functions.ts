import type { TopFunction } from '@kiln/wire'
import type { FunctionRef } from './url-state'

/** Same function: same name and file (the query API's identity of a function). */
export function sameFunction(a: FunctionRef, b: FunctionRef): boolean {
  return a.name === b.name && (a.file ?? '') === (b.file ?? '')
}

export function functionRef(fn: { name: string; file?: string | undefined }): FunctionRef {
  return fn.file ? { name: fn.name, file: fn.file } : { name: fn.name }
}

/** `name (file:line)` for people. */
export function functionLocation(fn: {
  file?: string | undefined
  line?: number | undefined
}): string {
  if (!fn.file) return ''
  return fn.line ? `${fn.file}:${fn.line}` : fn.file
}

/** Rows matching the search (name or file, case-insensitive), heaviest by `sort` first. */
export function filterFunctions<T extends Pick<TopFunction, 'name' | 'file' | 'self' | 'total'>>(
  functions: readonly T[],
  search: string,
  sort: 'self' | 'total',
): T[] {
  const needle = search.trim().toLowerCase()
  const matching =
    needle === ''
      ? [...functions]
      : functions.filter(
          (fn) =>
            fn.name.toLowerCase().includes(needle) ||
            (fn.file?.toLowerCase().includes(needle) ?? false),
        )
  const other = sort === 'self' ? 'total' : 'self'
  return matching.sort(
    (a, b) => b[sort] - a[sort] || b[other] - a[other] || (a.name < b.name ? -1 : 1),
  )
}
