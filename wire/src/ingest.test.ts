import { describe, expect, it } from 'vitest'
import { LABEL_NAME_PATTERN, isLabelName, isLabelNameChar, isLabelNameStartChar } from './ingest.js'

describe('label names', () => {
  it('accept letters, digits, `_` and `.`, dotted OpenTelemetry names too', () => {
    for (const name of ['env', '_x1', 'service_version', 'http.route', 'service.version', 'a.']) {
      expect(isLabelName(name)).toBe(true)
    }
    expect(isLabelName('otel.scope.name')).toBe(true)
  })

  it('refuse a leading digit or dot, `-`, spaces and the empty name', () => {
    for (const name of ['', '1x', '.x', 'a-b', 'a b', ' a', 'a/b', 'é']) {
      expect(isLabelName(name)).toBe(false)
    }
  })

  it('read one character at a time as the whole name does', () => {
    expect(isLabelNameStartChar('h')).toBe(true)
    expect(isLabelNameStartChar('_')).toBe(true)
    expect(isLabelNameStartChar('1')).toBe(false)
    expect(isLabelNameStartChar('.')).toBe(false)
    expect(isLabelNameStartChar('ab')).toBe(false)
    expect(isLabelNameChar('.')).toBe(true)
    expect(isLabelNameChar('9')).toBe(true)
    expect(isLabelNameChar('-')).toBe(false)
    expect(isLabelNameChar(' ')).toBe(false)
    expect(isLabelNameChar('')).toBe(false)
  })

  it('keep the pattern JSON Schema and the server messages show', () => {
    expect(LABEL_NAME_PATTERN).toBe('^[A-Za-z_][A-Za-z0-9_.]*$')
  })
})
