import Fastify, { LogController, type FastifyInstance } from 'fastify'
import type { KilnConfig } from './config/config-schema.js'
import { accessPlugin } from './http/access-plugin.js'
import { installErrorHandler } from './http/error-handler.js'
import { findingsPlugin } from './findings/findings-plugin.js'
import { hooksPlugin } from './hooks/hooks-plugin.js'
import { healthPlugin } from './http/health-plugin.js'
import { metricsPlugin } from './http/metrics-plugin.js'
import { securityHeadersPlugin } from './http/security-headers-plugin.js'
import { uiPlugin } from './http/ui-plugin.js'
import { schedulePlugin } from './schedule/schedule-plugin.js'
import { ingestPlugin } from './ingest/ingest-plugin.js'
import { pyroscopeRenderPlugin } from './query/pyroscope-render.js'
import { pyroscopeConnectPlugin } from './pyroscope/connect-plugin.js'
import { queryPlugin } from './query/query-plugin.js'
import { storePlugin } from './store/store-plugin.js'

/** Build the Kiln server (not yet listening). Close it to flush pending writes and the store. */
export async function buildApp(config: KilnConfig): Promise<FastifyInstance> {
  const app = Fastify({
    logger: { level: config.logLevel },
    bodyLimit: config.maxBodyBytes,
    // Node's 16 KiB default refuses (431) a GET of a trace's 1,000 span ids (`spanIds=`, 17 KB),
    // which the query API takes.
    http: { maxHeaderSize: 64 * 1024 },
    // Behind a proxy, the client address (rate limits, failed sign-ins) is X-Forwarded-For's.
    trustProxy: config.trustProxy,
    // Agents upload every few seconds: per-request lines only at debug level.
    logController: new LogController({
      disableRequestLogging: config.logLevel !== 'debug' && config.logLevel !== 'trace',
    }),
  })
  installErrorHandler(app)
  // First: every route registered after it must declare its access, or the server won't start.
  await app.register(accessPlugin, { config })
  await app.register(securityHeadersPlugin)
  await app.register(metricsPlugin)
  await app.register(storePlugin, { config })
  await app.register(healthPlugin)
  await app.register(ingestPlugin, { config })
  await app.register(schedulePlugin, { config })
  await app.register(queryPlugin, { prefix: '/api/v1', tracingUrl: config.tracingUrl })
  await app.register(pyroscopeRenderPlugin)
  await app.register(pyroscopeConnectPlugin, { config })
  await app.register(hooksPlugin, { config })
  await app.register(findingsPlugin, { config })
  await app.register(uiPlugin, { uiDir: config.uiDir })
  return app
}
