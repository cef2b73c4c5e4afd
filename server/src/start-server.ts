import type { FastifyInstance } from 'fastify'
import type { KilnOptions } from './config/config-schema.js'
import { resolveConfig } from './config/resolve-config.js'
import { buildApp } from './app.js'

export interface RunningServer {
  app: FastifyInstance
  /** e.g. `http://127.0.0.1:4040` */
  url: string
  close(): Promise<void>
}

/** Resolve config (options over `env`), build the app and listen. Port 0 picks a free port. */
export async function startServer(
  options: KilnOptions = {},
  env: NodeJS.ProcessEnv = {},
): Promise<RunningServer> {
  const config = resolveConfig(options, env)
  const app = await buildApp(config)
  await app.listen({ host: config.host, port: config.port })
  const address = app.server.address()
  const port = typeof address === 'object' && address ? address.port : config.port
  return { app, url: `http://${config.host}:${port}`, close: () => app.close() }
}
