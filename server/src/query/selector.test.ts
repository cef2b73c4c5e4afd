import { describe, expect, it } from 'vitest'
import { KilnError } from '../errors.js'
import { formatSelector, MAX_MATCHERS, parseSelector, type LabelMatcher } from './selector.js'

describe('parseSelector', () => {
  it('reads every operator', () => {
    expect(parseSelector('{k="v", k2!="v", k3=~"re.*", k4!~"a|b"}')).toEqual([
      { name: 'k', op: '=', value: 'v' },
      { name: 'k2', op: '!=', value: 'v' },
      { name: 'k3', op: '=~', value: 're.*' },
      { name: 'k4', op: '!~', value: 'a|b' },
    ])
  })

  it('selects everything when empty', () => {
    expect(parseSelector(undefined)).toEqual([])
    expect(parseSelector('')).toEqual([])
    expect(parseSelector('   ')).toEqual([])
    expect(parseSelector('{}')).toEqual([])
    expect(parseSelector(' { } ')).toEqual([])
  })

  it('accepts spacing, a trailing comma, dotted names and every quote', () => {
    expect(parseSelector(' {\n service.version = \'1.2\' ,\tenv=`a\\b"`, _x="", } ')).toEqual([
      { name: 'service.version', op: '=', value: '1.2' },
      { name: 'env', op: '=', value: 'a\\b"' },
      { name: '_x', op: '=', value: '' },
    ])
  })

  it('reads the dotted names OpenTelemetry and Pyroscope clients send', () => {
    expect(
      parseSelector('{http.route="/users/:id", otel.scope.name!="x", service.version=~"1[.].*"}'),
    ).toEqual([
      { name: 'http.route', op: '=', value: '/users/:id' },
      { name: 'otel.scope.name', op: '!=', value: 'x' },
      { name: 'service.version', op: '=~', value: '1[.].*' },
    ])
  })

  it('reads quoted label names, as Prometheus 3 and Grafana write names outside the grammar', () => {
    expect(parseSelector('{"service.name"="api", "k8s pod"!~"a\\"b"}')).toEqual([
      { name: 'service.name', op: '=', value: 'api' },
      { name: 'k8s pod', op: '!~', value: 'a"b' },
    ])
    expect(() => parseSelector('{"unterminated="x"}')).toThrow(
      /expected '=', '!=', '=~' or '!~'|unterminated/,
    )
  })

  it('decodes escapes', () => {
    expect(parseSelector('{a="q\\"\\\\\\n\\t\\u00e9\\x41\\U0001F600", b=\'it\\\'s\'}')).toEqual([
      { name: 'a', op: '=', value: 'q"\\\n\té' + 'A' + '\u{1F600}' },
      { name: 'b', op: '=', value: "it's" },
    ])
  })

  it('keeps regex text as written (RE2 is compiled by the store)', () => {
    expect(parseSelector('{pod=~"api-[0-9]+\\\\.x", a=~"(?i)PROD"}')).toEqual([
      { name: 'pod', op: '=~', value: 'api-[0-9]+\\.x' },
      { name: 'a', op: '=~', value: '(?i)PROD' },
    ])
  })

  const bad: [string, RegExp][] = [
    ['env="prod"', /expected '\{'/],
    ['{env="prod"', /expected ',' or '\}'/],
    ['{env="prod",', /expected '\}'/],
    ['{env}', /expected '=', '!=', '=~' or '!~'/],
    ['{env=prod}', /expected a quoted value/],
    ['{env=="prod"}', /expected a quoted value/],
    ['{env~="prod"}', /expected '=', '!=', '=~' or '!~'/],
    ['{="prod"}', /expected a label name/],
    ['{1env="prod"}', /expected a label name/],
    ['{.env="prod"}', /expected a label name/],
    ['{env-x="prod"}', /expected '=', '!=', '=~' or '!~'/],
    ['{http route="prod"}', /expected '=', '!=', '=~' or '!~'/],
    ['{env="prod}', /unterminated string/],
    ['{env="a\nb"}', /newline in string/],
    ['{env="\\q"}', /unknown escape/],
    ['{env="\\u12"}', /bad escape/],
    ['{env="\\U00110000"}', /bad escape/],
    ['{env="prod"} x', /unexpected text/],
    ['{env="a" env2="b"}', /expected ',' or '\}'/],
    ['{,}', /expected a label name/],
    ['{env=\'prod"}', /unterminated string/],
  ]
  it.each(bad)('rejects %j', (input, message) => {
    let error: unknown
    try {
      parseSelector(input)
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(KilnError)
    expect(error).toMatchObject({ code: 'KILN_ERR_QUERY_INVALID', statusCode: 400 })
    expect((error as Error).message).toMatch(message)
    expect((error as Error).message).toMatch(/at offset \d+/)
  })

  it('rejects more matchers than a series has labels', () => {
    const terms = (n: number) => `{${Array.from({ length: n }, (_, i) => `l${i}="v"`).join(',')}}`
    expect(parseSelector(terms(MAX_MATCHERS))).toHaveLength(MAX_MATCHERS)
    expect(() => parseSelector(terms(MAX_MATCHERS + 1))).toThrow(/more than 64 matchers/)
  })
})

describe('formatSelector', () => {
  it('round-trips through parseSelector', () => {
    const matchers: LabelMatcher[] = [
      { name: 'a', op: '=', value: 'with "quotes", \\ and\nnewline é \u{1F600}' },
      { name: 'b.c', op: '!~', value: '^x|y$' },
      { name: 'd', op: '!=', value: '' },
      { name: 'e', op: '=~', value: '\u0001' },
      // A name outside the grammar, as Grafana quotes it.
      { name: 'k8s pod "x"', op: '=', value: 'p' },
    ]
    const text = formatSelector(matchers)
    expect(parseSelector(text)).toEqual(matchers)
    expect(formatSelector([])).toBe('{}')
    expect(formatSelector(parseSelector('{ x = "1" ,y!~"2" }'))).toBe('{x="1", y!~"2"}')
  })
})
