import { useState, type FormEvent } from 'react'
import { fetchSession } from '../api'
import { ApiError, errorHint } from '../api-error'
import { tokenProblem, tokenProblemMessage, type TokenProblem } from '../session-access'

interface SignInViewProps {
  /** What was wrong with the token the tab held, if any. */
  problem: TokenProblem | null
  /** A token the server knows and that may read profiles. */
  onSignedIn(token: string): void
}

/**
 * Ask for a read token and check it with the server before keeping it. The input has no `name`,
 * so even a form submitted without script cannot put the token in a URL.
 */
export function SignInView({ problem, onSignedIn }: SignInViewProps) {
  const [draft, setDraft] = useState('')
  const [checking, setChecking] = useState(false)
  const [message, setMessage] = useState(problem ? tokenProblemMessage(problem) : null)

  async function submit(event: FormEvent) {
    event.preventDefault()
    const token = draft.trim()
    if (token === '' || checking) return
    setChecking(true)
    setMessage(null)
    try {
      const session = await fetchSession(token)
      // No credential in the answer: the server did not see the token at all.
      const found =
        session.credential === null ? { kind: 'invalid' as const } : tokenProblem(session)
      if (found !== null) {
        setMessage(tokenProblemMessage(found))
        return
      }
      setDraft('')
      onSignedIn(token)
    } catch (error) {
      setMessage(
        error instanceof ApiError
          ? `${error.message} ${errorHint(error)}`
          : 'The token could not be checked.',
      )
    } finally {
      setChecking(false)
    }
  }

  return (
    <section className="notice sign-in" data-testid="sign-in">
      <h2>Sign in</h2>
      <p>
        This Kiln server needs a token with the <code>read</code> scope to show profiles. It stays
        in this browser tab until you sign out or close the tab.
      </p>
      <form className="sign-in-form" onSubmit={(event) => void submit(event)}>
        <label className="control">
          Token
          <input
            type="password"
            autoComplete="off"
            spellCheck={false}
            value={draft}
            onChange={(event) => setDraft(event.target.value)}
            data-testid="sign-in-token"
          />
        </label>
        <button
          type="submit"
          disabled={checking || draft.trim() === ''}
          data-testid="sign-in-submit"
        >
          {checking ? 'Checking…' : 'Sign in'}
        </button>
      </form>
      {message !== null ? (
        <p className="error-message" role="alert" data-testid="sign-in-error">
          {message}
        </p>
      ) : null}
    </section>
  )
}
