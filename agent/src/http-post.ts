import { request as httpRequest } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { TENANT_HEADER } from '@kiln/wire'

/** What every request to the server carries: the ingest token and the tenant, when set. */
export function authHeaders(options: {
  token?: string | undefined
  tenant?: string | undefined
}): Record<string, string> {
  const headers: Record<string, string> = {}
  if (options.token) headers.authorization = `Bearer ${options.token}`
  // Sent as `X-Scope-OrgID` (Pyroscope's `tenantID`).
  if (options.tenant) headers[TENANT_HEADER] = options.tenant
  return headers
}

export interface PostResult {
  status: number
  body: string
  /** The response's `Retry-After` header, as sent (delta-seconds or an HTTP-date). */
  retryAfter: string | undefined
}

/**
 * POST a body and read the answer, with a deadline. The socket is unref'd: an upload in flight
 * never keeps the host process alive (fetch offers no way to do that).
 */
export function post(
  url: URL,
  body: Buffer,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<PostResult> {
  return new Promise((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest
    const req = send(url, {
      method: 'POST',
      headers: { ...headers, 'content-length': String(body.length) },
      timeout: timeoutMs,
    })
    const timer = setTimeout(
      () => req.destroy(new Error(`upload timed out after ${timeoutMs} ms`)),
      timeoutMs,
    )
    timer.unref()
    req.on('socket', (socket) => socket.unref())
    req.on('timeout', () => req.destroy(new Error(`upload timed out after ${timeoutMs} ms`)))
    req.on('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    req.on('response', (res) => {
      const chunks: Buffer[] = []
      let size = 0
      res.on('data', (chunk: Buffer) => {
        size += chunk.length
        if (size <= 64 * 1024) chunks.push(chunk)
      })
      res.on('end', () => {
        clearTimeout(timer)
        resolve({
          status: res.statusCode ?? 0,
          body: Buffer.concat(chunks).toString('utf8'),
          retryAfter: res.headers['retry-after'],
        })
      })
      res.on('error', (error) => {
        clearTimeout(timer)
        reject(error)
      })
    })
    req.end(body)
  })
}
