import { describe, expect, it } from 'vitest'
import { decideAccess, readCredentials, type AccessPolicy } from './access-policy.js'
import { grants, legacyTokens, parseTokens, TokenRegistry } from './tokens.js'

describe('parseTokens', () => {
  it('reads scopes, tenants and tokens, with = inside the token', () => {
    const { entries, problems } = parseTokens(
      '# agents\ningest@acme=abc123456789==\nread+ingest@acme|globex = r-0123456789 , admin=adm-0123456789',
    )
    expect(problems).toEqual([])
    expect(entries.map((e) => [e.scopes, e.tenants])).toEqual([
      [['ingest'], ['acme']],
      [
        ['read', 'ingest'],
        ['acme', 'globex'],
      ],
      [['admin'], null],
    ])
    const registry = new TokenRegistry(entries)
    expect(registry.find('abc123456789==')?.tenants).toEqual(['acme'])
    expect(registry.find('abc123456789')).toBeUndefined()
    expect(registry.find('r-0123456789')?.scopes).toEqual(['read', 'ingest'])
  })

  it('collects every problem, naming entries by position and never by token', () => {
    const secret = 'do-not-echo-me'
    const { problems } = parseTokens(
      `nonsense,write=${secret}-1,read@bad tenant!=${secret}-2,read=short,read=${secret}-3,read=${secret}-3`,
    )
    expect(problems).toHaveLength(5)
    expect(problems[0]).toMatch(/^token entry 1: expected scopes/)
    expect(problems[1]).toMatch(/^token entry 2: unknown scope "write"/)
    expect(problems[2]).toMatch(/^token entry 3: tenant "bad tenant!"/)
    expect(problems[3]).toMatch(/^token entry 4: the token must be 8/)
    expect(problems[4]).toMatch(/^token entry 6: the same token is listed twice/)
    expect(problems.join('\n')).not.toContain(secret)
  })

  it('gives the first form of tokens every scope and no tenant', () => {
    const [entry] = legacyTokens(' tok-1 ,')
    expect(entry?.scopes).toEqual(['admin'])
    expect(entry?.tenants).toBeNull()
    expect((['ingest', 'read', 'admin'] as const).every((a) => grants(entry!.scopes, a))).toBe(true)
  })
})

describe('decideAccess', () => {
  const { entries } = parseTokens(
    'ingest@acme=ingest-acme-1,read@acme|globex=read-two-22,admin=admin-token-3',
  )
  const policy = (over: Partial<AccessPolicy> = {}): AccessPolicy => ({
    tokens: new TokenRegistry(entries),
    authQueries: true,
    multiTenant: true,
    ...over,
  })
  const creds = (headers: Record<string, string>) => readCredentials(headers)
  const bearer = (token: string, tenant?: string) =>
    creds({ authorization: `Bearer ${token}`, ...(tenant ? { 'x-scope-orgid': tenant } : {}) })
  const basic = (user: string, token: string) =>
    creds({ authorization: `Basic ${Buffer.from(`${user}:${token}`).toString('base64')}` })
  const code = (fn: () => unknown): string | undefined => {
    try {
      fn()
      return undefined
    } catch (error) {
      return (error as { code?: string }).code
    }
  }

  it('takes the tenant from a token bound to one, and refuses another', () => {
    expect(decideAccess('ingest', bearer('ingest-acme-1'), policy()).tenant).toBe('acme')
    expect(decideAccess('ingest', bearer('ingest-acme-1', 'acme'), policy()).tenant).toBe('acme')
    expect(code(() => decideAccess('ingest', bearer('ingest-acme-1', 'globex'), policy()))).toBe(
      'KILN_ERR_TENANT_FORBIDDEN',
    )
  })

  it('asks a token bound to several tenants to name one of them', () => {
    expect(code(() => decideAccess('read', bearer('read-two-22'), policy()))).toBe(
      'KILN_ERR_TENANT_REQUIRED',
    )
    expect(decideAccess('read', bearer('read-two-22', 'globex'), policy()).tenant).toBe('globex')
    expect(code(() => decideAccess('read', bearer('read-two-22', 'initech'), policy()))).toBe(
      'KILN_ERR_TENANT_FORBIDDEN',
    )
  })

  it('reads the tenant from the Basic auth user, and refuses a user that disagrees', () => {
    expect(decideAccess('read', basic('globex', 'read-two-22'), policy()).tenant).toBe('globex')
    expect(decideAccess('read', basic('initech', 'admin-token-3'), policy()).tenant).toBe('initech')
    expect(code(() => decideAccess('read', basic('initech', 'read-two-22'), policy()))).toBe(
      'KILN_ERR_TENANT_FORBIDDEN',
    )
    const both = creds({
      authorization: `Basic ${Buffer.from('acme:admin-token-3').toString('base64')}`,
      'x-scope-orgid': 'globex',
    })
    expect(code(() => decideAccess('read', both, policy()))).toBe('KILN_ERR_TENANT_FORBIDDEN')
  })

  it('refuses a missing token (401), an unknown one (401) and a wrong scope (403)', () => {
    expect(code(() => decideAccess('read', creds({ 'x-scope-orgid': 'acme' }), policy()))).toBe(
      'KILN_ERR_UNAUTHORIZED',
    )
    expect(code(() => decideAccess('read', bearer('guess-guess-guess', 'acme'), policy()))).toBe(
      'KILN_ERR_UNAUTHORIZED',
    )
    expect(code(() => decideAccess('read', creds({ authorization: 'Digest x' }), policy()))).toBe(
      'KILN_ERR_UNAUTHORIZED',
    )
    expect(code(() => decideAccess('read', bearer('ingest-acme-1'), policy()))).toBe(
      'KILN_ERR_FORBIDDEN',
    )
    expect(code(() => decideAccess('admin', bearer('read-two-22', 'acme'), policy()))).toBe(
      'KILN_ERR_FORBIDDEN',
    )
  })

  it('leaves reads open without KILN_AUTH_QUERIES, but still checks a token that is sent', () => {
    const open = policy({ authQueries: false })
    expect(decideAccess('read', creds({ 'x-scope-orgid': 'acme' }), open).tenant).toBe('acme')
    expect(code(() => decideAccess('read', bearer('guess-guess-guess', 'acme'), open))).toBe(
      'KILN_ERR_UNAUTHORIZED',
    )
    expect(code(() => decideAccess('ingest', creds({ 'x-scope-orgid': 'acme' }), open))).toBe(
      'KILN_ERR_UNAUTHORIZED',
    )
  })

  it('ignores credentials when no token is configured, and uses one tenant when not multi-tenant', () => {
    const none = policy({ tokens: new TokenRegistry([]) })
    expect(decideAccess('admin', bearer('anything-at-all', 'acme'), none).tenant).toBe('acme')
    const single = policy({ multiTenant: false })
    expect(decideAccess('read', bearer('admin-token-3', 'acme'), single).tenant).toBe('default')
  })

  it('refuses tenant ids outside the pattern, and repeated tenant headers', () => {
    for (const tenant of ['', 'a b', 'a/b', 'x'.repeat(129), 'é']) {
      const sent = creds({ authorization: 'Bearer admin-token-3', 'x-scope-orgid': tenant })
      expect(code(() => decideAccess('read', sent, policy()))).toBe('KILN_ERR_TENANT_REQUIRED')
    }
    const repeated = readCredentials({
      authorization: 'Bearer admin-token-3',
      'x-scope-orgid': ['acme', 'globex'],
    })
    expect(code(() => decideAccess('read', repeated, policy()))).toBe('KILN_ERR_TENANT_REQUIRED')
  })
})
