import { kilnTypeOf, pyroscopeProfileTypeId, type ProfileTypeName } from '@kiln/wire'
import { KilnError } from '../errors.js'
import { parseSelector, type LabelMatcher } from '../query/selector.js'

/*
 * Pyroscope's selectors name what Kiln keeps apart: the service (`service_name`) and the profile
 * type (`__profile_type__`, `__name__`, or the selector's metric name, as in
 * `process_cpu:cpu:nanoseconds:cpu:nanoseconds{service_name="api"}`) are labels there, the key
 * of every query here. A selector becomes targets, one per (service, type) it matches, each with
 * the matchers left for Kiln's labels.
 */

/** The labels Pyroscope gives every series, from its service and profile type. */
export const SYNTHETIC_LABELS = [
  'service_name',
  '__name__',
  '__profile_type__',
  '__type__',
  '__unit__',
  '__period_type__',
  '__period_unit__',
] as const
const SYNTHETIC = new Set<string>(SYNTHETIC_LABELS)

/** Whether a label is one of {@link SYNTHETIC_LABELS}, which no stored series carries. */
export function isSyntheticLabel(name: string): boolean {
  return SYNTHETIC.has(name)
}

/** Those labels' values for a service and type, by Kiln's advertised profile type id. */
export function syntheticLabels(
  service: string,
  type: ProfileTypeName,
): Record<(typeof SYNTHETIC_LABELS)[number], string> & Record<string, string> {
  const id = pyroscopeProfileTypeId(type)
  const [name, sampleType, sampleUnit, periodType, periodUnit] = id.split(':') as [
    string,
    string,
    string,
    string,
    string,
  ]
  return {
    service_name: service,
    __name__: name,
    __profile_type__: id,
    __type__: sampleType,
    __unit__: sampleUnit,
    __period_type__: periodType,
    __period_unit__: periodUnit,
  }
}

/** One (service, type) a selector matches, with the matchers on Kiln's own labels. */
export interface Target {
  service: string
  type: ProfileTypeName
  selector: LabelMatcher[]
}

/** A parsed Pyroscope selector: its profile type (from the metric name) and its matchers. */
export interface PyroscopeSelector {
  /** `undefined`: none named; `null`: one Kiln does not have (the selector matches nothing). */
  type: ProfileTypeName | null | undefined
  synthetic: LabelMatcher[]
  labels: LabelMatcher[]
}

/**
 * Read `[<profile type id>]{<matchers>}`. A metric name that is a profile type id Kiln does not
 * have (`goroutine:goroutine:count:goroutine:count`) matches nothing; one that is not an id at
 * all is an error.
 */
export function parsePyroscopeSelector(text: string): PyroscopeSelector {
  const brace = text.indexOf('{')
  const head = (brace < 0 ? text : text.slice(0, brace)).trim()
  const matchers = parseSelector(brace < 0 ? '' : text.slice(brace))
  if (brace < 0 && head !== '' && !head.includes(':')) {
    throw new KilnError('KILN_ERR_QUERY_INVALID', `selector ${JSON.stringify(text)}: expected '{'`)
  }
  return {
    type: head === '' ? undefined : profileTypeOf(head),
    synthetic: matchers.filter((m) => isSyntheticLabel(m.name)),
    labels: matchers.filter((m) => !isSyntheticLabel(m.name) && !m.name.startsWith('__')),
  }
}

/**
 * The Kiln type of a Pyroscope profile type id: `null` for a well-formed id Kiln does not have,
 * an error for text that is not one.
 */
export function profileTypeOf(id: string): ProfileTypeName | null {
  const parts = id.split(':')
  if ((parts.length !== 5 && parts.length !== 6) || parts.some((p) => p === '')) {
    throw new KilnError(
      'KILN_ERR_QUERY_INVALID',
      `profile type ${JSON.stringify(id.slice(0, 200))}: expected <name>:<sample type>:<sample unit>:<period type>:<period unit>`,
    )
  }
  return kilnTypeOf(id) ?? null
}

/**
 * Which of `values` a regular expression matches, whole (as in PromQL). The store evaluates it
 * (RE2, as for every selector of Kiln's: linear time, no catastrophic backtracking on a crafted
 * pattern; a bad pattern is the client's 400).
 */
export type RegexMatcher = (pattern: string, values: readonly string[]) => Promise<Set<string>>

/**
 * The (service, type) pairs of `available` a selector matches: by its type, and by its matchers
 * on Pyroscope's labels, which a profile type alias (`memory:inuse_space:bytes:inuse_space:bytes`)
 * matches as the id Kiln advertises for the type.
 */
export async function selectTargets(
  selector: PyroscopeSelector,
  available: readonly { service: string; types: readonly ProfileTypeName[] }[],
  matchRegex: RegexMatcher,
): Promise<Target[]> {
  if (selector.type === null) return []
  const pairs = available.flatMap(({ service, types }) =>
    types
      .filter((type) => selector.type === undefined || selector.type === type)
      .map((type) => ({ service, type, labels: syntheticLabels(service, type) })),
  )
  // Each regular expression once, over the values its label takes among the pairs.
  const regexResults = new Map<LabelMatcher, Set<string>>()
  for (const m of selector.synthetic) {
    if (m.op !== '=~' && m.op !== '!~') continue
    const values = [...new Set(pairs.map((p) => p.labels[m.name] ?? ''))]
    regexResults.set(m, await matchRegex(m.value, values))
  }
  const passes = (m: LabelMatcher, type: ProfileTypeName, value: string): boolean => {
    switch (m.op) {
      case '=':
        return m.name === '__profile_type__' && kilnTypeOf(m.value) !== undefined
          ? kilnTypeOf(m.value) === type
          : value === m.value
      case '!=':
        return value !== m.value
      case '=~':
        return regexResults.get(m)!.has(value)
      case '!~':
        return !regexResults.get(m)!.has(value)
    }
  }
  return pairs
    .filter((p) => selector.synthetic.every((m) => passes(m, p.type, p.labels[m.name] ?? '')))
    .map((p) => ({ service: p.service, type: p.type, selector: selector.labels }))
}
