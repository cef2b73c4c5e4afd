import { PROFILE_TYPES, isProfileTypeName, type ServiceSummary } from '@kiln/wire'
import type { ReactNode } from 'react'

interface ControlsProps {
  services: readonly ServiceSummary[]
  service: ServiceSummary
  type: string | null
  onServiceChange(service: string): void
  onTypeChange(type: string): void
  /** The view's own controls (time range, label filter, diff mode). */
  children?: ReactNode
}

function typeDescription(type: string): string | undefined {
  return isProfileTypeName(type) ? PROFILE_TYPES[type].description : undefined
}

/** The pickers for what the view shows. */
export function Controls(props: ControlsProps) {
  const { services, service, type } = props
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
      {props.children}
    </div>
  )
}
