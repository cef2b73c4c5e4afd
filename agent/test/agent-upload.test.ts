// What the Agent puts on its uploads, from its configuration to the wire, with a stand-in
// profiler (the real one is not what is under test) and a real HTTP server on port 0.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { TENANT_HEADER } from '@kiln/wire'
import { afterEach, describe, expect, it } from 'vitest'
import { Agent } from '../src/agent.js'
import { resolveAgentConfig, type AgentOptions } from '../src/config.js'
import { silentLogger } from '../src/logger.js'
import { standInProfiler } from './helpers/stand-in-profiler.js'

const bindings = standInProfiler()

const servers: Server[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))))
})

/** Start an agent against a server that accepts everything, stop it, return what arrived. */
async function uploadOnce(options: AgentOptions): Promise<IncomingHttpHeaders[]> {
  const received: IncomingHttpHeaders[] = []
  const server = createServer((req, res) => {
    req.resume().on('end', () => {
      received.push(req.headers)
      res.writeHead(200).end('{}')
    })
  })
  servers.push(server)
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const config = resolveAgentConfig({
    service: 'upload-test',
    serverUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    heap: false,
    sourceMaps: false,
    // Collecting from start to stop, whatever the schedule would say.
    schedule: 'always',
    logger: silentLogger,
    ...options,
  })
  const agent = new Agent(config, { bindings })
  expect(agent.start()).toBe(true)
  await agent.stop(5000) // collects the last profile and uploads it
  return received
}

describe('Agent uploads', () => {
  it('name the configured tenant in X-Scope-OrgID', async () => {
    const tenant = 'acme-prod.eu_1'
    const received = await uploadOnce({ tenant })
    expect(received.length).toBeGreaterThan(0)
    for (const headers of received) expect(headers[TENANT_HEADER]).toBe(tenant)
  })

  it('carry no X-Scope-OrgID without a tenant', async () => {
    const received = await uploadOnce({})
    expect(received.length).toBeGreaterThan(0)
    for (const headers of received) expect(headers[TENANT_HEADER]).toBeUndefined()
  })
})
