import { createHash, timingSafeEqual } from 'node:crypto'
import { TENANT_PATTERN, TOKEN_SCOPES, type AccessLevel, type TokenScope } from '@kiln/wire'

/** A configured token, as the server keeps it: never the token itself, only its digest. */
export interface TokenEntry {
  /** SHA-256 of the token: compared in constant time, never logged. */
  readonly digest: Buffer
  readonly scopes: readonly TokenScope[]
  /** The tenants it may act for; `null`: any tenant (it names one with `X-Scope-OrgID`). */
  readonly tenants: readonly string[] | null
}

/** Who a request is, once its token is known. */
export interface Principal {
  /** A short, stable, non-reversible id of the token (rate-limit key, logs). */
  readonly id: string
  readonly scopes: readonly TokenScope[]
  readonly tenants: readonly string[] | null
}

const TENANT_RE = new RegExp(TENANT_PATTERN)
/** Long enough to resist guessing, short enough to rule out pasting a whole file by mistake. */
const MIN_TOKEN_LENGTH = 8
const MAX_TOKEN_LENGTH = 4096

function digestOf(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest()
}

function isScope(value: string): value is TokenScope {
  return (TOKEN_SCOPES as readonly string[]).includes(value)
}

/**
 * Parse `KILN_TOKENS` / `KILN_TOKENS_FILE`: entries separated by commas or new lines, each
 * `scopes[@tenants]=token`, scopes joined by `+`, tenants by `|`, `#` starting a comment line:
 *
 *     ingest@acme=3b1f…          an agent's token: sends acme's profiles, reads nothing
 *     read@acme|globex=9c0d…     the UI or Grafana for two tenants
 *     admin=77aa…                everything, any tenant
 *
 * The token is everything after the first `=` (so base64 padding is fine). All problems are
 * returned at once, each naming the entry by position, never by its token.
 */
export function parseTokens(text: string): { entries: TokenEntry[]; problems: string[] } {
  const entries: TokenEntry[] = []
  const problems: string[] = []
  const seen = new Set<string>()
  const items = text
    .split(/[,\n]/)
    .map((item) => item.trim())
    .filter((item) => item !== '' && !item.startsWith('#'))
  items.forEach((item, index) => {
    const where = `token entry ${index + 1}`
    const eq = item.indexOf('=')
    if (eq <= 0) {
      problems.push(`${where}: expected scopes[@tenants]=token`)
      return
    }
    const head = item.slice(0, eq).trim()
    const token = item.slice(eq + 1).trim()
    const [scopeText = '', tenantText] = head.split('@', 2)
    const scopes = scopeText.split('+').map((s) => s.trim())
    const unknown = scopes.filter((s) => !isScope(s))
    if (unknown.length > 0) {
      problems.push(
        `${where}: unknown scope ${JSON.stringify(unknown[0])} (${TOKEN_SCOPES.join(', ')})`,
      )
    }
    let tenants: string[] | null = null
    if (tenantText !== undefined) {
      tenants = tenantText.split('|').map((t) => t.trim())
      const bad = tenants.find((t) => !TENANT_RE.test(t))
      if (bad !== undefined)
        problems.push(`${where}: tenant ${JSON.stringify(bad)} must match ${TENANT_PATTERN}`)
    }
    if (token.length < MIN_TOKEN_LENGTH || token.length > MAX_TOKEN_LENGTH) {
      problems.push(
        `${where}: the token must be ${MIN_TOKEN_LENGTH} to ${MAX_TOKEN_LENGTH} characters`,
      )
    }
    const digest = digestOf(token)
    if (seen.has(digest.toString('hex'))) problems.push(`${where}: the same token is listed twice`)
    seen.add(digest.toString('hex'))
    entries.push({ digest, scopes: scopes.filter(isScope), tenants })
  })
  return { entries, problems }
}

/**
 * `KILN_AUTH_TOKENS` (the first form of tokens): each has every scope and no tenant binding,
 * which is what it allowed before scopes existed. Reads stay public unless `KILN_AUTH_QUERIES`.
 */
export function legacyTokens(text: string | undefined): TokenEntry[] {
  return (text ?? '')
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean)
    .map((token) => ({ digest: digestOf(token), scopes: ['admin'] as const, tenants: null }))
}

/** Whether `scopes` grant `access`; `admin` grants everything. */
export function grants(scopes: readonly TokenScope[], access: AccessLevel): boolean {
  if (access === 'public') return true
  return scopes.includes('admin') || scopes.includes(access as TokenScope)
}

/** The configured tokens; `find` costs the same whichever token matches, or none. */
export class TokenRegistry {
  readonly #entries: readonly TokenEntry[]

  constructor(entries: readonly TokenEntry[]) {
    this.#entries = entries
  }

  get size(): number {
    return this.#entries.length
  }

  /** Whether any token is bound to tenants (which needs multi-tenant mode). */
  get hasTenantBindings(): boolean {
    return this.#entries.some((e) => e.tenants !== null)
  }

  /**
   * The principal of a presented token, or `undefined`. Comparing SHA-256 digests makes every
   * comparison the same length, and the loop visits every entry: the time taken says nothing
   * of which token (or how much of one) matched.
   */
  find(token: string | undefined): Principal | undefined {
    if (token === undefined || token.length === 0 || token.length > MAX_TOKEN_LENGTH)
      return undefined
    const digest = digestOf(token)
    let match: TokenEntry | undefined
    for (const entry of this.#entries) {
      if (timingSafeEqual(entry.digest, digest) && match === undefined) match = entry
    }
    if (match === undefined) return undefined
    return {
      id: match.digest.toString('hex').slice(0, 12),
      scopes: match.scopes,
      tenants: match.tenants,
    }
  }
}
