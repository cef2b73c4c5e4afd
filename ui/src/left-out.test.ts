import type { DiffChanges, TopFunction } from '@kiln/wire'
import { createElement } from 'react'
import { renderToStaticMarkup } from 'react-dom/server'
import { describe, expect, it } from 'vitest'
import { ChangesTable } from './components/ChangesTable'
import { TopTable } from './components/TopTable'
import { formatPercent, formatValue } from './format'
import { changesLeftOutNote, topLeftOutNote } from './left-out'

const SECOND = 1e9

// A window past the server's cap of a million stacks: what the table read, and what it did not.
const STACKS = 1_250_000
const READ = 97.7 * SECOND
const LEFT_OUT = 2.3 * SECOND
const TOTAL = READ + LEFT_OUT
const top = { total: TOTAL, stacks: STACKS, unit: 'nanoseconds' as const }

const functions: TopFunction[] = [{ name: 'main', file: '/app/main.js', self: 0, total: READ }]
const noop = () => undefined

describe('topLeftOutNote', () => {
  it('is null when the response carries no leftOut (the table is exact)', () => {
    expect(topLeftOutNote(top)).toBeNull()
    expect(topLeftOutNote({ ...top, leftOut: 0 })).toBeNull()
  })

  it('says how much of the total, in the unit and as a share, the table could not read', () => {
    const note = topLeftOutNote({ ...top, leftOut: LEFT_OUT })!
    expect(note).toContain(formatValue(LEFT_OUT, 'nanoseconds'))
    expect(note).toContain(`${formatPercent(LEFT_OUT, TOTAL)} of the total`)
    expect(note).toContain(`${formatValue(STACKS, 'count')} stacks`)
    expect(note).toMatch(/^Partial table/)
  })

  it('does not round a tiny share down to 0%', () => {
    const tiny = TOTAL * 1e-6
    expect(formatPercent(tiny, TOTAL)).toBe('0%')
    expect(topLeftOutNote({ ...top, leftOut: tiny })).toContain('(< 0.01% of the total')
  })

  it('reads values in the type’s unit (bytes for heap)', () => {
    const heap = { total: 8 * 1024 ** 3, stacks: STACKS, unit: 'bytes' as const }
    const leftOut = 512 * 1024 ** 2
    expect(topLeftOutNote({ ...heap, leftOut })).toContain(
      `${formatValue(leftOut, 'bytes')} (${formatPercent(leftOut, heap.total)} of the total`,
    )
  })
})

describe('changesLeftOutNote', () => {
  const baseline = { total: TOTAL, stacks: STACKS }
  const comparison = { total: 2 * TOTAL, stacks: STACKS + 10 }
  const changes = (leftOut?: [number, number]) => ({ ...(leftOut ? { leftOut } : {}) })

  it('is null when the lists are exact', () => {
    const diff = { changes: changes(), baseline, comparison, unit: 'nanoseconds' as const }
    expect(changesLeftOutNote(diff)).toBeNull()
  })

  it('names each window the lists could not read all of, and only those', () => {
    const both = changesLeftOutNote({
      changes: changes([LEFT_OUT, 3 * LEFT_OUT]),
      baseline,
      comparison,
      unit: 'nanoseconds',
    })!
    expect(both).toContain(
      `${formatValue(LEFT_OUT, 'nanoseconds')} of the baseline (${formatPercent(LEFT_OUT, baseline.total)} of its total`,
    )
    expect(both).toContain(
      `${formatValue(3 * LEFT_OUT, 'nanoseconds')} of the comparison (${formatPercent(3 * LEFT_OUT, comparison.total)} of its total`,
    )
    const comparisonOnly = changesLeftOutNote({
      changes: changes([0, LEFT_OUT]),
      baseline,
      comparison,
      unit: 'nanoseconds',
    })!
    expect(comparisonOnly).toContain('of the comparison (')
    expect(comparisonOnly).not.toContain('baseline')
  })
})

describe('the tables', () => {
  const topTable = (leftOut?: number) =>
    renderToStaticMarkup(
      createElement(TopTable, {
        functions,
        ...top,
        leftOut,
        search: '',
        sort: 'self',
        focus: null,
        onSortChange: noop,
        onFocus: noop,
      }),
    )
  const changesTable = (leftOut?: [number, number]) => {
    const diffChanges: DiffChanges = {
      rankBy: 'share',
      self: { grew: [], shrank: [] },
      total: { grew: [], shrank: [] },
      ...(leftOut ? { leftOut } : {}),
    }
    return renderToStaticMarkup(
      createElement(ChangesTable, {
        changes: diffChanges,
        rank: 'self',
        mode: 'normalized',
        unit: 'nanoseconds',
        totals: { base: TOTAL, comp: TOTAL },
        stacks: { base: STACKS, comp: STACKS },
        seconds: null,
        focus: null,
        onRankChange: noop,
        onFocus: noop,
      }),
    )
  }

  it('show the note above the rows when the response left stacks out', () => {
    const html = topTable(LEFT_OUT)
    expect(html).toContain('data-testid="top-left-out"')
    expect(html).toContain(topLeftOutNote({ ...top, leftOut: LEFT_OUT })!)
    expect(html.indexOf('top-left-out')).toBeLessThan(html.indexOf('<table'))
    const changes = changesTable([LEFT_OUT, 0])
    expect(changes).toContain('data-testid="changes-left-out"')
    expect(changes).toContain(formatPercent(LEFT_OUT, TOTAL))
  })

  it('show no note when the response is exact', () => {
    expect(topTable()).not.toContain('left-out')
    expect(changesTable()).not.toContain('left-out')
  })
})
