import { UPLOAD_ATTEMPT_HEADER, UPLOAD_ID_HEADER } from '@kiln/wire'
import { backoffMs } from './backoff.js'
import type { AgentLogger } from './logger.js'
import { authHeaders, post, type PostResult } from './http-post.js'
import { MAX_RETRY_AFTER_MS, parseRetryAfter } from './retry-after.js'
import type { AgentStats } from './stats.js'

export interface QueuedUpload {
  /** Names the upload to the server (`x-kiln-upload-id`), the same on every retry: stored once. */
  id?: string
  /** Query string of `/ingest` (name, from, until, ...). */
  query: URLSearchParams
  body: Buffer
  attempts: number
}

/**
 * The exporter component: takes encoded profiles and gets them to the server, on its own time.
 * `UploadQueue` is the agent's; tests give the agent one that records.
 */
export interface ProfileExporter {
  enqueue(item: QueuedUpload): void
  /** Resolves when nothing is left to send or `deadlineMs` has passed. */
  drain(deadlineMs: number, keepAlive?: boolean): Promise<void>
  /** Give up on what is queued (counted as dropped). */
  discard(): void
  readonly size: number
}

export interface UploadQueueOptions {
  serverUrl: string
  token?: string | undefined
  /** Sent as `X-Scope-OrgID` when set. */
  tenant?: string | undefined
  uploadTimeoutMs: number
  maxQueueProfiles: number
  maxQueueBytes: number
  maxRetries: number
  logger: AgentLogger
  stats: AgentStats
  /** First retry waits up to this long; each further retry doubles it (to 30 s). */
  retryBaseMs?: number
  /** Longest a server's `Retry-After` may hold uploads back (default `MAX_RETRY_AFTER_MS`). */
  maxRetryAfterMs?: number
  /** Extra headers computed at send time (the agent's self-observation). */
  headers?: () => Record<string, string>
}

/**
 * The shortest wait after a failed attempt, whatever the backoff's jitter draws or a server's
 * `Retry-After: 0` asks: a server failing at once must not be asked again at once, without end.
 */
export const MIN_RETRY_DELAY_MS = 100

export { backoffMs }

/** 429, 5xx and network errors are worth another try; other 4xx are the profile's fault. */
export function isRetryable(result: PostResult | Error): boolean {
  if (result instanceof Error) return true
  return result.status === 429 || result.status >= 500
}

/** `HTTP 429 (Retry-After: 7): {...}`: the status, the server's wait if any, the body's start. */
function describeFailure(result: PostResult | Error): string {
  if (result instanceof Error) return result.message
  // Both parts are the server's text, cut short: lastError travels in every upload's stats header.
  const wait =
    result.retryAfter === undefined ? '' : ` (Retry-After: ${result.retryAfter.slice(0, 40)})`
  return `HTTP ${result.status}${wait}: ${result.body.slice(0, 200)}`
}

/**
 * A bounded queue of encoded profiles, uploaded one at a time. When full, the oldest profile is
 * dropped (recent data matters more) and counted. Failed uploads are retried with backoff, or
 * later if the server's `Retry-After` asks for it (capped at `maxRetryAfterMs`); every timer is
 * unref'd so the queue never keeps the host alive.
 */
export class UploadQueue implements ProfileExporter {
  readonly #options: UploadQueueOptions
  readonly #items: QueuedUpload[] = []
  #bytes = 0
  #inFlight: QueuedUpload | undefined
  #pauseTimer: NodeJS.Timeout | undefined
  #idleWaiters: (() => void)[] = []
  #warnedAt = 0

  constructor(options: UploadQueueOptions) {
    this.#options = options
  }

  get size(): number {
    return this.#items.length
  }

