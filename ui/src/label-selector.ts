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
