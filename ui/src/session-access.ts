import { TENANT_PATTERN, type SessionResponse, type TokenScope } from '@kiln/wire'
import type { StoredSession } from './session'

/*
 * What the UI must ask of the reader before it can show profiles, from the server's
 * `GET /api/v1/session` answer and what the tab holds.
 */

/** Why a token cannot be used to read profiles. */
export type TokenProblem =
  { kind: 'invalid' } | { kind: 'cannot-read'; scopes: readonly TokenScope[] }

/** How the tenant came to be, which says whether the reader may switch it. */
export type TenantChoice =
  /** Not a multi-tenant server, or a token bound to one tenant: nothing to choose. */
  | 'none'
  /** A token bound to several tenants: pick among them. */
  | 'list'
  /** Any tenant id (a token bound to none, or no token needed): type it. */
  | 'any'

export type Access =
  /** Ask for a token; `problem` says what was wrong with the one held, if any. */
  | { kind: 'sign-in'; problem: TokenProblem | null }
  /** Ask for a tenant: among `tenants`, or any id when `null`. */
  | { kind: 'pick-tenant'; tenants: readonly string[] | null; hasToken: boolean }
  /**
   * Show profiles. `tenant` is the one every request names (null when not multi-tenant);
   * `tenants` the ones to switch among when `choice` is `list`; `forgetToken` when the tab
   * holds a token the server does not know and does not need.
   */
  | {
      kind: 'ready'
      tenant: string | null
      choice: TenantChoice
      tenants: readonly string[] | null
      hasToken: boolean
      forgetToken: boolean
    }

/** Whether the scopes allow reading profiles (`admin` implies `read`). */
export function canRead(scopes: readonly TokenScope[]): boolean {
  return scopes.includes('read') || scopes.includes('admin')
}

/** What is wrong with the credential the session answer describes, for reading profiles. */
export function tokenProblem(session: SessionResponse): TokenProblem | null {
  const credential = session.credential
  if (credential === null) return null
  if (!credential.valid) return { kind: 'invalid' }
  if (!canRead(credential.scopes)) return { kind: 'cannot-read', scopes: credential.scopes }
  return null
}

/** The sentence the sign-in view shows for a problem. */
export function tokenProblemMessage(problem: TokenProblem): string {
  if (problem.kind === 'invalid') return 'This token is not valid.'
  const scopes = problem.scopes.length > 0 ? `scopes ${problem.scopes.join(', ')}` : 'no scopes'
  return `This token cannot read profiles: it has ${scopes}.`
}

const tenantPattern = new RegExp(TENANT_PATTERN)

/** Whether `tenant` is a tenant id the server accepts in `X-Scope-OrgID`. */
export function isTenantId(tenant: string): boolean {
  return tenantPattern.test(tenant)
}

/** What to show, given the server's session answer and what the tab holds. */
export function resolveAccess(
  session: SessionResponse,
  stored: Pick<StoredSession, 'token' | 'tenant'>,
): Access {
  const problem = stored.token === null ? null : tokenProblem(session)
  const valid = session.credential?.valid === true && stored.token !== null
  if (session.readRequiresToken && (!valid || problem !== null)) {
    return { kind: 'sign-in', problem }
  }
  // A token the server does not know but does not need either: read without it.
  const held = { hasToken: valid, forgetToken: stored.token !== null && !valid }
  if (!session.multiTenant) {
    return { kind: 'ready', tenant: null, choice: 'none', tenants: null, ...held }
  }
  const bound = valid ? (session.credential?.tenants ?? null) : null
  if (bound === null) {
    return stored.tenant !== null && isTenantId(stored.tenant)
      ? { kind: 'ready', tenant: stored.tenant, choice: 'any', tenants: null, ...held }
      : { kind: 'pick-tenant', tenants: null, hasToken: held.hasToken }
  }
  if (bound.length === 1) {
    return { kind: 'ready', tenant: bound[0]!, choice: 'none', tenants: null, ...held }
  }
  return stored.tenant !== null && bound.includes(stored.tenant)
    ? { kind: 'ready', tenant: stored.tenant, choice: 'list', tenants: bound, ...held }
    : { kind: 'pick-tenant', tenants: bound, hasToken: held.hasToken }
}
