import helmet from '@fastify/helmet'
import fp from 'fastify-plugin'

/**
 * The Content-Security-Policy of every answer, the UI's page included. The UI is one bundle
 * from this origin: no inline script or style, no eval, no other origin to load from or talk
 * to. Images may be `data:` (the page's empty icon) and `blob:` (the PNG export draws the SVG
 * through a blob URL). Function names, file names and labels come from any agent: if one ever
 * reached the DOM as markup, this policy still refuses to run it.
 */
export const CONTENT_SECURITY_POLICY = {
  'default-src': ["'self'"],
  'script-src': ["'self'"],
  'style-src': ["'self'"],
  'img-src': ["'self'", 'data:', 'blob:'],
  'font-src': ["'self'"],
  'connect-src': ["'self'"],
  'object-src': ["'none'"],
  'base-uri': ["'none'"],
  'form-action': ["'self'"],
  'frame-ancestors': ["'none'"],
} as const

/**
 * Browser-facing hardening with `@fastify/helmet`: the policy above, `X-Content-Type-Options:
 * nosniff`, `X-Frame-Options: DENY` (for browsers without frame-ancestors), `Referrer-Policy:
 * no-referrer` (deep links carry service names), and helmet's other defaults. Kiln sends no CORS
 * headers: a page of another origin cannot read the API (Grafana queries from its server).
 */
export const securityHeadersPlugin = fp(
  async (fastify) => {
    await fastify.register(helmet, {
      contentSecurityPolicy: { useDefaults: false, directives: CONTENT_SECURITY_POLICY },
      frameguard: { action: 'deny' },
      referrerPolicy: { policy: 'no-referrer' },
      // Kiln is often served over plain HTTP inside a network; TLS is the proxy's to announce.
      strictTransportSecurity: false,
    })
  },
  { name: 'kiln-security-headers', fastify: '5.x' },
)
