import { afterEach, describe, expect, it } from 'vitest'
import { bindLabelSink, withLabels, type Labels } from './labels.js'

describe('withLabels', () => {
  afterEach(() => bindLabelSink(undefined))

  it('publishes the merged labels, leaving out names the server would refuse', () => {
    const published: Labels[] = []
    bindLabelSink((context) => published.push(context.labels))
    withLabels({ route: '/a', 'bad name': 'x', '<b>': 'y', __proto__x: 'z' }, () =>
      withLabels({ tenant_tier: 'gold' }, () => undefined),
    )
    expect({ ...published[0] }).toEqual({ route: '/a', __proto__x: 'z' })
    expect({ ...published[1] }).toEqual({ route: '/a', __proto__x: 'z', tenant_tier: 'gold' })
  })
})
