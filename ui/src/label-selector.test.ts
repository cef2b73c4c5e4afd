import { describe, expect, it } from 'vitest'
import {
  addMatcher,
  combineSelectors,
  equalityValue,
  formatMatcher,
  isLabelName,
  normalizeSelector,
  selectorTerms,
  setEquality,
} from './label-selector'

describe('formatMatcher', () => {
  it('quotes values with escapes', () => {
    expect(formatMatcher({ name: 'env', op: '=', value: 'prod' })).toBe('env="prod"')
    expect(formatMatcher({ name: 'p', op: '=~', value: 'a"b\\.*' })).toBe('p=~"a\\"b\\\\.*"')
  })
})

describe('addMatcher', () => {
  const pod = { name: 'pod', op: '!~', value: 'api-.*' } as const

  it('starts a selector from nothing', () => {
    for (const empty of ['', '{}', '  { } ']) expect(addMatcher(empty, pod)).toBe('{pod!~"api-.*"}')
  })

  it('writes dotted label names as they are', () => {
    expect(addMatcher('{env="prod"}', { name: 'http.route', op: '=', value: '/users/:id' })).toBe(
      '{env="prod", http.route="/users/:id"}',
    )
  })

  it('appends to what is there, with or without braces or a trailing comma', () => {
    for (const typed of ['{env="prod"}', 'env="prod"', '{env="prod",}']) {
      expect(addMatcher(typed, pod)).toBe('{env="prod", pod!~"api-.*"}')
    }
  })
})

describe('normalizeSelector', () => {
  it('adds braces and drops empty selectors', () => {
    expect(normalizeSelector('env="prod"')).toBe('{env="prod"}')
    expect(normalizeSelector(' {env="prod"} ')).toBe('{env="prod"}')
    expect(normalizeSelector('{}')).toBe('')
    expect(normalizeSelector('')).toBe('')
  })
})

describe('isLabelName', () => {
  it('accepts the label names server and agent accept, dotted ones too', () => {
    expect(isLabelName('service_version')).toBe(true)
    expect(isLabelName('_x1')).toBe(true)
    expect(isLabelName('http.route')).toBe(true)
    expect(isLabelName('service.version')).toBe(true)
    expect(isLabelName('otel.scope.name')).toBe(true)
    expect(isLabelName('1x')).toBe(false)
    expect(isLabelName('.x')).toBe(false)
    expect(isLabelName('a-b')).toBe(false)
    expect(isLabelName('a b')).toBe(false)
    expect(isLabelName('')).toBe(false)
  })
})

describe('combineSelectors', () => {
  it('joins the matchers of both, once when they are the same', () => {
    expect(combineSelectors('{pod="b"}', '{service_version="2"}')).toBe(
      '{pod="b", service_version="2"}',
    )
    expect(combineSelectors('', '{a="1"}')).toBe('{a="1"}')
    expect(combineSelectors('{a="1"}', ' {a="1"} ')).toBe('{a="1"}')
    expect(combineSelectors('', '{}')).toBe('')
  })
})

describe('selectorTerms', () => {
  it('splits at the commas between matchers, not inside quoted values', () => {
    expect(selectorTerms('{a="x,y", b=\'p,q\', c=`r,"s`, d="\\",", }')).toEqual([
      'a="x,y"',
      "b='p,q'",
      'c=`r,"s`',
      'd="\\","',
    ])
    expect(selectorTerms('')).toEqual([])
    expect(selectorTerms('{}')).toEqual([])
  })
})

describe('equalityValue and setEquality', () => {
  it('reads the value of a `name="value"` matcher, not of a regex or another name', () => {
    expect(equalityValue('{env="prod", pod=~"a"}', 'env')).toBe('prod')
    expect(equalityValue('{env = "a\\"b"}', 'env')).toBe('a"b')
    expect(equalityValue('{env=~"prod"}', 'env')).toBeNull()
    expect(equalityValue('{env!="prod"}', 'env')).toBeNull()
    expect(equalityValue('{environment="prod"}', 'env')).toBeNull()
    // Single quotes are the server's but not JSON's: not read, still replaced.
    expect(equalityValue("{env='prod'}", 'env')).toBeNull()
    expect(setEquality("{env='prod'}", 'env', 'dev')).toBe('{env="dev"}')
  })

  it('replaces or drops the matcher, keeping the others as written', () => {
    expect(setEquality('{pod=~"a.*", env="prod"}', 'env', 'dev')).toBe('{pod=~"a.*", env="dev"}')
    expect(setEquality('{pod=~"a.*", env="prod"}', 'env', null)).toBe('{pod=~"a.*"}')
    expect(setEquality('{env="prod"}', 'env', null)).toBe('')
    expect(setEquality('', 'env', 'a\\b')).toBe('{env="a\\\\b"}')
  })
})
