import type { ClickHouseClient } from '@clickhouse/client'
import fp from 'fastify-plugin'
import type { KilnConfig } from '../config/config-schema.js'
import { BatchWriter } from './batch-writer.js'
import { createClickHouseClient } from './clickhouse-bindings.js'
import { migrate } from './schema.js'

export interface Store {
  readonly client: ClickHouseClient
  readonly writer: BatchWriter
  /** Database name, validated by the config schema as a plain identifier. */
  readonly database: string
}

declare module 'fastify' {
  interface FastifyInstance {
    store: Store
  }
}

/** Opens the store (chDB or ClickHouse by URL), applies migrations, and closes it on shutdown. */
export const storePlugin = fp<{ config: KilnConfig }>(
  async (fastify, { config }) => {
    const client = createClickHouseClient(config)
    const database = config.clickhouseDatabase
    const applied = await migrate(client, { database, retentionDays: config.retentionDays })
    if (applied.length > 0) fastify.log.info({ applied }, 'schema migrations applied')
    const writer = new BatchWriter(client, {
      database,
      waitMs: config.insertBatchWaitMs,
      maxRows: config.insertBatchMaxRows,
    })
    fastify.decorate('store', { client, writer, database })
    fastify.addHook('onClose', async () => {
      await writer.close()
      await client.close()
    })
  },
  { name: 'kiln-store', fastify: '5.x' },
)
