import type { ReactNode } from 'react'

interface ToggleCellProps {
  /** The row is the one selected (the filter is on): a click clears it. */
  pressed: boolean
  /** What a click does, said on hover. */
  title: string
  onToggle(): void
  /** The row's name, and any hint under it. */
  children: ReactNode
}

/** The first cell of a table row whose name toggles a filter (an endpoint, a package). */
export function ToggleCell({ pressed, title, onToggle, children }: ToggleCellProps) {
  return (
    <td className="function-cell">
      <button
        type="button"
        className="function-button"
        aria-pressed={pressed}
        title={title}
        onClick={onToggle}
      >
        {children}
      </button>
    </td>
  )
}
