import type { SessionResponse } from '@kiln/wire'
import { useState, useSyncExternalStore, type ReactNode } from 'react'
import { fetchSession } from './api'
import { ApiError } from './api-error'
import { ErrorState } from './components/ErrorState'
import { LoadingState } from './components/LoadingState'
import { SessionControls } from './components/SessionControls'
import { SignInView } from './components/SignInView'
import { TenantPicker } from './components/TenantPicker'
import { useResource } from './hooks/use-resource'
import { useSessionSync } from './hooks/use-session-sync'
import { sessionStore } from './session'
import { resolveAccess } from './session-access'
import { SessionActionsContext, type SessionActions } from './session-actions'
import { Workspace } from './Workspace'

/** What a server without the session route (older than access control) requires: nothing. */
const OPEN_SERVER: SessionResponse = {
  readRequiresToken: false,
  multiTenant: false,
  credential: null,
}

async function probeSession(token: string | null, signal: AbortSignal): Promise<SessionResponse> {
  try {
    return await fetchSession(token, signal)
  } catch (error) {
    if (error instanceof ApiError && error.statusCode === 404) return OPEN_SERVER
    throw error
  }
}

/**
 * Asks the server what it requires (`/api/v1/session`) and, before showing profiles, a token
 * (when reads need one) and a tenant (when the server is multi-tenant and the token does not
 * imply one). A server that requires neither goes straight to the views.
 */
export function App() {
  const store = sessionStore()
  const stored = useSyncExternalStore(store.subscribe, store.get)
  const [retries, setRetries] = useState(0)
  const [switching, setSwitching] = useState(false)
  const probe = useResource(
    { key: `session${stored.signIns}`, load: (signal) => probeSession(stored.token, signal) },
    retries,
  )
  const access = probe.data ? resolveAccess(probe.data, stored) : null
  const synced = useSessionSync(store, stored, access)

  const ready = access?.kind === 'ready' ? access : null
  const switchTenant = ready !== null && ready.choice !== 'none' ? () => setSwitching(true) : null
  const signOut = () => {
    setSwitching(false)
    store.signOut()
  }
  const actions: SessionActions = { signInAgain: signOut, switchTenant }

  let body: ReactNode
  if (probe.error !== undefined) {
    body = (
      <ErrorState what="the session" error={probe.error} onRetry={() => setRetries((n) => n + 1)} />
    )
  } else if (access === null) {
    body = <LoadingState what="the session" />
  } else if (access.kind === 'sign-in') {
    body = (
      <SignInView
        key={stored.signIns}
        problem={access.problem}
        onSignedIn={(token) => store.setToken(token)}
      />
    )
  } else if (access.kind === 'pick-tenant' || switching) {
    const onPick = (tenant: string) => {
      // Another tenant has other services: what the URL named belonged to the one left.
      if (stored.tenant !== null && tenant !== stored.tenant) forgetServiceInUrl()
      setSwitching(false)
      store.setTenant(tenant)
    }
    body = (
      <TenantPicker
        tenants={access.tenants}
        current={stored.tenant}
        onPick={onPick}
        {...(access.kind === 'ready' ? { onCancel: () => setSwitching(false) } : {})}
      />
    )
  } else if (!synced) {
    body = <LoadingState what="the session" />
  } else {
    return (
      <SessionActionsContext value={actions}>
        <Workspace
          // A new token or tenant is another view of the data: start afresh, drop every answer.
          key={`${stored.signIns}/${access.tenant ?? ''}`}
          sessionControls={
            <SessionControls
              tenant={access.tenant}
              onSwitchTenant={switchTenant}
              onSignOut={access.hasToken ? signOut : null}
            />
          }
        />
      </SessionActionsContext>
    )
  }
  const hasToken = access !== null && access.kind !== 'sign-in' && access.hasToken
  return (
    <div className="app">
      <header className="app-header">
        <h1>Kiln</h1>
        <SessionControls
          tenant={null}
          onSwitchTenant={null}
          onSignOut={hasToken ? signOut : null}
        />
      </header>
      <main className="app-main">{body}</main>
    </div>
  )
}

/** Drop the service and what hangs on it from the URL (the view and its windows stay). */
function forgetServiceInUrl(): void {
  const url = new URL(window.location.href)
  for (const name of ['service', 'type', 'query', 'baseQuery', 'compQuery', 'focus', 'focusFile']) {
    url.searchParams.delete(name)
  }
  window.history.replaceState(window.history.state, '', url)
}
