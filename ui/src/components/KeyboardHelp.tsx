import { useEffect, useRef } from 'react'

interface KeyboardHelpProps {
  /** The graph opens callers and callees with `s` (explore): list it. */
  sandwichKey: boolean
  onClose(): void
}

interface Shortcut {
  keys: readonly string[]
  what: string
}

/** Every key the page's main flame graph answers (FlameGraph's keyboard handler). */
function shortcuts(sandwichKey: boolean): Shortcut[] {
  return [
    { keys: ['/'], what: 'Search functions or files' },
    { keys: ['Esc'], what: 'Clear the search and the zoom (in the search box: leave it)' },
    { keys: ['↑'], what: 'Zoom out to the parent frame' },
    { keys: ['↓'], what: 'Zoom into the heaviest child frame' },
    { keys: ['←', '→'], what: 'Move the zoom to the previous or next sibling frame' },
    ...(sandwichKey ? [{ keys: ['s'], what: 'Callers and callees of the frame zoomed to' }] : []),
    { keys: ['?'], what: 'Show or hide this list' },
  ]
}

/**
 * The keyboard shortcuts, over the page (`?` opens it). Esc, `?`, the close button or a click
 * outside the panel close it; focus goes to the close button and back where it was after.
 */
export function KeyboardHelp({ sandwichKey, onClose }: KeyboardHelpProps) {
  const close = useRef<HTMLButtonElement>(null)
  useEffect(() => {
    const before = document.activeElement
    close.current?.focus()
    return () => {
      if (before instanceof HTMLElement && before.isConnected) before.focus()
    }
  }, [])
  return (
    <div
      className="keyboard-help-backdrop"
      onClick={(event) => {
        if (event.target === event.currentTarget) onClose()
      }}
    >
      <div
        className="keyboard-help"
        role="dialog"
        aria-modal="true"
        aria-labelledby="keyboard-help-title"
        data-testid="keyboard-help"
      >
        <div className="keyboard-help-head">
          <h2 id="keyboard-help-title">Keyboard shortcuts</h2>
          <button type="button" ref={close} onClick={onClose} data-testid="keyboard-help-close">
            Close
          </button>
        </div>
        <table className="keyboard-help-keys">
          <tbody>
            {shortcuts(sandwichKey).map(({ keys, what }) => (
              <tr key={keys.join(' ')} data-keys={keys.join(' ')}>
                <th scope="row">
                  {keys.map((key) => (
                    <kbd key={key}>{key}</kbd>
                  ))}
                </th>
                <td>{what}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <p className="keyboard-help-note">
          Keys act on the flame graph while no text field has the focus. A click on a frame zooms
          into it, as ↓ and the arrows do.
        </p>
      </div>
    </div>
  )
}
