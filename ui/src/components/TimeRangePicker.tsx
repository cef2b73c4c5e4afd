import { useEffect, useState, type FormEvent } from 'react'
import { TIME_RANGES, isTimeRangeKey, type TimeRangeKey } from '../time-range'
import { fromDateTimeLocal, toDateTimeLocal, type TimeWindow } from '../time-window'

const CUSTOM = 'custom'

interface TimeRangePickerProps {
  range: TimeRangeKey
  /** The fixed window, `null` while a preset moves with time. */
  window: TimeWindow | null
  /** The window shown now (the preset's, when no fixed window), to start a custom range from. */
  current: TimeWindow
  onRangeChange(range: TimeRangeKey): void
  onWindowChange(window: TimeWindow): void
}

/** A preset ("Last hour") or a custom window with both ends in local time. */
export function TimeRangePicker(props: TimeRangePickerProps) {
  const { range, window, current } = props
  const [from, setFrom] = useState('')
  const [to, setTo] = useState('')
  useEffect(() => {
    if (window !== null) {
      setFrom(toDateTimeLocal(window.from))
      setTo(toDateTimeLocal(window.to))
    }
  }, [window])

  const fromMs = fromDateTimeLocal(from)
  const toMs = fromDateTimeLocal(to)
  const valid = fromMs !== null && toMs !== null && fromMs < toMs

  function apply(event: FormEvent) {
    event.preventDefault()
    if (valid) props.onWindowChange({ from: fromMs, to: toMs })
  }

  return (
    <div className="time-range">
      <label className="control">
        <span>Time range</span>
        <select
          data-testid="range-select"
          value={window === null ? range : CUSTOM}
          onChange={(event) => {
            const next = event.target.value
            if (isTimeRangeKey(next)) props.onRangeChange(next)
            else if (next === CUSTOM) props.onWindowChange(current)
          }}
        >
          {TIME_RANGES.map((candidate) => (
            <option key={candidate.key} value={candidate.key}>
              {candidate.label}
            </option>
          ))}
          <option value={CUSTOM}>Custom…</option>
        </select>
      </label>
      {window !== null ? (
        <form className="custom-range" onSubmit={apply}>
          <label className="control">
            <span>From</span>
            <input
              type="datetime-local"
              step={1}
              data-testid="range-from"
              value={from}
              onChange={(event) => setFrom(event.target.value)}
            />
          </label>
          <label className="control">
            <span>To</span>
            <input
              type="datetime-local"
              step={1}
              data-testid="range-to"
              value={to}
              onChange={(event) => setTo(event.target.value)}
            />
          </label>
          <button type="submit" disabled={!valid}>
            Apply
          </button>
        </form>
      ) : null}
    </div>
  )
}
