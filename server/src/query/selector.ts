import { isLabelName, isLabelNameChar, isLabelNameStartChar } from '@kiln/wire'
import { KilnError } from '../errors.js'

export type MatchOp = '=' | '!=' | '=~' | '!~'

/** One `name op "value"` term of a selector; a selector is the conjunction of its terms. */
export interface LabelMatcher {
  name: string
  op: MatchOp
  value: string
}

/** More terms than a series can have labels (KILN_MAX_LABELS' default) is a mistake. */
export const MAX_MATCHERS = 64

const SIMPLE_ESCAPES: Record<string, string> = {
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
  '\\': '\\',
  '"': '"',
  "'": "'",
  '/': '/',
}

/**
 * Parse a label selector in Prometheus/Pyroscope syntax: `{env="prod", pod=~"api-.*",
 * region!="eu", zone!~"a|b"}`. Values are double- or single-quoted strings with Go/JSON escapes,
 * or back-quoted raw strings; a trailing comma is allowed. Empty input (or `{}`) selects
 * everything and parses to `[]`. Label names follow `@kiln/wire`'s one rule (`isLabelName`:
 * letters, digits, `_`, `.`, not starting with a digit or `.`), as at ingest, or are
 * double-quoted strings (`{"service.name"="x"}`, as Prometheus 3 and Grafana write them).
 * Regular expressions are not compiled here: they are RE2 (ClickHouse's `match()`), whose syntax
 * JavaScript's RegExp does not share, so a bad one is reported when the store compiles it.
 */
export function parseSelector(input: string | undefined): LabelMatcher[] {
  const src = input ?? ''
  let pos = 0
  const fail = (detail: string): never => {
    throw new KilnError(
      'KILN_ERR_QUERY_INVALID',
      `selector ${JSON.stringify(src.slice(0, 200))}: ${detail} at offset ${pos}`,
    )
  }
  const skipSpace = (): void => {
    while (pos < src.length && /\s/.test(src[pos]!)) pos++
  }

  skipSpace()
  if (pos === src.length) return []
  if (src[pos] !== '{') fail("expected '{'")
  pos++
  const matchers: LabelMatcher[] = []
  skipSpace()
  while (src[pos] !== '}') {
    if (pos >= src.length) fail("expected '}'")
    const name = readName()
    skipSpace()
    const op = readOp()
    skipSpace()
    const value = readString()
    matchers.push({ name, op, value })
    if (matchers.length > MAX_MATCHERS) fail(`more than ${MAX_MATCHERS} matchers`)
    skipSpace()
    if (src[pos] === ',') {
      pos++
      skipSpace()
    } else if (src[pos] !== '}') {
      fail("expected ',' or '}'")
    }
  }
  pos++
  skipSpace()
  if (pos !== src.length) fail('unexpected text after the selector')
  return matchers

  function readName(): string {
    // Prometheus 3 and Pyroscope quote names outside the legacy grammar: `{"service.name"="x"}`.
    if (src[pos] === '"') return readString()
    const start = pos
    if (pos >= src.length || !isLabelNameStartChar(src[pos]!)) fail('expected a label name')
    pos++
    while (pos < src.length && isLabelNameChar(src[pos]!)) pos++
    return src.slice(start, pos)
  }

  function readOp(): MatchOp {
    const two = src.slice(pos, pos + 2)
    if (two === '=~' || two === '!=' || two === '!~') {
      pos += 2
      return two
    }
    if (src[pos] === '=') {
      pos++
      return '='
    }
    return fail("expected '=', '!=', '=~' or '!~'")
  }

  function readString(): string {
    const quote = src[pos]
    if (quote !== '"' && quote !== "'" && quote !== '`') return fail('expected a quoted value')
    pos++
    let out = ''
    for (;;) {
      if (pos >= src.length) return fail('unterminated string')
      const c = src[pos]!
      if (c === quote) {
        pos++
        return out
      }
      if (quote !== '`' && c === '\n') return fail('newline in string')
      if (quote === '`' || c !== '\\') {
        out += c
        pos++
        continue
      }
      out += readEscape()
    }
  }

  function readEscape(): string {
    const c = src[pos + 1]
    if (c === undefined) return fail('unterminated string')
    const simple = SIMPLE_ESCAPES[c]
    if (simple !== undefined) {
      pos += 2
      return simple
    }
    const digits = c === 'x' ? 2 : c === 'u' ? 4 : c === 'U' ? 8 : 0
    if (digits === 0) return fail(`unknown escape \\${c}`)
    const hex = src.slice(pos + 2, pos + 2 + digits)
    if (!new RegExp(`^[0-9A-Fa-f]{${digits}}$`).test(hex)) return fail(`bad escape \\${c}${hex}`)
    const code = parseInt(hex, 16)
    if (code > 0x10ffff) return fail(`bad escape \\${c}${hex}`)
    pos += 2 + digits
    return String.fromCodePoint(code)
  }
}

/**
 * The canonical text of a selector: `{a="x", b=~"y"}`, `{}` when empty; a name outside the label
 * grammar quoted (`{"k8s pod"="x"}`). Parses back to itself.
 */
export function formatSelector(matchers: readonly LabelMatcher[]): string {
  const name = (n: string) => (isLabelName(n) ? n : JSON.stringify(n))
  return `{${matchers.map((m) => `${name(m.name)}${m.op}${JSON.stringify(m.value)}`).join(', ')}}`
}
