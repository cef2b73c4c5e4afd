import { errorHint, type ApiError } from '../api-error'

interface StaleNoticeProps {
  /** What could not be refreshed, e.g. "the flame graph". */
  what: string
  error: ApiError
  onRetry(): void
}

/** Whether a failed refresh may leave the last answer on screen: not when the reader must act. */
export function keepsLastAnswer(error: ApiError): boolean {
  return error.statusCode !== 401 && error.statusCode !== 403
}

/**
 * A refresh failed but an earlier answer is on screen: keep it, and say that it is the last
 * answer and why the refresh failed (with what to do, e.g. how long to wait after a 429). The page keeps refreshing on its own and recovers when the
 * server answers again.
 */
export function StaleNotice({ what, error, onRetry }: StaleNoticeProps) {
  return (
    <p className="stale-notice" role="status" data-testid="stale-notice" data-code={error.code}>
      <strong>Could not refresh {what}</strong>: {error.message} {errorHint(error)} Showing the last
      answer.{' '}
      <button type="button" onClick={onRetry}>
        Retry now
      </button>
    </p>
  )
}
