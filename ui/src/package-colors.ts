import { classifyFunction, groupKey, groupLabel, type PackageGroup } from './packages'

/** How explore and the side-by-side diff fill frames: d3-flame-graph's palette, or by package. */
export type ColorBy = 'name' | 'package'

/** A group to colour, with how much it weighs (the largest packages get their own colours). */
export interface ColoredGroup {
  key: string
  group: PackageGroup
  weight: number
}

export interface LegendEntry {
  key: string
  label: string
  color: string
  /** The groups it stands for (more than one for "Other packages"). */
  title: string
}

export interface PackageColoring {
  /** Fill of a frame, by the group of its function. */
  color(node: { name: string; file?: string | undefined }): string
  /** The colours in use, heaviest group first. */
  legend: LegendEntry[]
}

/**
 * Packages that get a colour of their own: beyond this, colours stop being told apart at a
 * glance. Light enough for the labels' dark text (styles.css), distinct from the fixed ones.
 */
export const PACKAGE_PALETTE: readonly string[] = [
  'rgb(130, 177, 255)',
  'rgb(206, 147, 216)',
  'rgb(128, 222, 234)',
  'rgb(255, 171, 145)',
  'rgb(197, 225, 165)',
  'rgb(244, 143, 177)',
  'rgb(255, 224, 130)',
  'rgb(179, 157, 219)',
]

/** Fixed colours: the same group has the same colour in every window and service. */
export const GROUP_COLORS: Readonly<Record<Exclude<PackageGroup['kind'], 'package'>, string>> = {
  own: 'rgb(255, 183, 77)',
  node: 'rgb(129, 199, 132)',
  runtime: 'rgb(189, 189, 189)',
  unknown: 'rgb(224, 224, 224)',
}

/** Every package past the palette's length. */
export const OTHER_PACKAGES_COLOR = 'rgb(161, 136, 127)'

/** FNV-1a of a package name: where its colour search starts, so colours survive refreshes. */
function hash(text: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/**
 * Colours for the groups of a tree. The heaviest packages (as many as the palette holds) each get
 * a colour, picked from their name's hash and moved to the next free one on a clash, so a package
 * keeps its colour while the set of heavy packages stays the same; the rest share one colour.
 * Own code, Node.js core, the V8 runtime and unknown frames always have their fixed colours.
 */
export function packageColoring(groups: readonly ColoredGroup[]): PackageColoring {
  const ranked = [...groups]
    .filter((g) => g.weight > 0)
    .sort((a, b) => b.weight - a.weight || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  const colors = new Map<string, string>()
  const taken = new Set<number>()
  const others: string[] = []
  for (const { key, group } of ranked) {
    if (group.kind !== 'package') {
      colors.set(key, GROUP_COLORS[group.kind])
    } else if (taken.size < PACKAGE_PALETTE.length) {
      let slot = hash(group.name) % PACKAGE_PALETTE.length
      while (taken.has(slot)) slot = (slot + 1) % PACKAGE_PALETTE.length
      taken.add(slot)
      colors.set(key, PACKAGE_PALETTE[slot]!)
    } else {
      others.push(group.name)
    }
  }

  const legend: LegendEntry[] = []
  let otherEntry: LegendEntry | null = null
  for (const { key, group } of ranked) {
    const color = colors.get(key)
    if (color !== undefined) {
      legend.push({ key, label: groupLabel(group), color, title: groupLabel(group) })
    } else if (otherEntry === null) {
      otherEntry = {
        key: ':other-packages',
        label: `${others.length} other ${others.length === 1 ? 'package' : 'packages'}`,
        color: OTHER_PACKAGES_COLOR,
        title: others.join(', '),
      }
      legend.push(otherEntry)
    }
  }

  // Frames of one function recur across the tree: classify each name and file once.
  const cache = new Map<string, string>()
  return {
    legend,
    color(node) {
      const id = `${node.name}\u0000${node.file ?? ''}`
      let color = cache.get(id)
      if (color === undefined) {
        const group = classifyFunction(node)
        color =
          colors.get(groupKey(group)) ??
          (group.kind === 'package' ? OTHER_PACKAGES_COLOR : GROUP_COLORS[group.kind])
        cache.set(id, color)
      }
      return color
    },
  }
}
