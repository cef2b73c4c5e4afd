import { createServer } from 'node:net'

/**
 * A loopback port free right now, for servers that take no port 0 (ClickHouse, Alertmanager:
 * they would not tell which port they got). Another process could take it in between, which on
 * a test machine's loopback does not happen in practice.
 */
export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}
