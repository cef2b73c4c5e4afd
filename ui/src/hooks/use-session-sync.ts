import { useEffect } from 'react'
import type { SessionStore, StoredSession } from '../session'
import type { Access } from '../session-access'

/**
 * Make the tab's stored session agree with the access the server granted: store the tenant the
 * token implies (or none, on a single-tenant server), and drop a token the server neither knows
 * nor needs. Returns whether they agree already, so no request goes out with stale headers.
 */
export function useSessionSync(
  store: SessionStore,
  stored: StoredSession,
  access: Access | null,
): boolean {
  const ready = access?.kind === 'ready' ? access : null
  const tenant = ready?.tenant
  const forgetToken = ready?.forgetToken === true
  useEffect(() => {
    if (forgetToken) store.signOut()
    else if (tenant !== undefined && tenant !== stored.tenant) store.setTenant(tenant)
  }, [store, tenant, forgetToken, stored.tenant])
  return ready !== null && !forgetToken && ready.tenant === stored.tenant
}
