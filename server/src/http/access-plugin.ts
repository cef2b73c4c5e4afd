import { readFileSync } from 'node:fs'
import rateLimit from '@fastify/rate-limit'
import type { FastifyRequest, RouteOptions } from 'fastify'
import fp from 'fastify-plugin'
import {
  SESSION_PATH,
  TOKEN_SCOPES,
  type AccessLevel,
  type SessionResponse,
  type TokenScope,
} from '@kiln/wire'
import type { KilnConfig } from '../config/config-schema.js'
import { ConfigError } from '../config/resolve-config.js'
import { KilnError, isKilnError } from '../errors.js'
import {
  DEFAULT_TENANT,
  decideAccess,
  needsToken,
  readCredentials,
  type AccessPolicy,
} from './access-policy.js'
import { legacyTokens, parseTokens, TokenRegistry, type Principal } from './tokens.js'

export { DEFAULT_TENANT } from './access-policy.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * What the route needs; every route declares it, and a route without it stops the server
     * from starting. The access hook decides from this, never from the URL.
     */
    access?: AccessLevel
    /**
     * A public route that reads the store for some requests (`/open`) counts against the
     * query rate limit all the same.
     */
    rateClass?: 'query'
  }
  interface FastifyRequest {
    /** The tenant the request acts for: from its token or `X-Scope-OrgID`, else `default`. */
    tenant: string
    /** The token's principal, once the access hook has run; `undefined` without a token. */
    principal: Principal | undefined
  }
  interface FastifyInstance {
    /** Every route and what it declared (for tests and the threat model's route table). */
    accessTable: readonly RouteAccess[]
    /**
     * What a request of a public route could read, decided as for a `read` route; `undefined`
     * when it could not (no token where one is needed, no tenant where one must be named).
     * `tenant` stands in for `X-Scope-OrgID` when the request sends none (a link's parameter).
     */
    readAccess(request: FastifyRequest, tenant?: string): Promise<{ tenant: string } | undefined>
  }
}

export interface RouteAccess {
  readonly method: string
  readonly url: string
  readonly access: AccessLevel
}

const ACCESS_LEVELS: readonly AccessLevel[] = ['public', 'ingest', 'read', 'admin']

/** The configured tokens: `tokens`, `tokensFile` and the first form, `authTokens`. */
export function loadTokens(
  config: Pick<KilnConfig, 'tokens' | 'tokensFile' | 'authTokens' | 'multiTenant'>,
): TokenRegistry {
  const problems: string[] = []
  const entries = []
  for (const [source, text] of [
    ['KILN_TOKENS', config.tokens],
    [
      'KILN_TOKENS_FILE',
      config.tokensFile === undefined ? undefined : readTokensFile(config.tokensFile, problems),
    ],
  ] as const) {
    if (text === undefined) continue
    const parsed = parseTokens(text)
    problems.push(...parsed.problems.map((p) => `${source}: ${p}`))
    entries.push(...parsed.entries)
  }
  entries.push(...legacyTokens(config.authTokens))
  const registry = new TokenRegistry(entries)
  if (registry.hasTenantBindings && !config.multiTenant) {
    problems.push('tokens bound to tenants (`scope@tenant=token`) need KILN_MULTI_TENANT=true')
  }
  if (problems.length > 0) throw new ConfigError(problems)
  return registry
}

function readTokensFile(path: string, problems: string[]): string | undefined {
  try {
    return readFileSync(path, 'utf8')
  } catch (error) {
    problems.push(`KILN_TOKENS_FILE: cannot read ${path}: ${(error as Error).message}`)
    return undefined
  }
}

/**
 * Access control, decided on the route that will run:
 * - every route declares `config.access` (`public`, `ingest`, `read`, `admin`); an `onRoute`
 *   hook refuses to register a route without it, so a forgotten declaration stops the server at
 *   start instead of leaving the route open;
 * - one `onRequest` hook reads the matched route's declaration (the router has already decoded
 *   and matched the path: `/%69ngest` is `/ingest` here, as it is for the handler) and decides
 *   with `decideAccess`; a request that matches no route goes to the 404 handler, no other;
 * - rate limits per token (or client address) and tenant: ingest and queries separately, and
 *   failed authentications per client address, all answering 429 with `Retry-After`;
 * - `GET /api/v1/session`: what the server requires and what the sent token allows (the UI asks
 *   before it shows a sign-in).
 * Register it before any plugin that adds routes.
 */
