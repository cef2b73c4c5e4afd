/**
 * POSTs JSON to the webhook and Alertmanager URLs of the configuration, and nowhere else: URLs
 * never come from a request or a stored row that the configuration no longer lists, and
 * redirects are not followed (a 3xx is a failure), so a receiver cannot send Kiln's findings on
 * to another host. Each call has a timeout; network errors, timeouts, 408, 429 and 5xx are
 * retried with exponential backoff; other answers are final.
 */

export interface WebhookSenderOptions {
  timeoutMs: number
  retries: number
  /** First backoff; doubles each retry. */
  backoffMs?: number
  /** The HTTP client (tests may pass another). */
  fetch?: typeof fetch
}

export interface DeliveryResult {
  url: string
  ok: boolean
  attempts: number
  /** HTTP status of the last attempt, if one answered. */
  status?: number
  error?: string
}

const RETRIABLE = (status: number): boolean => status === 408 || status === 429 || status >= 500

/**
 * A receiver that refuses the body itself (4xx but 408 and 429), say an Alertmanager's webhook
 * receiver given as a plain webhook: it will refuse it again, so a later run does not retry.
 */
export function isRefusal(result: DeliveryResult): boolean {
  const status = result.status
  return status !== undefined && status >= 400 && status < 500 && !RETRIABLE(status)
}

/** Where a webhook URL points, without its path and query (Slack's carry a secret): for logs. */
export function redactUrl(url: string): string {
  try {
    return new URL(url).origin
  } catch {
    return '<invalid url>'
  }
}

export async function postJson(
  url: string,
  body: unknown,
  options: WebhookSenderOptions,
): Promise<DeliveryResult> {
  const doFetch = options.fetch ?? fetch
  const payload = JSON.stringify(body)
  let backoff = options.backoffMs ?? 250
  let last: DeliveryResult = { url, ok: false, attempts: 0 }
  for (let attempt = 1; attempt <= options.retries + 1; attempt++) {
    try {
      const res = await doFetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'kiln-findings' },
        body: payload,
        redirect: 'manual',
        signal: AbortSignal.timeout(options.timeoutMs),
      })
      // Drain the body so the connection is released.
      await res.arrayBuffer().catch(() => undefined)
      last = { url, ok: res.ok, attempts: attempt, status: res.status }
      if (res.ok || !RETRIABLE(res.status)) return last
    } catch (error) {
      const e = error as Error
      last = {
        url,
        ok: false,
        attempts: attempt,
        error: e.name === 'TimeoutError' ? `timed out after ${options.timeoutMs} ms` : e.message,
      }
    }
    if (attempt <= options.retries) {
      await new Promise((resolve) => setTimeout(resolve, backoff).unref())
      backoff *= 2
    }
  }
  return last
}
