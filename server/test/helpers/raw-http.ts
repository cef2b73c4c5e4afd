import { Agent, request } from 'node:http'

export interface RawResponse {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

const agent = new Agent({ keepAlive: true, maxSockets: 8 })

/**
 * One HTTP request with the path sent byte for byte as given: no URL parser in between, so
 * `/%69ngest`, `//x`, `/a/../b` and `;` reach the server as an attacker would send them
 * (`fetch` and `inject` normalise some of these first).
 */
export function rawRequest(
  baseUrl: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: Buffer | string,
  { fresh = false }: { fresh?: boolean } = {},
): Promise<RawResponse> {
  const { hostname, port } = new URL(baseUrl)
  return new Promise((resolve, reject) => {
    const req = request(
      {
        // A fresh connection for requests the server may answer by closing it (a bad method).
        agent: fresh ? false : agent,
        host: hostname,
        port,
        method,
        path,
        headers:
          body === undefined ? headers : { ...headers, 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        )
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}
