import type { LegendEntry } from '../package-colors'

/** What the frame colours mean when the graph is coloured by package. */
export function PackageLegend({ legend, testId }: { legend: LegendEntry[]; testId: string }) {
  return (
    <ul className="package-legend" aria-label="Colours by package" data-testid={testId}>
      {legend.map((entry) => (
        <li key={entry.key} title={entry.title} data-color={entry.color}>
          <span className="swatch" style={{ background: entry.color }} />
          {entry.label}
        </li>
      ))}
    </ul>
  )
}
