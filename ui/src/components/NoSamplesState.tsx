import { formatWindow } from '../time-window'

interface NoSamplesStateProps {
  service: string
  type: string | null
  rangeLabel: string
  /** The label filter applied; `''` for none. */
  query: string
  /** When the service's last profile (of any type) ended, Unix ms. */
  lastSeen: number
  /** The window shown. */
  window: { from: number; to: number }
  onClearFilter(): void
  /** Show the same length of time, ending at the last profile. */
  onJumpToLast(): void
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' })

/**
 * The service exists but the window shows no samples: say which of the likely causes it is (a
 * filter that matches nothing, a window after the service's last profile, a type it does not
 * send) and offer the way out.
 */
export function NoSamplesState(props: NoSamplesStateProps) {
  const { service, type, rangeLabel, query, lastSeen, window } = props
  let cause: string
  let action: { label: string; run(): void; testId: string } | null = null
  if (type === null) {
    cause = `${service} has not reported any profile type yet.`
  } else if (query !== '') {
    cause = `No series of ${service} match ${query} in the ${rangeLabel.toLowerCase()}.`
    action = { label: 'Clear the filter', run: props.onClearFilter, testId: 'clear-filter' }
  } else if (lastSeen > 0 && lastSeen < window.from) {
    cause = `${service} sent its last profile at ${dateTime.format(lastSeen)}, before this window (${formatWindow(window)}).`
    action = { label: 'Show its last data', run: props.onJumpToLast, testId: 'jump-to-last' }
  } else {
    cause = `${service} sent no ${type} samples in the ${rangeLabel.toLowerCase()}. Pick a longer time range, or check that the service runs with the Kiln agent.`
  }
  return (
    <section className="notice" data-testid="no-samples-state">
      <h2>No samples in this range</h2>
      <p data-testid="no-samples-cause">{cause}</p>
      {action ? (
        <p>
          <button type="button" onClick={action.run} data-testid={action.testId}>
            {action.label}
          </button>
        </p>
      ) : null}
    </section>
  )
}
