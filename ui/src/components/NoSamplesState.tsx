interface NoSamplesStateProps {
  service: string
  type: string | null
  rangeLabel: string
}

/** The service exists but sent nothing of this type in the window. */
export function NoSamplesState({ service, type, rangeLabel }: NoSamplesStateProps) {
  return (
    <section className="notice" data-testid="no-samples-state">
      <h2>No samples in this range</h2>
      <p>
        {type === null
          ? `${service} has not reported any profile type yet.`
          : `${service} sent no ${type} samples in the ${rangeLabel.toLowerCase()}.`}{' '}
        Pick a longer time range, or check that the service is running with the Kiln agent.
      </p>
    </section>
  )
}
