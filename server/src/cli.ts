#!/usr/bin/env node
import { ConfigError } from './config/resolve-config.js'
import { startServer } from './start-server.js'

/** `kiln-server`: configuration from `KILN_*` environment variables (see the README). */
async function main(): Promise<void> {
  const server = await startServer({}, process.env)
  server.app.log.info(`Kiln listening on ${server.url}`)
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      server.app.log.info({ signal }, 'shutting down')
      server.close().then(
        () => process.exit(0),
        () => process.exit(1),
      )
    })
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `${error instanceof ConfigError ? error.message : String((error as Error).stack ?? error)}\n`,
  )
  process.exit(1)
})
