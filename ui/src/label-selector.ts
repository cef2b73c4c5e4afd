/*
 * Building label selectors (`{env="prod", pod=~"api-.*"}`) from the filter's pickers. The server
 * parses and validates them (and answers 400 KILN_ERR_QUERY_INVALID with the reason), so this
 * only writes well-formed matchers and joins them to what the reader typed.
 */

export const MATCH_OPERATORS = ['=', '!=', '=~', '!~'] as const
export type MatchOperator = (typeof MATCH_OPERATORS)[number]

export interface Matcher {
  name: string
  op: MatchOperator
  value: string
}

/**
 * Label names, by the one rule server and agent share (letters, digits, `_`, `.`, not starting
 * with a digit or `.`), so `http.route` and `service.version` can be filtered on.
 */
export { isLabelName } from '@kiln/wire'

/** `name="value"`, the value quoted with Go/JSON escapes as the server reads them. */
export function formatMatcher(matcher: Matcher): string {
  return `${matcher.name}${matcher.op}${JSON.stringify(matcher.value)}`
}

/** The matchers inside a selector's braces, as typed (`''` for none). */
function selectorBody(selector: string): string {
  const trimmed = selector.trim()
  const inner = trimmed.startsWith('{') && trimmed.endsWith('}') ? trimmed.slice(1, -1) : trimmed
  return inner.trim().replace(/,\s*$/, '')
}

/** `selector` with `matcher` added: `{env="prod"}` + `pod=~"api-.*"` -> `{env="prod", pod=~"api-.*"}`. */
export function addMatcher(selector: string, matcher: Matcher): string {
  const body = selectorBody(selector)
  const added = formatMatcher(matcher)
  return `{${body === '' ? added : `${body}, ${added}`}}`
}

/** A selector as the reader typed it, braces added if left out, `''` when it selects everything. */
export function normalizeSelector(selector: string): string {
  const body = selectorBody(selector)
  return body === '' ? '' : `{${body}}`
}

/**
 * Both selectors at once: `{pod="b"}` and `{service_version="2"}` -> `{pod="b", service_version="2"}`.
 * A filter the reader set is carried this way into presets and links that have a selector of
 * their own (a version, an alert's pod), so it is never dropped on the way.
 */
export function combineSelectors(a: string, b: string): string {
  const bodies = [selectorBody(a), selectorBody(b)].filter((body) => body !== '')
  if (bodies.length === 2 && bodies[0] === bodies[1]) return `{${bodies[0]}}`
  return bodies.length === 0 ? '' : `{${bodies.join(', ')}}`
}

/**
 * The matchers of a selector as written, split at the commas between them (not at commas
 * inside quoted values: `{route="/a,b", env="prod"}` has two).
 */
export function selectorTerms(selector: string): string[] {
  const body = selectorBody(selector)
  const terms: string[] = []
  let start = 0
  let quote: string | null = null
  for (let i = 0; i < body.length; i++) {
    const c = body[i]
    if (quote !== null) {
      // Backquoted values are raw; in the others a backslash escapes the next character.
      if (c === '\\' && quote !== '`') i++
      else if (c === quote) quote = null
    } else if (c === '"' || c === "'" || c === '`') {
      quote = c
    } else if (c === ',') {
      terms.push(body.slice(start, i).trim())
      start = i + 1
    }
  }
  terms.push(body.slice(start).trim())
  return terms.filter((term) => term !== '')
}

/** `name="..."` (`=` only, not `=~`), with or without spaces around the `=`. */
function isEqualityOf(term: string, name: string): boolean {
  return term.startsWith(name) && /^\s*=(?!~)/.test(term.slice(name.length))
}

/**
 * The value of the selector's `name="value"` matcher, `null` when it has none (or only one this
 * page cannot read, such as a Go escape JSON does not have).
 */
export function equalityValue(selector: string, name: string): string | null {
  for (const term of selectorTerms(selector)) {
    if (!isEqualityOf(term, name)) continue
    const quoted = term.slice(term.indexOf('=') + 1).trim()
    try {
      const value: unknown = JSON.parse(quoted)
      if (typeof value === 'string') return value
    } catch {
      // Single- or backquoted, or a Go escape: written by hand, left as it is.
    }
  }
  return null
}

/**
 * `selector` with its `name="..."` matchers replaced by `name="value"`, or dropped when `value`
 * is `null`; the other matchers are kept as written. `''` when nothing is left.
 */
export function setEquality(selector: string, name: string, value: string | null): string {
  const kept = selectorTerms(selector).filter((term) => !isEqualityOf(term, name))
  if (value !== null) kept.push(formatMatcher({ name, op: '=', value }))
  return kept.length === 0 ? '' : `{${kept.join(', ')}}`
}
