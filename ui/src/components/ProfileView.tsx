import type { FlamegraphResponse } from '@kiln/wire'
import type { Resource } from '../hooks/use-resource'
import { FlameGraph } from './FlameGraph'
import { ErrorState } from './ErrorState'
import { LoadingState } from './LoadingState'
import { NoSamplesState } from './NoSamplesState'
import { ProfileSummary } from './ProfileSummary'

interface ProfileViewProps {
  profile: Resource<FlamegraphResponse>
  service: string
  type: string | null
  rangeLabel: string
  onRetry(): void
}

/** The flame graph of the chosen service, type and range, or why there is none. */
export function ProfileView({ profile, service, type, rangeLabel, onRetry }: ProfileViewProps) {
  if (profile.error !== undefined) {
    return <ErrorState what="the flame graph" error={profile.error} onRetry={onRetry} />
  }
  if (type === null || (profile.data !== undefined && profile.data.root.value === 0)) {
    return <NoSamplesState service={service} type={type} rangeLabel={rangeLabel} />
  }
  if (profile.data === undefined) return <LoadingState what="the flame graph" />
  const { data } = profile
  return (
    <>
      <ProfileSummary profile={data} />
      <FlameGraph root={data.root} unit={data.unit} total={data.total || data.root.value} />
    </>
  )
}
