import { describe, expect, it } from 'vitest'
import { EDGE_MARGIN_PX, POINTER_OFFSET_PX, placeTooltip } from './tooltip-placement'

const view = { width: 1400, height: 900 }
const size = { width: 300, height: 120 }

describe('placeTooltip', () => {
  it('sits right of and below the pointer when there is room', () => {
    expect(placeTooltip({ x: 100, y: 100 }, size, view)).toEqual({
      left: 100 + POINTER_OFFSET_PX,
      top: 100 + POINTER_OFFSET_PX,
    })
  })

  it('flips left of the pointer near the right edge, keeping its width', () => {
    const x = view.width - 20
    const { left } = placeTooltip({ x, y: 100 }, size, view)
    expect(left).toBe(x - POINTER_OFFSET_PX - size.width)
    expect(left + size.width).toBeLessThanOrEqual(view.width)
  })

  it('flips above the pointer near the bottom edge', () => {
    const y = view.height - 30
    const { top } = placeTooltip({ x: 100, y }, size, view)
    expect(top).toBe(y - POINTER_OFFSET_PX - size.height)
    expect(top + size.height).toBeLessThanOrEqual(view.height)
  })

  it('never starts past the left or top edge', () => {
    const wide = { width: view.width, height: view.height }
    expect(placeTooltip({ x: 50, y: 50 }, wide, view)).toEqual({
      left: EDGE_MARGIN_PX,
      top: EDGE_MARGIN_PX,
    })
  })
})
