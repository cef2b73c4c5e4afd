/*
 * Access control as both sides see it: what a route needs, what a token may do, and what the
 * server says of the credential a client holds (`GET /api/v1/session`, read by the UI before
 * it asks for a token).
 */

/**
 * What a route needs, declared on the route itself:
 * - `public`: anyone (health, metrics, the UI's files, the API description, the session probe);
 * - `ingest`: sending profiles (agents, Pyroscope clients) and alert webhooks;
 * - `read`: querying profiles, alerts and findings (the UI, the API, Grafana);
 * - `admin`: running the detectors and other operator actions.
 */
export type AccessLevel = 'public' | 'ingest' | 'read' | 'admin'

/** The scopes a token can carry; `admin` implies the other two. */
export const TOKEN_SCOPES = ['ingest', 'read', 'admin'] as const
export type TokenScope = (typeof TOKEN_SCOPES)[number]

/** The request header that names the tenant (as Pyroscope, Loki and Mimir use it). */
export const TENANT_HEADER = 'x-scope-orgid'

/** A tenant id: what `X-Scope-OrgID` and a token's tenant binding may hold. */
export const TENANT_PATTERN = '^[A-Za-z0-9_.-]{1,128}$'

/** The session route: public, so a client can learn what it needs before it has a token. */
export const SESSION_PATH = '/api/v1/session'

/** `GET /api/v1/session`: what the server requires, and what the credential sent allows. */
export interface SessionResponse {
  /** Whether reading profiles needs a token with the `read` scope. */
  readRequiresToken: boolean
  /** Whether every request names a tenant (`X-Scope-OrgID`, or the token's binding). */
  multiTenant: boolean
  /** `null` when the request carried no credential. */
  credential: SessionCredential | null
}

export interface SessionCredential {
  /** False for an unknown token: nothing below applies then. */
  valid: boolean
  /** What the token may do (`admin` implies `ingest` and `read`); empty when not valid. */
  scopes: TokenScope[]
  /** The tenants the token is bound to; `null` when it may name any tenant. */
  tenants: string[] | null
}
