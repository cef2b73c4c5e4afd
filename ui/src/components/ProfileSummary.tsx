import { PROFILE_TYPES, isProfileTypeName, type FlamegraphResponse } from '@kiln/wire'
import type { ReactNode } from 'react'
import { formatValue } from '../format'
import { formatWindow } from '../time-window'

/** One line on what the flame graph adds up, and links to take it elsewhere. */
export function ProfileSummary({
  profile,
  children,
}: {
  profile: FlamegraphResponse
  children?: ReactNode
}) {
  const description = isProfileTypeName(profile.type)
    ? PROFILE_TYPES[profile.type].description
    : profile.type
  const total = formatValue(profile.total, profile.unit)
  return (
    <p className="summary" data-testid="profile-summary">
      <span>{description}</span>
      <span>
        {profile.aggregation === 'gauge' ? 'Average total' : 'Total'} <strong>{total}</strong>
      </span>
      <span>{profile.stacks} stacks</span>
      <span>{formatWindow(profile)}</span>
      {profile.query !== undefined && profile.query !== '{}' ? <code>{profile.query}</code> : null}
      {children}
      {profile.aggregation === 'gauge' ? (
        <span className="summary-note" data-testid="gauge-note">
          Each frame is where memory that is still live was allocated (sampled). Values are the
          average of each instance’s snapshots in the window, summed over the instances.
        </span>
      ) : null}
    </p>
  )
}
