import { errorHint, type ApiError } from '../api-error'

interface ErrorStateProps {
  /** What failed to load, e.g. "services". */
  what: string
  error: ApiError
  onRetry(): void
}

/** A failed request: the server's message and code, and what to do about it. */
export function ErrorState({ what, error, onRetry }: ErrorStateProps) {
  return (
    <section className="notice notice-error" data-testid="error-state" role="alert">
      <h2>Could not load {what}</h2>
      <p className="error-message">{error.message}</p>
      <p>
        Code <code>{error.code}</code>
        {error.statusCode > 0 ? `, HTTP ${error.statusCode}` : ''}
      </p>
      <p>{errorHint(error)}</p>
      <button type="button" onClick={onRetry}>
        Try again
      </button>
    </section>
  )
}
