import type { VersionSummary } from '@kiln/wire'
import { useState } from 'react'
import {
  comparisonState,
  shiftedComparison,
  versionsComparison,
  type Comparison,
} from '../compare-presets'
import { DAY_MS, HOUR_MS, type TimeWindow } from '../time-window'
import { AppLink } from './AppLink'
import { useNavigate } from '../navigation'

interface ComparePresetsProps {
  service: string
  type: string
  /** The window on screen: the comparison side of the time presets. */
  window: TimeWindow
  query: string
  versions: readonly VersionSummary[]
  /** Label that carries versions in this service's series. */
  versionLabel: string
}

const SHIFTS: readonly { shift: number | 'previous'; label: string; title: string }[] = [
  {
    shift: 'previous',
    label: 'vs previous window',
    title: 'Compare this window with the window of the same length just before it',
  },
  {
    shift: HOUR_MS,
    label: 'vs 1 h earlier',
    title: 'Compare with the same window an hour earlier',
  },
  { shift: DAY_MS, label: 'vs 1 d earlier', title: 'Compare with the same window a day earlier' },
]

/** One-click comparisons of what is on screen: against earlier windows, or version against version. */
export function ComparePresets(props: ComparePresetsProps) {
  const { service, type, window, query, versions } = props
  const navigate = useNavigate()
  const named = versions.filter((v) => v.version !== '')
  const [base, setBase] = useState<string | null>(null)
  const [comp, setComp] = useState<string | null>(null)
  const baseVersion = base ?? named.at(-2)?.version ?? ''
  const compVersion = comp ?? named.at(-1)?.version ?? ''
  const link = (c: Comparison) => comparisonState(c, { service, type })
  const versionComparison =
    baseVersion !== compVersion
      ? versionsComparison(named, baseVersion, compVersion, props.versionLabel, query)
      : null

  return (
    <div className="compare-presets" role="group" aria-label="Compare">
      <span className="compare-presets-label">Compare:</span>
      {SHIFTS.map(({ shift, label, title }) => (
        <AppLink
          key={label}
          className="button-link"
          to={link(shiftedComparison(window, shift, query))}
          title={title}
          data-testid={`compare-${shift === 'previous' ? 'previous' : shift === HOUR_MS ? '1h' : '1d'}`}
        >
          {label}
        </AppLink>
      ))}
      {named.length >= 2 ? (
        <span className="version-compare">
          <label>
            <span className="visually-hidden">Baseline version</span>
            <select
              data-testid="version-a"
              value={baseVersion}
              onChange={(event) => setBase(event.target.value)}
            >
              {named.map((v) => (
                <option key={v.version}>{v.version}</option>
              ))}
            </select>
          </label>
          <span>vs</span>
          <label>
            <span className="visually-hidden">Comparison version</span>
            <select
              data-testid="version-b"
              value={compVersion}
              onChange={(event) => setComp(event.target.value)}
            >
              {named.map((v) => (
                <option key={v.version}>{v.version}</option>
              ))}
            </select>
          </label>
          <button
            type="button"
            data-testid="compare-versions"
            disabled={versionComparison === null}
            title="Compare the two versions, each over its last day of profiles at most"
            onClick={() => {
              if (versionComparison !== null) navigate(link(versionComparison))
            }}
          >
            Compare versions
          </button>
        </span>
      ) : null}
    </div>
  )
}
