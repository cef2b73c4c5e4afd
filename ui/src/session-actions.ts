import { createContext, useContext } from 'react'

/** What an error state may offer when the server refuses the credential or the tenant. */
export interface SessionActions {
  /** Forget the token and show the sign-in view. */
  signInAgain(): void
  /** Show the tenant picker; null when there is no other tenant to choose. */
  switchTenant: (() => void) | null
}

/** Null outside the signed-in app (e.g. while the session itself is loading). */
export const SessionActionsContext = createContext<SessionActions | null>(null)

export function useSessionActions(): SessionActions | null {
  return useContext(SessionActionsContext)
}
