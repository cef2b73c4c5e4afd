import type { WindowStack } from './stack-query.js'

/** A function's values over stacks, one per window. */
export interface FunctionValues {
  name: string
  file: string
  /** The smallest non-zero line seen for the function, 0 when none. */
  line: number
  /** Samples where the function is the leaf. */
  self: number[]
  /** Samples of every stack the function is in, counted once per stack even when it recurses. */
  total: number[]
}

/**
 * Per-function self and total over stacks with `width` values each. A function is its name and
 * file, as in the flame graph. Lines differ per frame in Go profiles (call sites) and are the
 * function's first line in Node's; the smallest one seen stands for the function.
 */
export function functionTable(stacks: readonly WindowStack[], width: number): FunctionValues[] {
  const table = new Map<string, FunctionValues>()
  const entry = (name: string, file: string): FunctionValues => {
    const key = `${name}\u0000${file}`
    let fn = table.get(key)
    if (!fn) {
      fn = {
        name,
        file,
        line: 0,
        self: new Array<number>(width).fill(0),
        total: new Array<number>(width).fill(0),
      }
      table.set(key, fn)
    }
    return fn
  }
  for (const stack of stacks) {
    const seen = new Set<FunctionValues>()
    stack.functions.forEach((name, i) => {
      const fn = entry(name, stack.files[i] ?? '')
      const line = stack.lines[i] ?? 0
      if (line > 0 && (fn.line === 0 || line < fn.line)) fn.line = line
      if (seen.has(fn)) return
      seen.add(fn)
      for (let k = 0; k < width; k++) fn.total[k]! += stack.values[k] ?? 0
    })
    const leaf = stack.functions.length - 1
    if (leaf >= 0) {
      const fn = entry(stack.functions[leaf]!, stack.files[leaf] ?? '')
      for (let k = 0; k < width; k++) fn.self[k]! += stack.values[k] ?? 0
    }
  }
  return [...table.values()]
}

/** Order by name, then file: the tie-break of every ranking, so answers are stable. */
export function compareFunctions(
  a: { name: string; file: string },
  b: { name: string; file: string },
): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : a.file < b.file ? -1 : a.file > b.file ? 1 : 0
}
