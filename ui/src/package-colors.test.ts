import { describe, expect, it } from 'vitest'
import {
  GROUP_COLORS,
  OTHER_PACKAGES_COLOR,
  PACKAGE_PALETTE,
  packageColoring,
  type ColoredGroup,
} from './package-colors'

const pkg = (name: string, weight: number): ColoredGroup => ({
  key: name,
  group: { kind: 'package', name },
  weight,
})
const own = (weight: number): ColoredGroup => ({ key: ':own', group: { kind: 'own' }, weight })

describe('packageColoring', () => {
  it('gives own code its fixed colour and each heavy package a distinct palette colour', () => {
    const c = packageColoring([own(5), pkg('express', 3), pkg('@scope/lib', 2)])
    expect(c.color({ name: 'main', file: '/app/src/main.js' })).toBe(GROUP_COLORS.own)
    const express = c.color({ name: 'next', file: '/app/node_modules/express/lib/router.js' })
    const scoped = c.color({
      name: 'v',
      file: '/app/node_modules/.pnpm/@scope+lib@1.0.0/node_modules/@scope/lib/x.js',
    })
    expect(PACKAGE_PALETTE).toContain(express)
    expect(PACKAGE_PALETTE).toContain(scoped)
    expect(express).not.toBe(scoped)
    expect(c.legend.map((e) => [e.label, e.color])).toEqual([
      ['Own code', GROUP_COLORS.own],
      ['express', express],
      ['@scope/lib', scoped],
    ])
  })

  it('keeps a package colour when weights change but the set of heavy packages does not', () => {
    const names = ['a', 'b', 'c', 'd']
    const before = packageColoring(names.map((n, i) => pkg(n, i + 1)))
    const after = packageColoring(names.map((n, i) => pkg(n, 10 - i)))
    for (const n of names) {
      const file = `/srv/node_modules/${n}/index.js`
      expect(after.color({ name: 'f', file })).toBe(before.color({ name: 'f', file }))
    }
  })

  it('puts packages past the palette into one "other packages" entry', () => {
    const count = PACKAGE_PALETTE.length + 3
    const groups = Array.from({ length: count }, (_, i) => pkg(`p${i}`, count - i))
    const c = packageColoring(groups)
    const colours = groups
      .slice(0, PACKAGE_PALETTE.length)
      .map((g) => c.color({ name: 'f', file: `/a/node_modules/${g.key}/i.js` }))
    expect(new Set(colours).size).toBe(PACKAGE_PALETTE.length)
    expect(c.color({ name: 'f', file: `/a/node_modules/p${count - 1}/i.js` })).toBe(
      OTHER_PACKAGES_COLOR,
    )
    // A package absent from the groups (not in this window's totals) is "other" too.
    expect(c.color({ name: 'f', file: '/a/node_modules/unseen/i.js' })).toBe(OTHER_PACKAGES_COLOR)
    const last = c.legend.at(-1)!
    expect(last.label).toBe('3 other packages')
    expect(last.title.split(', ')).toEqual(['p8', 'p9', 'p10'])
    expect(c.legend).toHaveLength(PACKAGE_PALETTE.length + 1)
  })

  it('leaves groups without weight out of the legend', () => {
    const c = packageColoring([own(0), pkg('express', 1)])
    expect(c.legend.map((e) => e.label)).toEqual(['express'])
  })
})