  enqueue(item: QueuedUpload): void {
    const { stats, maxQueueProfiles, maxQueueBytes } = this.#options
    this.#items.push(item)
    this.#bytes += item.body.length
    while (
      this.#items.length > maxQueueProfiles ||
      (this.#bytes > maxQueueBytes && this.#items.length > 1)
    ) {
      const dropped = this.#items.shift()!
      this.#bytes -= dropped.body.length
      stats.profilesDropped++
      this.#warn('upload queue full: dropped the oldest profile')
    }
    this.#syncStats()
    this.#pump()
  }

  /**
   * Resolves when the queue is empty or `deadlineMs` has passed, whichever is first. With
   * `keepAlive`, the deadline timer holds the process open (for a final flush at exit); it is
   * bounded by the deadline, so it never holds it longer.
   */
  async drain(deadlineMs: number, keepAlive = false): Promise<void> {
    // A final flush does not wait out the backoff, nor a server's Retry-After: the process is
    // about to exit, so this is the last chance to deliver, and one request more is all it costs
    // the server. The deadline bounds it.
    if (this.#pauseTimer) {
      clearTimeout(this.#pauseTimer)
      this.#pauseTimer = undefined
      this.#pump()
    }
    if (this.#items.length === 0 && !this.#inFlight) return
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, deadlineMs)
      if (!keepAlive) timer.unref()
      this.#idleWaiters.push(() => {
        clearTimeout(timer)
        resolve()
      })
    })
  }

  /** Stop retrying; what is queued stays counted as dropped. */
  discard(): void {
    if (this.#pauseTimer) clearTimeout(this.#pauseTimer)
    this.#pauseTimer = undefined
    this.#options.stats.profilesDropped += this.#items.length
    this.#items.length = 0
    this.#bytes = 0
    this.#syncStats()
  }

  #pump(): void {
    if (this.#inFlight) return
    const item = this.#items[0]
    if (!item) {
      // Idle even while paused: a pause holds back uploads, and there are none.
      for (const wake of this.#idleWaiters.splice(0)) wake()
      return
    }
    if (this.#pauseTimer) return
    this.#inFlight = item
    this.#upload(item)
      .catch((error: unknown) => {
        // #upload handles every failure it knows of. Whatever else went wrong, the profile
        // goes and the queue waits before the next: never the same item again at once.
        this.#options.stats.profilesDropped++
        this.#options.stats.lastError = String(error)
        this.#remove(item)
        this.#pause(MIN_RETRY_DELAY_MS)
      })
      .finally(() => {
        this.#inFlight = undefined
        this.#pump()
      })
  }

  async #upload(item: QueuedUpload): Promise<void> {
    const { stats, maxRetries } = this.#options
    let result: PostResult | Error
    try {
      result = await this.#send(item)
    } catch (error) {
      result = error instanceof Error ? error : new Error(String(error))
    }
    if (!(result instanceof Error) && result.status >= 200 && result.status < 300) {
      stats.uploadsOk++
      stats.bytesUploaded += item.body.length
      this.#remove(item)
      return
    }
    stats.uploadsFailed++
    stats.lastError = describeFailure(result)
    const retryAfterMs = this.#retryAfterMs(result)
    if (!isRetryable(result) || item.attempts >= maxRetries) {
      stats.profilesDropped++
      this.#warn(`profile dropped after ${item.attempts + 1} attempt(s): ${stats.lastError}`)
      this.#remove(item)
      // The server asked every request to wait, not only this profile's.
      this.#pause(Math.max(MIN_RETRY_DELAY_MS, retryAfterMs ?? 0))
      return
    }
    item.attempts++
    stats.uploadsRetried++
    const delayMs = Math.max(
      MIN_RETRY_DELAY_MS,
      backoffMs(item.attempts, this.#options.retryBaseMs),
      retryAfterMs ?? 0,
    )
    this.#options.logger.debug('upload failed, will retry', {
      attempt: item.attempts,
      delayMs,
      error: stats.lastError,
    })
    this.#pause(delayMs)
  }

  /** One attempt. Rejects on anything that stops the request (a URL, a header, the network). */
  async #send(item: QueuedUpload): Promise<PostResult> {
    const { serverUrl, uploadTimeoutMs } = this.#options
    const url = new URL(`/ingest?${item.query.toString()}`, serverUrl)
    const headers: Record<string, string> = {
      ...this.#options.headers?.(),
      'content-type': 'application/octet-stream',
      ...authHeaders(this.#options),
    }
    if (item.id) {
      headers[UPLOAD_ID_HEADER] = item.id
      headers[UPLOAD_ATTEMPT_HEADER] = String(item.attempts + 1)
    }
    return post(url, item.body, headers, uploadTimeoutMs)
  }

  /** What a retryable answer's `Retry-After` asks for, capped; undefined when it has none. */
  #retryAfterMs(result: PostResult | Error): number | undefined {
    if (result instanceof Error || !isRetryable(result)) return undefined
    const askedMs = parseRetryAfter(result.retryAfter, Date.now())
    if (askedMs === undefined) return undefined
    return Math.min(askedMs, this.#options.maxRetryAfterMs ?? MAX_RETRY_AFTER_MS)
  }

  /**
   * Hold the queue for `delayMs`: the next pump, and so every later upload, waits for this timer
   * (one upload at a time). drain() may cancel it to flush at once.
   */
  #pause(delayMs: number): void {
    this.#pauseTimer = setTimeout(() => {
      this.#pauseTimer = undefined
      this.#pump()
    }, delayMs)
    this.#pauseTimer.unref()
  }

  #remove(item: QueuedUpload): void {
    const index = this.#items.indexOf(item)
    if (index !== -1) {
      this.#items.splice(index, 1)
      this.#bytes -= item.body.length
    }
    this.#syncStats()
  }

  #syncStats(): void {
    this.#options.stats.queuedProfiles = this.#items.length
    this.#options.stats.queuedBytes = this.#bytes
  }

  /** At most one warning a minute: a server that is down must not flood the host's logs. */
  #warn(message: string): void {
    const now = Date.now()
    if (now - this.#warnedAt < 60_000) return
    this.#warnedAt = now
    this.#options.logger.warn(message, { stats: { ...this.#options.stats } })
  }
}
