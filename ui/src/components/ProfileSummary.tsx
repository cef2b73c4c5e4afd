import { PROFILE_TYPES, isProfileTypeName, type FlamegraphResponse } from '@kiln/wire'
import { formatValue } from '../format'

const timeFormat = new Intl.DateTimeFormat(undefined, { timeStyle: 'medium' })

/** One line on what the flame graph adds up. */
export function ProfileSummary({ profile }: { profile: FlamegraphResponse }) {
  const description = isProfileTypeName(profile.type)
    ? PROFILE_TYPES[profile.type].description
    : profile.type
  const total = formatValue(profile.total, profile.unit)
  return (
    <p className="summary">
      <span>{description}</span>
      <span>
        {profile.aggregation === 'gauge' ? 'Average total' : 'Total'} <strong>{total}</strong>
      </span>
      <span>{profile.stacks} stacks</span>
      <span>
        {timeFormat.format(profile.from)} – {timeFormat.format(profile.to)}
      </span>
    </p>
  )
}
