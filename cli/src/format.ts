/** Output of the `kiln` commands: values in their unit, and plain aligned tables. */

export type Unit = 'nanoseconds' | 'bytes' | 'count'

/** A value in its unit, to three significant digits: `1.23 s`, `456 ms`, `12.0 MiB`, `3.40k`. */
export function formatValue(value: number, unit: Unit): string {
  const abs = Math.abs(value)
  const sig = (x: number) =>
    Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2)
  if (unit === 'nanoseconds') {
    if (abs >= 1e9) return `${sig(value / 1e9)} s`
    if (abs >= 1e6) return `${sig(value / 1e6)} ms`
    if (abs >= 1e3) return `${sig(value / 1e3)} µs`
    return `${Math.round(value)} ns`
  }
  if (unit === 'bytes') {
    if (abs >= 2 ** 30) return `${sig(value / 2 ** 30)} GiB`
    if (abs >= 2 ** 20) return `${sig(value / 2 ** 20)} MiB`
    if (abs >= 2 ** 10) return `${sig(value / 2 ** 10)} KiB`
    return `${Math.round(value)} B`
  }
  if (abs >= 1e6) return `${sig(value / 1e6)}M`
  if (abs >= 1e3) return `${sig(value / 1e3)}k`
  return String(Math.round(value))
}

export const percent = (part: number, whole: number): string =>
  whole > 0 ? `${((part / whole) * 100).toFixed(1)}%` : '–'

/** `+1.25 pp` / `−0.40 pp` from a fraction (0.0125). */
export function points(change: number): string {
  const value = (Math.abs(change) * 100).toFixed(2)
  return `${change >= 0 ? '+' : '−'}${value} pp`
}

/**
 * Rows as columns padded to their widest cell; columns listed in `right` are right-aligned
 * (numbers). The last column is never padded.
 */
export function table(
  header: string[],
  rows: string[][],
  right: ReadonlySet<number> = new Set(),
): string {
  const all = [header, ...rows]
  const widths = header.map((_, c) => Math.max(...all.map((row) => (row[c] ?? '').length)))
  return all
    .map((row) =>
      row
        .map((cell, c) => {
          if (c === row.length - 1 && !right.has(c)) return cell
          return right.has(c) ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)
        })
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
}
