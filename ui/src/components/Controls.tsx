import { PROFILE_TYPES, isProfileTypeName, type ServiceSummary } from '@kiln/wire'
import { TIME_RANGES, isTimeRangeKey, type TimeRangeKey } from '../time-range'

interface ControlsProps {
  services: readonly ServiceSummary[]
  service: ServiceSummary
  type: string | null
  range: TimeRangeKey
  onServiceChange(service: string): void
  onTypeChange(type: string): void
  onRangeChange(range: TimeRangeKey): void
}

function typeDescription(type: string): string | undefined {
  return isProfileTypeName(type) ? PROFILE_TYPES[type].description : undefined
}

/** The pickers for what the flame graph shows. */
export function Controls(props: ControlsProps) {
  const { services, service, type, range } = props
  return (
    <div className="controls">
      <label className="control">
        <span>Service</span>
        <select
          data-testid="service-select"
          value={service.name}
          onChange={(event) => props.onServiceChange(event.target.value)}
        >
          {services.map((candidate) => (
            <option key={candidate.name} value={candidate.name}>
              {candidate.name}
            </option>
          ))}
        </select>
      </label>
      <label className="control">
        <span>Profile type</span>
        <select
          data-testid="type-select"
          value={type ?? ''}
          disabled={service.types.length === 0}
          onChange={(event) => props.onTypeChange(event.target.value)}
        >
          {service.types.map((candidate) => (
            <option key={candidate} value={candidate} title={typeDescription(candidate)}>
              {candidate}
            </option>
          ))}
        </select>
      </label>
      <label className="control">
        <span>Time range</span>
        <select
          data-testid="range-select"
          value={range}
          onChange={(event) => {
            if (isTimeRangeKey(event.target.value)) props.onRangeChange(event.target.value)
          }}
        >
          {TIME_RANGES.map((candidate) => (
            <option key={candidate.key} value={candidate.key}>
              {candidate.label}
            </option>
          ))}
        </select>
      </label>
    </div>
  )
}
