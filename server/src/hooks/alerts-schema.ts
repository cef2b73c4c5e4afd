import { createTable, type SchemaOptions } from '../store/schema.js'
import { alertsTables } from './alerts-tables.js'

/**
 * The DDL of the `alerts` and `findings` tables for one server (chDB or a single ClickHouse).
 * The migration in `store/schema.ts` builds them from `alertsTables` (`alerts-tables.ts`, which
 * imports no runtime code from the store) with `createTable(table, o)`, so that it follows the
 * cluster setting; importing this module there would make an import cycle.
 */
export function alertsStatements(db: string, retentionDays: number): string[] {
  return alertsStatementsFor({ database: db, retentionDays })
}

/** The DDL for any store, cluster included. */
export function alertsStatementsFor(o: SchemaOptions): string[] {
  return alertsTables(o.retentionDays).flatMap((table) => createTable(table, o))
}
