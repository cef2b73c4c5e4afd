// Statistics of the agent overhead benchmark, shared by run.mjs and pool.mjs. Ratios are taken
// within a round (variant / none of the same round), then the median over rounds: a busy
// minute on a shared machine moves both sides of a ratio.

export function quantile(sorted, q) {
  const at = (sorted.length - 1) * q
  const lo = Math.floor(at)
  const hi = Math.ceil(at)
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo)
}

export function median(xs) {
  return quantile(
    [...xs].sort((a, b) => a - b),
    0.5,
  )
}

/** Two-sided 95 % quantiles of Student's t for 1..30 degrees of freedom (then ~normal). */
const T95 = [
  12.71, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145,
  2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048,
  2.045, 2.042,
]

/**
 * A distribution-free confidence interval for the median of n values: the k-th smallest and
 * k-th largest, k the largest rank whose binomial tail stays within 2.5 % (n = 9: the 2nd and
 * 8th of 9, 96.1 % coverage). One wild round moves it by one rank, not the whole interval as it
 * does a mean's.
 */
function medianInterval(sorted) {
  const n = sorted.length
  let k = 0
  let tail = 0 // P(Binomial(n, 1/2) <= k - 1)
  let term = 0.5 ** n // P(Binomial(n, 1/2) = k)
  while (k < n / 2 && tail + term <= 0.025) {
    tail += term
    term = (term * (n - k)) / (k + 1)
    k++
  }
  if (k === 0) return { lo: Number.NaN, hi: Number.NaN, coverage: Number.NaN }
  return { lo: sorted[k - 1], hi: sorted[n - k], coverage: 1 - 2 * tail }
}

/**
 * Median, quartiles and extremes of a sample with a distribution-free confidence interval of
 * the median, and its mean with the half-width of a 95 % confidence interval (Student's t: the
 * rounds are few).
 */
export function spread(xs) {
  if (xs.length === 0) return { n: 0 }
  const s = [...xs].sort((a, b) => a - b)
  const mean = s.reduce((a, b) => a + b, 0) / s.length
  const variance = s.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, s.length - 1)
  const t = T95[s.length - 2] ?? 1.96
  return {
    n: s.length,
    mean,
    ci95: s.length > 1 ? (t * Math.sqrt(variance)) / Math.sqrt(s.length) : Number.NaN,
    median: quantile(s, 0.5),
    medianCi: medianInterval(s),
    q1: quantile(s, 0.25),
    q3: quantile(s, 0.75),
    min: s[0],
    max: s[s.length - 1],
  }
}

export const METRICS = {
  rps: (p) => p.rps,
  p50: (p) => p.latencyMs.p50,
  p99: (p) => p.latencyMs.p99,
  p999: (p) => p.latencyMs.p999,
  cpuPerReq: (p) => p.cpuMsPerRequest,
  mainCpuPerReq: (p) => p.mainCpuMsPerRequest ?? Number.NaN,
  rssMiB: (p) => p.rssBytes / 2 ** 20,
  hwmMiB: (p) => p.hwmBytes / 2 ** 20,
  waitPct: (p) => p.runQueueWaitPercent,
  othersPct: (p) => p.foreignCpuPercent,
}
const RATIOS = ['rps', 'p50', 'p99', 'p999', 'cpuPerReq', 'mainCpuPerReq']
const DELTAS = ['rssMiB', 'hwmMiB']

/**
 * A phase is quiet when other processes used at most `noisyPercent` of CPU 1 while it ran.
 * (The service's own run-queue wait is recorded too, but its own GC and profiler threads
 * share the core and keep it at a few percent even on an idle machine.)
 */
export const isQuiet = (phase, noisyPercent) => phase.foreignCpuPercent <= noisyPercent

/** Slices grouped by round (`slice.round`, any key), each round a record variant -> slice. */
function groupRounds(slices) {
  const byRound = new Map()
  for (const slice of slices) {
    if (!byRound.has(slice.round)) byRound.set(slice.round, {})
    byRound.get(slice.round)[slice.variant] = slice
  }
  return [...byRound.values()]
}

