import type { SessionCredential, SessionResponse } from '@kiln/wire'
import { describe, expect, it } from 'vitest'
import {
  canRead,
  isTenantId,
  resolveAccess,
  tokenProblem,
  tokenProblemMessage,
} from './session-access'

function session(
  options: Partial<Omit<SessionResponse, 'credential'>> & {
    credential?: Partial<SessionCredential> | null
  } = {},
): SessionResponse {
  const { credential = null, ...rest } = options
  return {
    readRequiresToken: false,
    multiTenant: false,
    ...rest,
    credential:
      credential === null ? null : { valid: true, scopes: [], tenants: null, ...credential },
  }
}

const noToken = { token: null, tenant: null }
const withToken = (tenant: string | null = null) => ({ token: 't', tenant })

describe('tokenProblem', () => {
  it('tells an unknown token from one without the read scope', () => {
    expect(tokenProblem(session({ credential: { valid: false } }))).toEqual({ kind: 'invalid' })
    expect(tokenProblem(session({ credential: { scopes: ['ingest'] } }))).toEqual({
      kind: 'cannot-read',
      scopes: ['ingest'],
    })
    expect(tokenProblem(session({ credential: { scopes: ['read'] } }))).toBeNull()
    expect(tokenProblem(session({ credential: { scopes: ['admin'] } }))).toBeNull()
    expect(tokenProblem(session())).toBeNull()
  })

  it('says what is wrong in one sentence', () => {
    expect(tokenProblemMessage({ kind: 'invalid' })).toBe('This token is not valid.')
    expect(tokenProblemMessage({ kind: 'cannot-read', scopes: ['ingest'] })).toBe(
      'This token cannot read profiles: it has scopes ingest.',
    )
    expect(tokenProblemMessage({ kind: 'cannot-read', scopes: [] })).toMatch(/no scopes/)
  })

  it('counts admin as able to read', () => {
    expect(canRead(['admin'])).toBe(true)
    expect(canRead(['ingest'])).toBe(false)
  })
})

describe('resolveAccess', () => {
  it('goes straight to the views when the server needs neither token nor tenant', () => {
    expect(resolveAccess(session(), noToken)).toMatchObject({
      kind: 'ready',
      tenant: null,
      choice: 'none',
      hasToken: false,
      forgetToken: false,
    })
  })

  it('asks for a token when reads need one and the tab holds none, a bad one or a weak one', () => {
    const required = { readRequiresToken: true }
    expect(resolveAccess(session(required), noToken)).toEqual({ kind: 'sign-in', problem: null })
    expect(
      resolveAccess(session({ ...required, credential: { valid: false } }), withToken()),
    ).toEqual({ kind: 'sign-in', problem: { kind: 'invalid' } })
    expect(
      resolveAccess(session({ ...required, credential: { scopes: ['ingest'] } }), withToken()),
    ).toEqual({ kind: 'sign-in', problem: { kind: 'cannot-read', scopes: ['ingest'] } })
    expect(
      resolveAccess(session({ ...required, credential: { scopes: ['read'] } }), withToken()),
    ).toMatchObject({ kind: 'ready', hasToken: true })
  })

  it('drops a token the server does not know when it does not need one', () => {
    expect(resolveAccess(session({ credential: { valid: false } }), withToken())).toMatchObject({
      kind: 'ready',
      hasToken: false,
      forgetToken: true,
    })
  })

  it('uses the one tenant a token is bound to, whatever the tab stored', () => {
    const bound = session({
      readRequiresToken: true,
      multiTenant: true,
      credential: { scopes: ['read'], tenants: ['acme'] },
    })
    for (const stored of [null, 'acme', 'globex']) {
      expect(resolveAccess(bound, withToken(stored))).toMatchObject({
        kind: 'ready',
        tenant: 'acme',
        choice: 'none',
      })
    }
  })

  it('offers the tenants of a token bound to several, and keeps a stored one among them', () => {
    const tenants = ['acme', 'globex']
    const several = session({
      readRequiresToken: true,
      multiTenant: true,
      credential: { scopes: ['read'], tenants },
    })
    expect(resolveAccess(several, withToken())).toEqual({
      kind: 'pick-tenant',
      tenants,
      hasToken: true,
    })
    expect(resolveAccess(several, withToken('initech'))).toMatchObject({ kind: 'pick-tenant' })
    expect(resolveAccess(several, withToken('globex'))).toMatchObject({
      kind: 'ready',
      tenant: 'globex',
      choice: 'list',
      tenants,
    })
  })

  it('asks for any tenant id when the token is unbound or no token is needed', () => {
    const open = session({ multiTenant: true })
    expect(resolveAccess(open, noToken)).toEqual({
      kind: 'pick-tenant',
      tenants: null,
      hasToken: false,
    })
    expect(resolveAccess(open, { token: null, tenant: 'acme' })).toMatchObject({
      kind: 'ready',
      tenant: 'acme',
      choice: 'any',
    })
    expect(resolveAccess(open, { token: null, tenant: 'no spaces' })).toMatchObject({
      kind: 'pick-tenant',
    })
    const unbound = session({ multiTenant: true, credential: { scopes: ['read'] } })
    expect(resolveAccess(unbound, withToken('acme'))).toMatchObject({
      kind: 'ready',
      choice: 'any',
      hasToken: true,
    })
  })

  it('shows no tenant on a single-tenant server, even one stored earlier', () => {
    expect(resolveAccess(session(), { token: null, tenant: 'acme' })).toMatchObject({
      kind: 'ready',
      tenant: null,
    })
  })
})

describe('isTenantId', () => {
  it('follows the wire pattern', () => {
    expect(isTenantId('acme-1.eu_west')).toBe(true)
    expect(isTenantId('')).toBe(false)
    expect(isTenantId('a b')).toBe(false)
    expect(isTenantId('x'.repeat(129))).toBe(false)
  })
})
