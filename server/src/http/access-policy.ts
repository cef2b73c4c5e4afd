import { TENANT_PATTERN, type AccessLevel } from '@kiln/wire'
import { KilnError } from '../errors.js'
import { grants, type Principal, type TokenRegistry } from './tokens.js'

export const DEFAULT_TENANT = 'default'
const TENANT_RE = new RegExp(TENANT_PATTERN)

/** What the server was told to require. */
export interface AccessPolicy {
  readonly tokens: TokenRegistry
  /** Reads need a token with the `read` scope (when any token is configured). */
  readonly authQueries: boolean
  readonly multiTenant: boolean
}

/** What a request presents: a token, a Basic auth user name, a tenant header. */
export interface Credentials {
  /** `Authorization` was sent (whether or not it could be read). */
  readonly sent: boolean
  /** The token: of `Bearer T`, or the password of `Basic base64(user:T)`. */
  readonly token: string | undefined
  /** The user of Basic auth: the tenant, as Grafana Cloud clients send it. */
  readonly basicUser: string | undefined
  /** `X-Scope-OrgID`, as received (repeated headers arrive joined, and fail the pattern). */
  readonly tenantHeader: string | undefined
}

/** Read the credentials of a request's headers; never throws, never logs. */
export function readCredentials(headers: {
  authorization?: string | undefined
  'x-scope-orgid'?: string | string[] | undefined
}): Credentials {
  const raw = headers['x-scope-orgid']
  const tenantHeader = Array.isArray(raw) ? raw.join(',') : raw
  const header = headers.authorization
  if (header === undefined)
    return { sent: false, token: undefined, basicUser: undefined, tenantHeader }
  const space = header.indexOf(' ')
  const scheme = (space === -1 ? header : header.slice(0, space)).toLowerCase()
  const value = space === -1 ? '' : header.slice(space + 1).trim()
  if (scheme === 'bearer' && value !== '') {
    return { sent: true, token: value, basicUser: undefined, tenantHeader }
  }
  if (scheme === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8')
    const colon = decoded.indexOf(':')
    if (colon !== -1) {
      const user = decoded.slice(0, colon)
      return {
        sent: true,
        token: decoded.slice(colon + 1),
        basicUser: user === '' ? undefined : user,
        tenantHeader,
      }
    }
  }
  return { sent: true, token: undefined, basicUser: undefined, tenantHeader }
}

/** Who may do what, once decided: the tenant the request acts for and its principal. */
export interface AccessDecision {
  readonly tenant: string
  /** The token's principal; `undefined` for a request without a (needed) token. */
  readonly principal: Principal | undefined
}

/** Whether a route of this level needs a token under this policy. */
export function needsToken(access: AccessLevel, policy: AccessPolicy): boolean {
  if (access === 'public' || policy.tokens.size === 0) return false
  return access !== 'read' || policy.authQueries
}

/**
 * Decide a request to a route that declared `access`. Throws the 401/403 to answer, else says
 * which tenant the request acts for. The rules, in order:
 * 1. Without configured tokens, credentials are ignored (a Pyroscope client configured with a
 *    token still works against an open server).
 * 2. A credential that is sent must be a known token (401), whether or not the route needs one.
 * 3. A route that needs a token refuses a request without one (401) or whose token lacks the
 *    route's scope (403).
 * 4. Multi-tenant: the tenant is named by `X-Scope-OrgID` or the Basic auth user (both must agree
 *    when both are sent); a token bound to tenants allows only those (403), and names its tenant
 *    itself when it has one. Single-tenant: every request is the `default` tenant.
 */
export function decideAccess(
  access: AccessLevel,
  credentials: Credentials,
  policy: AccessPolicy,
): AccessDecision {
  if (access === 'public') return { tenant: DEFAULT_TENANT, principal: undefined }
  let principal: Principal | undefined
  if (policy.tokens.size > 0 && credentials.sent) {
    principal = policy.tokens.find(credentials.token)
    if (principal === undefined) {
      throw new KilnError('KILN_ERR_UNAUTHORIZED', 'unknown token')
    }
  }
  if (needsToken(access, policy)) {
    if (principal === undefined) {
      throw new KilnError('KILN_ERR_UNAUTHORIZED', 'send Authorization: Bearer <token>')
    }
    if (!grants(principal.scopes, access)) {
      throw new KilnError(
        'KILN_ERR_FORBIDDEN',
        `this token has scope ${principal.scopes.join('+')}; the route needs ${access}`,
      )
    }
  }
  if (!policy.multiTenant) return { tenant: DEFAULT_TENANT, principal }
  return { tenant: tenantOf(credentials, principal), principal }
}

function tenantOf(credentials: Credentials, principal: Principal | undefined): string {
  const { tenantHeader, basicUser } = credentials
  for (const claim of [tenantHeader, basicUser]) {
    if (claim !== undefined && !TENANT_RE.test(claim)) {
      throw new KilnError(
        'KILN_ERR_TENANT_REQUIRED',
        `X-Scope-OrgID (or the Basic auth user) must match ${TENANT_PATTERN}`,
      )
    }
  }
  if (tenantHeader !== undefined && basicUser !== undefined && tenantHeader !== basicUser) {
    throw new KilnError(
      'KILN_ERR_TENANT_FORBIDDEN',
      'X-Scope-OrgID and the Basic auth user name different tenants',
    )
  }
  const claim = tenantHeader ?? basicUser
  const bound = principal?.tenants ?? null
  if (bound !== null) {
    if (claim === undefined) {
      if (bound.length === 1) return bound[0]!
      throw new KilnError(
        'KILN_ERR_TENANT_REQUIRED',
        `this token may act for ${bound.length} tenants: name one in X-Scope-OrgID`,
      )
    }
    if (!bound.includes(claim)) {
      throw new KilnError('KILN_ERR_TENANT_FORBIDDEN', 'this token may not act for that tenant')
    }
    return claim
  }
  if (claim === undefined) {
    throw new KilnError('KILN_ERR_TENANT_REQUIRED', `send X-Scope-OrgID matching ${TENANT_PATTERN}`)
  }
  return claim
}
