import { errorHint, errorRemedy, type ApiError } from '../api-error'
import { useSessionActions } from '../session-actions'

interface ErrorStateProps {
  /** What failed to load, e.g. "services". */
  what: string
  error: ApiError
  onRetry(): void
}

/**
 * A failed request: the server's message and code, and what to do about it. A refused token
 * (401, or 403 for a missing scope) offers to sign in again; a refused tenant, to switch it.
 */
export function ErrorState({ what, error, onRetry }: ErrorStateProps) {
  const actions = useSessionActions()
  const remedy = errorRemedy(error)
  const switchTenant = remedy === 'switch-tenant' ? actions?.switchTenant : null
  return (
    <section
      className="notice notice-error"
      data-testid="error-state"
      data-code={error.code}
      role="alert"
    >
      <h2>Could not load {what}</h2>
      <p className="error-message">{error.message}</p>
      <p>
        Code <code>{error.code}</code>
        {error.statusCode > 0 ? `, HTTP ${error.statusCode}` : ''}
      </p>
      <p>{errorHint(error)}</p>
      <div className="notice-actions">
        {remedy === 'sign-in' && actions !== null ? (
          <button type="button" onClick={actions.signInAgain} data-testid="error-sign-in">
            Sign in again
          </button>
        ) : null}
        {switchTenant ? (
          <button type="button" onClick={switchTenant} data-testid="error-switch-tenant">
            Switch tenant
          </button>
        ) : null}
        <button type="button" onClick={onRetry}>
          Try again
        </button>
      </div>
    </section>
  )
}
