/** Gap between the pointer and the tooltip. */
export const POINTER_OFFSET_PX = 14
/** Space kept between a tooltip and the edges of the window. */
export const EDGE_MARGIN_PX = 8

interface Size {
  width: number
  height: number
}

/**
 * Where a tooltip of `size` goes for a pointer at `pointer`, both in window coordinates: right
 * of and below the pointer; left of it when it would cross the right edge of the `view` (the
 * window's visible size), above it when it would cross the bottom; never past the left or top
 * edge (a tooltip larger than the room on both sides keeps its start in view).
 */
export function placeTooltip(
  pointer: { x: number; y: number },
  size: Size,
  view: Size,
): { left: number; top: number } {
  let left = pointer.x + POINTER_OFFSET_PX
  if (left + size.width > view.width - EDGE_MARGIN_PX) {
    left = pointer.x - POINTER_OFFSET_PX - size.width
  }
  let top = pointer.y + POINTER_OFFSET_PX
  if (top + size.height > view.height - EDGE_MARGIN_PX) {
    top = pointer.y - POINTER_OFFSET_PX - size.height
  }
  return { left: Math.max(EDGE_MARGIN_PX, left), top: Math.max(EDGE_MARGIN_PX, top) }
}
