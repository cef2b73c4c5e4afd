/** A least-squares line through points, with its coefficient of determination. */
export interface LinearFit {
  /** Change of y per unit of x. */
  slope: number
  intercept: number
  /** R²: the share of y's variance the line explains; 0 when y does not vary. */
  r2: number
}

/** Ordinary least squares of `ys` on `xs` (same length, at least two distinct xs). */
export function linearFit(xs: readonly number[], ys: readonly number[]): LinearFit {
  const n = xs.length
  if (n !== ys.length) throw new Error(`linearFit: ${n} xs and ${ys.length} ys`)
  if (n < 2) return { slope: 0, intercept: ys[0] ?? 0, r2: 0 }
  // Centering first keeps the sums small: x are Unix ms, whose squares lose precision.
  const mx = xs.reduce((a, x) => a + x, 0) / n
  const my = ys.reduce((a, y) => a + y, 0) / n
  let sxx = 0
  let sxy = 0
  let syy = 0
  for (let i = 0; i < n; i++) {
    const dx = xs[i]! - mx
    const dy = ys[i]! - my
    sxx += dx * dx
    sxy += dx * dy
    syy += dy * dy
  }
  if (sxx === 0) return { slope: 0, intercept: my, r2: 0 }
  const slope = sxy / sxx
  const r2 = syy === 0 ? 0 : (sxy * sxy) / (sxx * syy)
  return { slope, intercept: my - slope * mx, r2 }
}
