import type { DiffFunction, DiffResponse } from '@kiln/wire'

/**
 * `--fail-on` rules of `kiln diff`: when a comparison breaks one, the command exits 1, so a CI
 * job fails on a profile regression.
 *
 *   self>2pp              some function's self share grew by more than 2 points
 *   total>3pp             some function's total (inclusive) share grew by more than 3 points
 *   self>25%              some function's self time grew by more than 25 % (per collected
 *                         second: the comparison is scaled to the baseline's coverage)
 *   self[renderInvoice]>10%   the same, for that function alone (by name)
 *   total>5%              the whole profile grew by more than 5 % (per collected second)
 *
 * Relative (`%`) rules on functions skip those under 1 % of the baseline (`MIN_BASE_SHARE`):
 * a function going from 0.01 % to 0.05 % is noise, not a 400 % regression; points catch new ones.
 */
export interface FailRule {
  /** What grew: a function's self or total value, or (`total` without a function) everything. */
  measure: 'self' | 'total'
  /** A function's name; absent: any function (or, for `total>N%`, the whole profile). */
  fn?: string
  threshold: number
  unit: 'pp' | '%'
  /** As written, for messages. */
  text: string
}

export interface Breach {
  rule: string
  /** The function, or `(all)` for the whole profile. */
  function: string
  file?: string
  /** The change measured, in the rule's unit. */
  value: number
  message: string
}

/** Functions under this share of the baseline are left out of relative (`%`) rules. */
export const MIN_BASE_SHARE = 0.01

const RULE = /^(self|total)(?:\[([^\]]+)\])?\s*>\s*(\d+(?:\.\d+)?)\s*(pp|%)$/

export class FailRuleError extends Error {}

export function parseFailRule(text: string): FailRule {
  const m = RULE.exec(text.trim())
  if (m === null) {
    throw new FailRuleError(
      `--fail-on ${JSON.stringify(text)}: write self>2pp, total>3pp, self>25%, self[name]>10% or total>5%`,
    )
  }
  const rule: FailRule = {
    measure: m[1] as 'self' | 'total',
    threshold: Number(m[3]),
    unit: m[4] as 'pp' | '%',
    text: text.trim(),
  }
  if (m[2] !== undefined) rule.fn = m[2]
  if (rule.measure === 'total' && rule.fn === undefined && rule.unit === 'pp') {
    // The whole profile is always 100 % of itself: a share rule on it means nothing.
    throw new FailRuleError(
      `--fail-on ${JSON.stringify(text)}: the whole profile grows in %, not pp`,
    )
  }
  return rule
}

/** Whether a rule needs the functions ranked by absolute change (its unit is `%`). */
export const needsAbsolute = (rules: readonly FailRule[]) =>
  rules.some((r) => r.unit === '%' && !(r.measure === 'total' && r.fn === undefined))

const pct = (x: number) => `${(x * 100).toFixed(1)}%`
const pp = (x: number) => `${(x * 100).toFixed(2)} pp`

/**
 * The rules a comparison breaks. `byShare` ranks functions by change of share (the default
 * diff), `byAbsolute` by change of value (`rankBy=absolute`); both are lists of every function
 * that grew, as the server ranks them (ask for a large `limit`).
 */
export function evaluateRules(
  rules: readonly FailRule[],
  byShare: DiffResponse,
  byAbsolute: DiffResponse | undefined,
): Breach[] {
  const breaches: Breach[] = []
  const base = byShare.baseline.total
  const comp = byShare.comparison.total
  const scale = byShare.comparisonScale
  for (const rule of rules) {
    if (rule.measure === 'total' && rule.fn === undefined) {
      if (base <= 0) continue
      const growth = (comp * scale) / base - 1
      if (growth * 100 > rule.threshold) {
        breaches.push({
          rule: rule.text,
          function: '(all)',
          value: growth * 100,
          message: `the whole profile grew ${pct(growth)} per collected second (limit ${rule.threshold}%)`,
        })
      }
      continue
    }
    const pick = (f: DiffFunction) => rule.fn === undefined || f.name === rule.fn
    if (rule.unit === 'pp') {
      const ranked = byShare.changes[rule.measure].grew
      for (const f of ranked.filter(pick)) {
        const change = rule.measure === 'self' ? f.selfShare : f.totalShare
        if (change * 100 <= rule.threshold) continue
        breaches.push({
          rule: rule.text,
          function: f.name,
          ...(f.file !== undefined ? { file: f.file } : {}),
          value: change * 100,
          message: `${f.name} ${rule.measure} share grew ${pp(change)} (limit ${rule.threshold} pp)`,
        })
      }
      continue
    }
    const ranked = (byAbsolute ?? byShare).changes[rule.measure].grew
    for (const f of ranked.filter(pick)) {
      const [before, after] =
        rule.measure === 'self' ? [f.baseSelf, f.compSelf] : [f.baseTotal, f.compTotal]
      if (base <= 0 || before / base < MIN_BASE_SHARE) continue
      const growth = (after * scale) / before - 1
      if (growth * 100 <= rule.threshold) continue
      breaches.push({
        rule: rule.text,
        function: f.name,
        ...(f.file !== undefined ? { file: f.file } : {}),
        value: growth * 100,
        message: `${f.name} ${rule.measure} grew ${pct(growth)} per collected second (limit ${rule.threshold}%)`,
      })
    }
  }
  return breaches
}