export const accessPlugin = fp<{ config: KilnConfig }>(
  async (fastify, { config }) => {
    const policy: AccessPolicy = {
      tokens: loadTokens(config),
      authQueries: config.authQueries,
      multiTenant: config.multiTenant,
    }
    const table: RouteAccess[] = []
    fastify.decorate('accessTable', table)
    fastify.decorateRequest('tenant', DEFAULT_TENANT)
    fastify.decorateRequest('principal', undefined)

    fastify.addHook('onRoute', (route: RouteOptions) => {
      const access = route.config?.access
      const methods = [route.method].flat().join(',')
      if (access === undefined || !ACCESS_LEVELS.includes(access)) {
        throw new Error(
          `route ${methods} ${route.url} declares no access (config.access: ${ACCESS_LEVELS.join(' | ')})`,
        )
      }
      table.push({ method: methods, url: route.url, access })
    })

    const classOf = (request: FastifyRequest): 'ingest' | 'query' | undefined => {
      const access = request.routeOptions.config.access
      if (access === 'public') return request.routeOptions.config.rateClass
      if (access === undefined) return undefined
      return access === 'ingest' ? 'ingest' : 'query'
    }
    const limitOf = (kind: 'ingest' | 'query'): number =>
      kind === 'ingest' ? config.rateLimitIngestPerMinute : config.rateLimitQueryPerMinute
    // Per token and tenant (or client address without a token), ingest and queries apart. Routes
    // registered after this get the limiter as a route-level onRequest hook, which runs after
    // the access hook below: the key is the authenticated principal, not a claimed one.
    await fastify.register(rateLimit, {
      global: true,
      hook: 'onRequest',
      timeWindow: 60_000,
      allowList: (request) => {
        const kind = classOf(request)
        return kind === undefined || limitOf(kind) === 0
      },
      max: (request) => limitOf(classOf(request) ?? 'query'),
      // Without a token the tenant is only a claim: an address gets one budget whatever
      // X-Scope-OrgID it names, or rotating the header would multiply it.
      keyGenerator: (request) =>
        request.principal
          ? `${classOf(request)}|token:${request.principal.id}|${request.tenant}`
          : `${classOf(request)}|ip:${request.ip}`,
      errorResponseBuilder: (_request, context) =>
        rateLimited(Math.ceil(context.ttl / 1000), `over ${context.max} requests a minute`),
    })
    // Failed authentications per client address, whatever the route: guessing tokens is slow.
    const failureLimiter = fastify.createRateLimit({
      max: config.authFailuresPerMinute,
      timeWindow: 60_000,
      keyGenerator: (request: FastifyRequest) => `auth-failure|${request.ip}`,
    })
    const noteFailure = async (request: FastifyRequest): Promise<void> => {
      const limit = await failureLimiter(request)
      if (!limit.isAllowed && limit.isExceeded) {
        throw rateLimited(limit.ttlInSeconds, 'too many failed authentications from this address')
      }
    }

    // A refused token counts as a failed authentication here too: the answer tells a known
    // token from an unknown one, so guessing through it must be as slow as anywhere.
    fastify.decorate('readAccess', async (request: FastifyRequest, tenant?: string) => {
      const credentials = readCredentials(request.headers)
      const claimed =
        credentials.tenantHeader === undefined && tenant !== undefined
          ? { ...credentials, tenantHeader: tenant }
          : credentials
      try {
        return { tenant: decideAccess('read', claimed, policy).tenant }
      } catch (error) {
        if (isKilnError(error) && error.code === 'KILN_ERR_UNAUTHORIZED' && credentials.sent) {
          await noteFailure(request)
        }
        return undefined
      }
    })

    fastify.addHook('onRequest', async (request) => {
      if (request.is404) return
      const access = request.routeOptions.config.access
      // Every registered route was checked by the onRoute hook; fail closed all the same.
      if (access === undefined) throw new KilnError('KILN_ERR_INTERNAL', 'route without access')
      try {
        const decision = decideAccess(access, readCredentials(request.headers), policy)
        request.tenant = decision.tenant
        request.principal = decision.principal
      } catch (error) {
        if (isKilnError(error) && error.code === 'KILN_ERR_UNAUTHORIZED') await noteFailure(request)
        throw error
      }
    })

    fastify.get(SESSION_PATH, { config: { access: 'public' } }, async (request) => {
      const credentials = readCredentials(request.headers)
      const response: SessionResponse = {
        readRequiresToken: needsToken('read', policy),
        multiTenant: policy.multiTenant,
        credential: null,
      }
      if (!credentials.sent) return response
      const principal = policy.tokens.find(credentials.token)
      if (principal === undefined) {
        if (policy.tokens.size > 0) await noteFailure(request)
        return { ...response, credential: { valid: false, scopes: [], tenants: null } }
      }
      const scopes: TokenScope[] = principal.scopes.includes('admin')
        ? [...TOKEN_SCOPES]
        : [...principal.scopes]
      return {
        ...response,
        credential: {
          valid: true,
          scopes,
          tenants: principal.tenants ? [...principal.tenants] : null,
        },
      }
    })
  },
  { name: 'kiln-access', fastify: '5.x' },
)

/** A 429 whose `Retry-After` the error handler sends. */
function rateLimited(retryAfterSeconds: number, detail: string): KilnError {
  const seconds = Math.max(1, retryAfterSeconds)
  return new KilnError('KILN_ERR_RATE_LIMITED', `${detail}; retry in ${seconds} s`, {
    retryAfterSeconds: seconds,
  })
}
