import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { KilnApiError, KilnClient } from './client.js'

/** What the client says when the URL it was given is not a Kiln server, or not reachable. */
describe('KilnClient errors', () => {
  let server: Server
  let url: string
  beforeAll(async () => {
    server = createServer((_request, response) => {
      response.setHeader('content-type', 'text/html')
      response.end('<html>a proxy login page</html>')
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(() => new Promise((resolve) => server.close(resolve)))

  const failure = async (baseUrl: string): Promise<KilnApiError> => {
    const error: unknown = await new KilnClient({ baseUrl }).services().then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(error).toBeInstanceOf(KilnApiError)
    return error as KilnApiError
  }

  it('names a 200 that is not JSON instead of throwing a SyntaxError', async () => {
    const error = await failure(url)
    expect(error.code).toBe('KILN_ERR_NOT_JSON')
    expect(error.message).toContain('text/html')
    expect(error.message).toContain(url)
  })

  it('gives the network reason of an unreachable server', async () => {
    // fetch refuses port 6000 itself; the reason is two causes deep.
    expect((await failure('http://127.0.0.1:6000')).message).toMatch(/\(bad port\)$/)
    const closed = createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const port = (closed.address() as AddressInfo).port
    await new Promise((resolve) => closed.close(resolve))
    const refused = await failure(`http://127.0.0.1:${port}`)
    expect(refused.status).toBe(0)
    expect(refused.message).toMatch(/\(ECONNREFUSED\)$/)
  })
})
