import { useEffect, useId, useState, type FormEvent } from 'react'
import { fetchLabelValues } from '../api'
import { useResource } from '../hooks/use-resource'
import {
  MATCH_OPERATORS,
  addMatcher,
  normalizeSelector,
  type MatchOperator,
} from '../label-selector'
import { MINUTE_MS, type TimeWindow } from '../time-window'

interface LabelFilterProps {
  service: string
  type: string
  /** Where label names and values are looked up. */
  window: TimeWindow
  /** Label names of the window's series; `undefined` while loading. */
  names: readonly string[] | undefined
  query: string
  onQueryChange(query: string): void
}

const VALUE_SUGGESTIONS = 200

/** Whole minutes: the suggestions of a moving window are not fetched again on every refresh. */
function minuteWindow(window: TimeWindow): TimeWindow {
  return {
    from: Math.floor(window.from / MINUTE_MS) * MINUTE_MS,
    to: Math.ceil(window.to / MINUTE_MS) * MINUTE_MS,
  }
}

/**
 * The label selector (`query=`): typed as text, or built from a label name, an operator and a
 * value, with the names and values the window's series carry as suggestions.
 */
export function LabelFilter(props: LabelFilterProps) {
  const { service, type, window, names, query, onQueryChange } = props
  const [draft, setDraft] = useState(query)
  const [name, setName] = useState('')
  const [op, setOp] = useState<MatchOperator>('=')
  const [value, setValue] = useState('')
  const valuesListId = useId()
  useEffect(() => setDraft(query), [query])

  const { from, to } = minuteWindow(window)
  const values = useResource(
    name === ''
      ? null
      : {
          key: JSON.stringify(['values', service, type, from, to, name]),
          load: (signal) =>
            fetchLabelValues({ service, type, from, to, name, limit: VALUE_SUGGESTIONS }, signal),
        },
    0,
  )

  function apply(event: FormEvent) {
    event.preventDefault()
    onQueryChange(normalizeSelector(draft))
  }

  function add() {
    if (name === '') return
    onQueryChange(addMatcher(draft, { name, op, value }))
    setValue('')
  }

  return (
    <div className="label-filter">
      <form className="label-filter-text" onSubmit={apply}>
        <label className="control">
          <span>Label filter</span>
          <input
            type="text"
            className="selector-input"
            data-testid="query-input"
            spellCheck={false}
            placeholder='{env="prod", pod=~"api-.*"}'
            value={draft}
            onChange={(event) => setDraft(event.target.value)}
          />
        </label>
        <button type="submit" disabled={normalizeSelector(draft) === query}>
          Apply
        </button>
        {query !== '' ? (
          <button type="button" onClick={() => onQueryChange('')}>
            Clear
          </button>
        ) : null}
      </form>
      <fieldset className="matcher-builder">
        <legend>Add a matcher</legend>
        <select
          aria-label="Label name"
          data-testid="label-name-select"
          value={name}
          onChange={(event) => setName(event.target.value)}
        >
          <option value="">{names === undefined ? 'Loading labels…' : 'Label…'}</option>
          {(names ?? []).map((candidate) => (
            <option key={candidate} value={candidate}>
              {candidate}
            </option>
          ))}
        </select>
        <select
          aria-label="Operator"
          value={op}
          onChange={(event) => setOp(event.target.value as MatchOperator)}
        >
          {MATCH_OPERATORS.map((candidate) => (
            <option key={candidate} value={candidate}>
              {candidate}
            </option>
          ))}
        </select>
        <input
          type="text"
          aria-label="Label value"
          data-testid="label-value-input"
          list={valuesListId}
          placeholder={op.endsWith('~') ? 'regular expression' : 'value'}
          value={value}
          disabled={name === ''}
          onChange={(event) => setValue(event.target.value)}
          onKeyDown={(event) => {
            if (event.key === 'Enter') {
              event.preventDefault()
              add()
            }
          }}
        />
        <datalist id={valuesListId} data-testid="label-value-suggestions">
          {(values.data?.values ?? []).map((candidate) => (
            <option key={candidate} value={candidate} />
          ))}
        </datalist>
        <button type="button" onClick={add} disabled={name === ''}>
          Add
        </button>
      </fieldset>
    </div>
  )
}