export function summarize(slices, { variants, noisyPercent }, phaseNames) {
  const rounds = groupRounds(slices)
  const summary = { rounds: rounds.length }
  for (const phase of phaseNames) {
    const s = (summary[phase] = { absolute: {}, ratio: {}, delta: {}, quiet: {} })
    for (const variant of variants) {
      const own = rounds.filter((r) => r[variant]).map((r) => r[variant].phases[phase])
      s.absolute[variant] = Object.fromEntries(
        Object.entries(METRICS).map(([k, f]) => [k, spread(own.map(f))]),
      )
      if (variant === 'none') continue
      const pairs = rounds.filter((r) => r.none && r[variant])
      const side = (r, v) => r[v].phases[phase]
      const over = (list, f) => spread(list.map((r) => f(side(r, variant), side(r, 'none'))))
      s.ratio[variant] = Object.fromEntries(
        RATIOS.map((k) => [k, over(pairs, (a, b) => METRICS[k](a) / METRICS[k](b))]),
      )
      s.delta[variant] = Object.fromEntries(
        DELTAS.map((k) => [k, over(pairs, (a, b) => METRICS[k](a) - METRICS[k](b))]),
      )
      // The same ratios over the rounds where neither side shared CPU 1 with other processes
      // (more than noisyPercent): other people's jobs on a shared machine come in bursts.
      const quiet = (r) =>
        isQuiet(side(r, variant), noisyPercent) && isQuiet(side(r, 'none'), noisyPercent)
      s.quiet[variant] = Object.fromEntries(
        RATIOS.map((k) => [k, over(pairs.filter(quiet), (a, b) => METRICS[k](a) / METRICS[k](b))]),
      )
    }
  }
  return summary
}

export const fmt = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '-')
export const signed = (x, d = 1) =>
  Number.isFinite(x) ? `${x >= 0 ? '+' : ''}${x.toFixed(d)}` : '-'
const pct = (r) =>
  r.n
    ? `${signed((r.median - 1) * 100, 2)}% [${signed((r.q1 - 1) * 100)}, ${signed((r.q3 - 1) * 100)}]`
    : '-'

export function printSummary(summary, { rate, connections, noisyPercent }, phaseNames) {
  console.log(`\n######## ${summary.rounds} round(s); medians [quartiles] over rounds`)
  for (const phase of phaseNames) {
    const s = summary[phase]
    const how =
      phase === 'paced' ? `open loop at ${rate} req/s` : `${connections} connections, closed loop`
    console.log(`\n== ${phase} (${how})`)
    console.log(
      'variant      req/s              p50 ms  p99 ms            p99.9 ms  CPU ms/req  RSS MiB  others %',
    )
    for (const [v, a] of Object.entries(s.absolute)) {
      if (!a.rps.n) continue
      console.log(
        [
          v.padEnd(12),
          `${fmt(a.rps.median).padStart(6)} [${fmt(a.rps.q1, 0)},${fmt(a.rps.q3, 0)}]`.padEnd(18),
          fmt(a.p50.median, 2).padStart(6),
          `${fmt(a.p99.median, 2).padStart(6)} [${fmt(a.p99.q1, 1)},${fmt(a.p99.q3, 1)}]`.padEnd(
            17,
          ),
          fmt(a.p999.median, 2).padStart(8),
          fmt(a.cpuPerReq.median, 3).padStart(10),
          fmt(a.rssMiB.median).padStart(8),
          fmt(a.othersPct.median, 1).padStart(9),
        ].join(' '),
      )
    }
    console.log('ratio to none in the same round:')
    for (const [v, r] of Object.entries(s.ratio)) {
      if (!r.rps.n) continue
      const d = s.delta[v]
      console.log(
        `  ${v.padEnd(11)} throughput ${pct(r.rps)} | p99 ${pct(r.p99)} | p99.9 ${pct(r.p999)} | CPU/req ${pct(r.cpuPerReq)} | RSS ${signed(d.rssMiB.median)} MiB [${signed(d.rssMiB.q1)}, ${signed(d.rssMiB.q3)}]`,
      )
    }
    console.log(`the same over quiet rounds only (others used <= ${noisyPercent} % of CPU 1):`)
    for (const [v, r] of Object.entries(s.quiet)) {
      console.log(
        `  ${v.padEnd(11)} n=${r.rps.n} throughput ${pct(r.rps)} | p99 ${pct(r.p99)} | p99.9 ${pct(r.p999)} | CPU/req ${pct(r.cpuPerReq)}`,
      )
    }
  }
}
