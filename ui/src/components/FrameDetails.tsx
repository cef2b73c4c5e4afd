import { useEffect, useState } from 'react'
import type { ChartNode } from '../diff-tree'
import type { ValueUnit } from '../format'
import { frameFigures } from '../frame-figures'
import type { DiffMode } from '../url-state'

interface FrameDetailsProps {
  /** The hovered frame, else the one zoomed to; `null`: neither. */
  node: ChartNode | null
  unit: ValueUnit
  total: number
  mode?: DiffMode | undefined
  testId: string
  /** The graph answers keys: say which, while nothing is hovered. */
  keyboard?: boolean
  /** Offer the frame's callers and callees (absent for the root). */
  onOpenSandwich?(node: ChartNode): void
  /** The graph opens callers and callees (the `s` key): say so in the keys' hint. */
  sandwichKey?: boolean
}

type CopyState = { name: string; ok: boolean } | null

/**
 * A line under the flame graph with a frame's full name, file and numbers as selectable text and
 * a button that copies the name. It shows the hovered frame, and the one clicked (zoomed to)
 * once the pointer leaves the graph, so the button can be reached without losing the frame.
 */
export function FrameDetails(props: FrameDetailsProps) {
  const { node, unit, total, mode, testId, keyboard, onOpenSandwich } = props
  const [copied, setCopied] = useState<CopyState>(null)
  const name = node?.name

  // The confirmation is about one name: drop it when the line shows another frame.
  useEffect(() => {
    setCopied((current) => (current !== null && current.name !== name ? null : current))
  }, [name])

  async function copyName(text: string) {
    try {
      await navigator.clipboard.writeText(text)
      setCopied({ name: text, ok: true })
    } catch {
      // No clipboard access (an insecure origin, a refused permission): the name stays selectable.
      setCopied({ name: text, ok: false })
    }
  }

  if (node === null) {
    return (
      <div className="flame-details" data-testid={testId}>
        <span className="flame-details-hint">
          Hover a frame for its details; click one to zoom in and keep it here.
          {keyboard ? (
            <>
              {' '}
              Keys: <kbd>/</kbd> search, <kbd>Esc</kbd> reset, <kbd>↑</kbd> <kbd>↓</kbd>{' '}
              <kbd>←</kbd> <kbd>→</kbd> move the zoom
              {props.sandwichKey ? (
                <>
                  , <kbd>s</kbd> callers and callees of the frame zoomed to
                </>
              ) : null}
              , <kbd>?</kbd> every key.
            </>
          ) : null}
        </span>
      </div>
    )
  }
  return (
    <div className="flame-details" data-testid={testId}>
      <code className="flame-details-name" title={node.name}>
        {node.name}
      </code>
      {node.file ? (
        <span className="flame-details-file" title={node.file}>
          {node.file}
        </span>
      ) : null}
      <span className="flame-details-figures">
        {frameFigures(node, unit, total, mode).map(({ label, value, change }) => (
          <span key={label}>
            {label}{' '}
            <strong className={change !== undefined ? `change-${change}` : undefined}>
              {value}
            </strong>
          </span>
        ))}
      </span>
      <button
        type="button"
        onClick={() => void copyName(node.name)}
        title="Copy the function name to the clipboard"
      >
        Copy name
      </button>
      {onOpenSandwich !== undefined ? (
        <button
          type="button"
          data-testid={`${testId}-sandwich`}
          onClick={() => onOpenSandwich(node)}
          title="Show every caller and callee of this function, merged over the whole graph"
        >
          Callers and callees
        </button>
      ) : null}
      {copied !== null ? (
        <span className="flame-details-copied" role="status">
          {copied.ok ? 'Copied' : 'Could not copy: select the name and copy it'}
        </span>
      ) : null}
    </div>
  )
}
