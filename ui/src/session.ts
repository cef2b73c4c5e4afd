import { TENANT_HEADER } from '@kiln/wire'

/*
 * The credential of this browser tab: the read token and the chosen tenant. Both live in
 * `sessionStorage`, so they last as long as the tab and are gone when it closes; never in the URL
 * (links get shared and logged), never in `localStorage` (it outlives the tab and is shared by
 * every tab). Nothing here logs them.
 */

/** What the tab holds. `signIns` changes with each new token, so a probe keyed on it re-runs. */
export interface StoredSession {
  readonly token: string | null
  readonly tenant: string | null
  readonly signIns: number
}

/** The part of `Storage` used here, so tests can pass a `Map`-backed one. */
export type KeyValueStorage = Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>

export const TOKEN_STORAGE_KEY = 'kiln.session.token'
export const TENANT_STORAGE_KEY = 'kiln.session.tenant'

export interface SessionStore {
  /** The same object until something changes (what `useSyncExternalStore` needs). */
  get(): StoredSession
  setToken(token: string): void
  setTenant(tenant: string | null): void
  /** Forget the token and the tenant. */
  signOut(): void
  subscribe(listener: () => void): () => void
}

/**
 * A store over `storage`, or over memory alone when there is none (private modes may refuse
 * `sessionStorage`; the tab then signs in again after a reload).
 */
export function createSessionStore(storage: KeyValueStorage | null): SessionStore {
  const memory = new Map<string, string>()
  const read = (key: string): string | null => {
    try {
      return storage ? storage.getItem(key) : (memory.get(key) ?? null)
    } catch {
      return memory.get(key) ?? null
    }
  }
  const write = (key: string, value: string | null): void => {
    if (value === null) memory.delete(key)
    else memory.set(key, value)
    try {
      if (value === null) storage?.removeItem(key)
      else storage?.setItem(key, value)
    } catch {
      // Quota or a refused storage: the memory copy serves this page.
    }
  }
  const nonEmpty = (value: string | null) => (value === null || value === '' ? null : value)

  let snapshot: StoredSession = {
    token: nonEmpty(read(TOKEN_STORAGE_KEY)),
    tenant: nonEmpty(read(TENANT_STORAGE_KEY)),
    signIns: 0,
  }
  const listeners = new Set<() => void>()
  const update = (next: StoredSession) => {
    if (next.token === snapshot.token && next.tenant === snapshot.tenant) return
    write(TOKEN_STORAGE_KEY, next.token)
    write(TENANT_STORAGE_KEY, next.tenant)
    snapshot = next
    for (const listener of listeners) listener()
  }

  return {
    get: () => snapshot,
    setToken: (token) =>
      update({ ...snapshot, token: nonEmpty(token), signIns: snapshot.signIns + 1 }),
    setTenant: (tenant) => update({ ...snapshot, tenant: nonEmpty(tenant) }),
    signOut: () => update({ token: null, tenant: null, signIns: snapshot.signIns + 1 }),
    subscribe(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
  }
}

/** The headers that carry the session on every API request. */
export function sessionHeaders(
  session: Pick<StoredSession, 'token' | 'tenant'>,
): Record<string, string> {
  const headers: Record<string, string> = {}
  if (session.token !== null) headers.authorization = `Bearer ${session.token}`
  if (session.tenant !== null) headers[TENANT_HEADER] = session.tenant
  return headers
}

/** The tab's `sessionStorage`, or null where there is none or it is refused. */
function tabStorage(): KeyValueStorage | null {
  try {
    return typeof sessionStorage === 'undefined' ? null : sessionStorage
  } catch {
    return null
  }
}

let tabStore: SessionStore | undefined

/** The store of this tab, made on first use (not at import). */
export function sessionStore(): SessionStore {
  tabStore ??= createSessionStore(tabStorage())
  return tabStore
}
