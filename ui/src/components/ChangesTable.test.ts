import type { DiffChanges, DiffFunction } from '@kiln/wire'
import { createElement } from 'react'
import { renderToStaticMarkup } from 'react-dom/server'
import { describe, expect, it } from 'vitest'
import { ChangesTable } from './ChangesTable'

const S = 1e9

/**
 * A function doing 3x the work per second, seen over a 300 s baseline and a 200 s comparison:
 * its raw comparison value is only twice the baseline's, yet per second it grew threefold.
 */
function render(mode: 'absolute' | 'normalized'): string {
  const base = { seconds: 300, self: 30 * S }
  const comp = { seconds: 200, self: 3 * (base.self / base.seconds) * 200 }
  const scale = base.seconds / comp.seconds
  const fn: DiffFunction = {
    name: 'render',
    baseSelf: base.self,
    compSelf: comp.self,
    baseTotal: base.self,
    compTotal: comp.self,
    selfShare: 0.2,
    totalShare: 0.2,
    selfDelta: comp.self * scale - base.self,
    totalDelta: comp.self * scale - base.self,
  }
  const changes: DiffChanges = {
    rankBy: mode === 'absolute' ? 'absolute' : 'share',
    self: { grew: [fn], shrank: [] },
    total: { grew: [fn], shrank: [] },
  }
  return renderToStaticMarkup(
    createElement(ChangesTable, {
      changes,
      rank: 'self',
      mode,
      unit: 'nanoseconds',
      totals: { base: 100 * S, comp: 100 * S },
      stacks: { base: 1, comp: 1 },
      seconds: { base: base.seconds, comp: comp.seconds },
      focus: null,
      onRankChange: () => undefined,
      onFocus: () => undefined,
    }),
  )
}

describe('ChangesTable in absolute mode', () => {
  it('shows values per second of collected time, so unequal windows compare', () => {
    const html = render('absolute')
    // 30 s over 300 s = 100 ms/s; three times as much per second after.
    expect(html).toContain('100 ms/s')
    expect(html).toContain('300 ms/s')
    expect(html).toContain('+200 ms/s')
    expect(html).toContain('change per second of collected instance time')
  })

  it('keeps share points in normalized mode', () => {
    expect(render('normalized')).toContain('+20 pp')
  })
})
