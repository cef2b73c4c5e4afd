import { timingSafeEqual } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { KilnConfig } from '../config/config-schema.js'
import { KilnError } from '../errors.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** The tenant of the request: `X-Scope-OrgID` in multi-tenant mode, else `default`. */
    tenant: string
  }
}

export const DEFAULT_TENANT = 'default'
const TENANT_RE = /^[A-Za-z0-9_.-]{1,128}$/

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

/** The token of `Authorization: Bearer T` or of `Basic base64(user:T)` (Grafana-style clients). */
export function tokenOf(header: string | undefined): string | undefined {
  if (!header) return undefined
  const [scheme, value = ''] = header.split(' ', 2)
  if (scheme?.toLowerCase() === 'bearer') return value.trim()
  if (scheme?.toLowerCase() === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8')
    const colon = decoded.indexOf(':')
    return colon === -1 ? undefined : decoded.slice(colon + 1)
  }
  return undefined
}

/**
 * Authentication and tenancy. With `authTokens` set, ingest (and queries when `authQueries`)
 * need one of the tokens. With `multiTenant`, every request names its tenant in
 * `X-Scope-OrgID` (as Pyroscope, Loki and Mimir do), and data never crosses tenants.
 */
export const authPlugin = fp<{ config: KilnConfig }>(
  async (fastify, { config }) => {
    const tokens = (config.authTokens ?? '')
      .split(',')
      .map((t) => t.trim())
      .filter(Boolean)
    fastify.decorateRequest('tenant', DEFAULT_TENANT)

    const needsAuth = (request: FastifyRequest): boolean => {
      const path = request.url.split('?')[0] ?? ''
      if (path === '/ingest' || path.startsWith('/api/v1/hooks/')) return true
      // Running the detectors may call out to webhooks: never anonymous when tokens are set.
      if (path === '/api/v1/findings/run') return true
      return config.authQueries && path.startsWith('/api/')
    }

    fastify.addHook('onRequest', async (request) => {
      if (tokens.length > 0 && needsAuth(request)) {
        const token = tokenOf(request.headers.authorization)
        if (!token)
          throw new KilnError('KILN_ERR_UNAUTHORIZED', 'send Authorization: Bearer <token>')
        if (!tokens.some((t) => safeEqual(t, token))) {
          throw new KilnError('KILN_ERR_UNAUTHORIZED', 'unknown token')
        }
      }
      if (config.multiTenant && request.url.startsWith('/')) {
        const path = request.url.split('?')[0] ?? ''
        if (path === '/ingest' || path.startsWith('/api/')) {
          const tenant = request.headers['x-scope-orgid']
          if (typeof tenant !== 'string' || !TENANT_RE.test(tenant)) {
            throw new KilnError(
              'KILN_ERR_TENANT_REQUIRED',
              `X-Scope-OrgID must match ${TENANT_RE.source}`,
            )
          }
          request.tenant = tenant
        }
      }
    })
  },
  { name: 'kiln-auth', fastify: '5.x' },
)
