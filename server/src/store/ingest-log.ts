import { randomUUID } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync, rmSync, type Dirent } from 'node:fs'
import { open, rename, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { deserialize, serialize } from 'node:v8'
import { crc32 } from 'node:zlib'
import { KilnError } from '../errors.js'
import {
  scopeOf,
  type BatchWriter,
  type EncodedSamples,
  type WriteOutcome,
} from './batch-writer.js'
import { hoursOf } from './hourly-rollup.js'
import { samplesFromNative } from './native.js'
import { checkRows } from './row-checks.js'
import { batchSize, type RowBatch } from './rows.js'
import type { UploadRef } from './stored-profiles.js'

/** What the log tells of its work (a Fastify logger fits). */
export interface LogSink {
  warn(obj: object, msg: string): void
  error(obj: object, msg: string): void
  info(obj: object, msg: string): void
}

export interface IngestLogOptions {
  /** Where the segments live (`<dataDir>/ingest-log`). */
  dir: string
  /** What inserts the logged rows into the store. */
  writer: Pick<BatchWriter, 'write' | 'flushSoon'>
  /** How long an acknowledged upload may wait for others to be inserted with it. */
  flushMs: number
  /** Rows handed to the writer at once, and the rows that start an insert without waiting. */
  maxRows: number
  /** A segment this large is closed and a new one begun. */
  segmentBytes?: number
  sink: LogSink
}

/** What became of an upload once the log's rows reached the store (for metrics and logs). */
export type Settled = (outcome: WriteOutcome) => void

interface Entry {
  seq: number
  /** Without its samples: `native` holds them. */
  batch: RowBatch
  /** The samples as the Native block they are logged and inserted as. */
  native: EncodedSamples
  upload: UploadRef | undefined
  rows: number
  segment: Segment
  settled: Settled | undefined
}

interface Segment {
  path: string
  /** Entries of this segment not yet in the store. */
  live: number
  /** The segment being appended to. */
  active: boolean
}

/** A record's payload (`v8.serialize`d): the rows, with the samples as their Native block. */
interface LoggedUpload {
  batch: RowBatch
  native: Buffer
  upload?: UploadRef
}

const MAGIC = 0x4b4c4731 // "KLG1"
const HEADER_BYTES = 12 // magic, payload length, CRC-32 of the payload
const RETRY_MIN_MS = 500
const RETRY_MAX_MS = 10_000
/** How long a read waits for the uploads acknowledged before it while the store is away. */
const BARRIER_MAX_WAIT_MS = 5_000

/** Logs of this process that are open, by owner id: their segments are not another's to replay. */
const OPEN_OWNERS = new Set<string>()

/**
 * The ingest write-ahead log of the embedded store. An upload is acknowledged once its rows
 * are checked (`checkRows`: everything the store could refuse of them, refused now) and
 * appended to a segment file and flushed to disk (`fdatasync`, shared by the appends that
 * arrive together); its rows then reach the store behind the answer, with the other uploads
 * of up to `flushMs`, in inserts of many uploads each. A chDB insert costs about the same for
 * one upload as for a thousand, so acknowledging on the log rather than on the insert lets a few
 * senders that each wait for their answer send 2 to 5 times as many uploads (bench/README.md,
 * "Ingest speed: the ingest log").
 *
 * Exactly once, as without the log:
 * - an upload acknowledged but not yet in the store answers its re-sends as a duplicate (by its
 *   `upload`, held until it is in);
 * - the rows go through the batch writer, which looks up what of a re-sent or replayed upload
 *   the store has already and writes only the rest;
 * - at start, the segments a previous process left (a crash, a kill -9, a store that was away
 *   at shutdown) are replayed through the same lookup before the server takes requests.
 *
 * While the store is away, the log keeps its uploads and retries them, and refuses new ones
 * with a 503 (`KILN_ERR_STORE_UNAVAILABLE`): it bridges the wait for an insert, not an outage.
 * Reads wait for the uploads acknowledged before them (`barrier`), so what was acknowledged is
 * in every answer given after it.
 */
export class IngestLog {
  readonly #options: IngestLogOptions
  readonly #owner = `${process.pid}-${randomUUID().slice(0, 8)}`
  #segment: Segment | undefined
  #file: FileHandle | undefined
  #segmentBytes = 0
  #segmentNo = 0
  /** Records waiting for the next disk write, with who waits for them. */
  #group: { bytes: Buffer[]; done: (error: unknown, segment?: Segment) => void }[] = []
  #writing = false
  #seq = 0
  /** Acknowledged, not yet handed to the writer (oldest first). */
  #queue: Entry[] = []
  /** Handed to the writer, not yet settled. */
  readonly #inserting = new Set<Entry>()
  /** Uploads acknowledged and not yet in the store, by `upload`. */
  readonly #pendingUploads = new Map<string, Entry>()
  #pendingRows = 0
  /** The rows of `#queue`. */
  #queuedRows = 0
  #timer: NodeJS.Timeout | undefined
  #draining: Promise<void> | undefined
  /** The last insert failed because the store did not answer: new uploads are refused. */
  #storeAway: unknown
  #retryMs = RETRY_MIN_MS
  readonly #barriers: { seq: number; resolve: () => void }[] = []
  /**
   * The stacks whose rows logged uploads carry, by tenant and service, with how many carry each:
   * on their way to the store ahead of any upload logged after them.
   */
  readonly #loggedStacks = new Map<string, Map<string, number>>()
  #closed = false
  /** `#drainAll` runs: no other drain starts. */
  #exclusive = false

  constructor(options: IngestLogOptions) {
    this.#options = options
  }

  /** Rows acknowledged and not yet in the store (counted against the ingest backlog bound). */
  get pendingRows(): number {
    return this.#pendingRows
  }

  /**
   * Open the log: replay into the store what earlier processes left, then start a segment.
   * Resolves once the replayed uploads are in the store (each at most once).
   */
  async open(): Promise<{ replayed: number }> {
    mkdirSync(this.#options.dir, { recursive: true })
    OPEN_OWNERS.add(this.#owner)
    const left = this.#leftBehind()
    let replayed = 0
    for (const path of left) {
      const records = readRecords(path, this.#options.sink)
      const segment: Segment = { path, live: records.length, active: false }
      for (const payload of records) {
        const { batch, upload, native: block } = deserialize(payload) as LoggedUpload
        const samples = samplesFromNative(block)
        const native = { block, rows: samples.length, hours: hoursOf(samples.map((r) => r.time)) }
        // Whatever it was, the store may have this upload (the crash came after its insert):
        // looked up, never written twice.
        const ref = upload && { ...upload, firstAttempt: false }
        const rows = batchSize(batch) + native.rows
        this.#enqueue({ batch, native, upload: ref, rows, segment, settled: undefined })
        replayed++
      }
      if (segment.live === 0) rmSync(path, { force: true })
    }
    if (replayed > 0) {
      this.#options.sink.info({ uploads: replayed, segments: left.length }, 'replaying ingest log')
      await this.#drainAll()
      if (this.#queue.length > 0 || this.#inserting.size > 0) {
        throw new KilnError(
          'KILN_ERR_STORE_UNAVAILABLE',
          `the ingest log could not be replayed: ${describe(this.#storeAway)}`,
        )
      }
    }
    await this.#rotate()
    return { replayed }
  }

  /**
   * Log an upload's rows; resolves once they are on disk (or at once for an upload logged and
   * not yet in the store: a `duplicate`). `settled` is told what became of them in the store.
   * Refused (the answer is an error, nothing is logged): rows the store could not hold (422),
   * the store away or the disk failing (503).
   */
  async append(
    batch: RowBatch,
    upload: UploadRef | undefined,
    settled?: Settled,
  ): Promise<'stored' | 'duplicate'> {
    if (this.#closed) {
      throw new KilnError('KILN_ERR_STORE_UNAVAILABLE', 'server is shutting down')
    }
    if (upload && this.#pendingUploads.has(upload.upload)) {
      settled?.('duplicate')
      return 'duplicate'
    }
    if (this.#storeAway !== undefined) {
      throw new KilnError('KILN_ERR_STORE_UNAVAILABLE', describe(this.#storeAway), {
        retryAfterSeconds: Math.ceil(this.#retryMs / 1000),
      })
    }
    const block = checkRows(batch)
    // The sample rows, most of an upload, as their Native block: a copy of bytes to serialize,
    // and no objects kept while the upload waits for its insert.
    const native = {
      block,
      rows: batch.samples.length,
      hours: hoursOf(batch.samples.map((r) => r.time)),
    }
    const rows = batchSize(batch)
    batch = { ...batch, samples: [] }
    const logged: LoggedUpload = { batch, native: block }
    if (upload) logged.upload = upload
    const record = encodeRecord(serialize(logged))
    const segment = await new Promise<Segment>((resolve, reject) => {
      this.#group.push({
        bytes: record,
        done: (error, written) => (written ? resolve(written) : reject(error)),
      })
      if (!this.#writing) void this.#writeGroups()
    })
    // On disk: from here the upload is the log's to deliver.
    if (upload && this.#pendingUploads.has(upload.upload)) {
      // Logged twice (a re-send that arrived while the first was being written): the second
      // record is looked up against the first when replayed, and not inserted now.
      this.#release(segment)
      settled?.('duplicate')
      return 'duplicate'
    }
    this.#enqueue({ batch, native, upload, rows, segment, settled })
    return 'stored'
  }

  /**
   * Whether an upload logged and not yet in the store carries the row of a stack of `tenant`'s
   * `service`; undefined when none does. An upload logged after it needs no row of that stack:
   * the log inserts in order, and a flush inserts its stacks before its samples. Only an upload
   * the store refuses after its answer (which `checkRows` is there to prevent, and which is
   * logged as an error), or one retried after the uploads behind it went in, leaves such a stack
   * without its row for a while: until the next upload that has the stack carries it again (a
   * stack row is the service's, by hash, whichever upload brought it).
   */
  loggedStacks(tenant: string, service: string): ((stackHash: string) => boolean) | undefined {
    const scoped = this.#loggedStacks.get(scopeOf(tenant, service))
    return scoped && ((stackHash) => scoped.has(stackHash))
  }

  /**
   * Resolves once every upload acknowledged before the call is in the store (or after
   * BARRIER_MAX_WAIT_MS while the store is away: the read then answers what is in).
   */
  barrier(): Promise<void> {
    if (this.#queue.length === 0 && this.#inserting.size === 0) return Promise.resolve()
    const seq = this.#seq
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, BARRIER_MAX_WAIT_MS)
      timer.unref()
      this.#barriers.push({
        seq,
        resolve: () => {
          clearTimeout(timer)
          resolve()
        },
      })
      if (this.#storeAway === undefined) this.#kick(0)
    })
  }

  /**
   * Refuse new uploads, put what is logged into the store, close the segment. What the store
   * did not take (it is away) stays on disk for the next start.
   */
  async close(): Promise<void> {
    this.#closed = true
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = undefined
    while (this.#writing) await new Promise((r) => setTimeout(r, 2))
    await this.#drainAll()
    await this.#file?.close()
    this.#file = undefined
    if (this.#segment && this.#segment.live === 0) rmSync(this.#segment.path, { force: true })
    for (const b of this.#barriers.splice(0)) b.resolve()
    OPEN_OWNERS.delete(this.#owner)
  }

  /** Segments of processes gone (or of logs of this process closed), in order. */
  #leftBehind(): string[] {
    const entries: Dirent[] = readdirSync(this.#options.dir, { withFileTypes: true })
    const segments = entries
      .filter((e) => e.isFile() && e.name.endsWith('.log'))
      .map((e) => {
        const [owner = '', no = '0'] = e.name.slice(0, -'.log'.length).split('.')
        return { name: e.name, owner, no: Number(no) }
      })
      // chDB holds the data directory for one process at a time: every segment not of a log
      // open in this process is left behind.
      .filter((s) => !OPEN_OWNERS.has(s.owner))
    // A process's segments in order; processes in any order (each upload is looked up).
    segments.sort((a, b) => a.owner.localeCompare(b.owner) || a.no - b.no)
    return segments.map((s) => join(this.#options.dir, s.name))
  }

  async #rotate(): Promise<void> {
    const previous = this.#segment
    if (this.#file) await this.#file.close()
    if (previous) {
      previous.active = false
      if (previous.live === 0) rmSync(previous.path, { force: true })
    }
    const path = join(this.#options.dir, `${this.#owner}.${this.#segmentNo++}.log`)
    // Created under a temporary name and renamed, so a segment is never seen half-named; its
    // directory entry is flushed with the first group's data (`datasync` on the file does not
    // cover it: the directory is synced here once).
    const temporary = `${path}.new`
    const file = await open(temporary, 'w')
    await rename(temporary, path)
    await syncDirectory(this.#options.dir)
    this.#file = file
    this.#segment = { path, live: 0, active: true }
    this.#segmentBytes = 0
  }

  /** Write what is grouped, flush it to disk, answer its appends; again while more arrived. */
  async #writeGroups(): Promise<void> {
    this.#writing = true
    try {
      while (this.#group.length > 0) {
        const group = this.#group
        this.#group = []
        try {
          if (this.#segmentBytes >= (this.#options.segmentBytes ?? 64 * 1024 * 1024)) {
            await this.#rotate()
          }
          const buffers = group.flatMap((g) => g.bytes)
          await this.#file!.writev(buffers)
          await this.#file!.datasync()
          for (const b of buffers) this.#segmentBytes += b.length
          const segment = this.#segment!
          // Counted now, before a later group can rotate (and delete) it.
          segment.live += group.length
          for (const g of group) g.done(undefined, segment)
        } catch (error) {
          const wrapped = new KilnError(
            'KILN_ERR_STORE_UNAVAILABLE',
            `ingest log: ${describe(error)}`,
            { cause: error },
          )
          for (const g of group) g.done(wrapped)
          // The segment may end in part of a record: later records go to a new one (replay
          // reads a segment up to its first damaged record).
          try {
            await this.#rotate()
          } catch {
            // The disk is failing: the next group fails too, and is refused the same way.
          }
        }
      }
    } finally {
      this.#writing = false
    }
  }

  #enqueue(fields: Omit<Entry, 'seq'>): void {
    const entry: Entry = { ...fields, seq: ++this.#seq }
    if (entry.upload) this.#pendingUploads.set(entry.upload.upload, entry)
    this.#carry(entry, +1)
    this.#pendingRows += entry.rows
    this.#queue.push(entry)
    this.#queuedRows += entry.rows
    if (this.#closed) return
    this.#kick(this.#queuedRows >= this.#options.maxRows ? 0 : this.#options.flushMs)
  }

  /** Start a drain after `delayMs` (sooner if one is asked sooner), unless one runs. */
  #kick(delayMs: number): void {
    if (this.#draining !== undefined || this.#exclusive) return
    if (this.#timer !== undefined) {
      if (delayMs > 0) return
      clearTimeout(this.#timer)
    }
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      if (this.#draining !== undefined || this.#exclusive) return
      this.#draining = this.#drain().finally(() => {
        this.#draining = undefined
        if (this.#queue.length === 0 || this.#closed) return
        // Retry after a failure with a growing wait. After a success, what arrived during the
        // insert waits its turn like any upload: inserts of more uploads each cost the store
        // less per upload (a read waiting, or a full batch, starts one at once).
        if (this.#storeAway !== undefined) this.#kick(this.#retryMs)
        else this.#kick(this.#barriers.length > 0 ? 0 : this.#options.flushMs)
      })
    }, delayMs)
  }

  /**
   * Hand the queue to the writer: one insert of up to `maxRows`, then more at once only while a
   * full one waits (or the log is closing); else the uploads that arrived during the insert wait
   * for the next drain, `flushMs` later (sooner for a read). Inserting again as soon as one
   * ended made inserts of whatever had arrived meanwhile, each costing the store about the same
   * whatever its size: at 8 senders of medium profiles, 9 inserts a second against 2.5, and a
   * quarter more CPU per upload (bench/README.md, "Ingest speed: one insert per flush wait").
   */
  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      let count = 0
      let rows = 0
      while (count < this.#queue.length && (count === 0 || rows < this.#options.maxRows)) {
        rows += this.#queue[count++]!.rows
      }
      const taken = this.#queue.splice(0, count)
      this.#queuedRows -= rows
      for (const e of taken) this.#inserting.add(e)
      const results = await Promise.allSettled(taken.map((e) => this.#writeEntry(e)))
      const retry: Entry[] = []
      let away: unknown
      for (const [i, result] of results.entries()) {
        const entry = taken[i]!
        this.#inserting.delete(entry)
        if (result.status === 'fulfilled') {
          this.#settle(entry, result.value)
        } else if ((result.reason as KilnError)?.code === 'KILN_ERR_PROFILE_REJECTED') {
          // The store refused rows `checkRows` let through: nothing a retry can change. Said
          // loudly: an acknowledged upload the store will never hold.
          this.#options.sink.error(
            { err: result.reason, upload: entry.upload?.upload, service: entry.upload?.service },
            'the store refused an acknowledged upload; it is not stored',
          )
          this.#settle(entry, undefined)
        } else {
          away = result.reason
          retry.push(entry)
        }
      }
      if (retry.length > 0) {
        // Not in the store: looked up on the next attempt (part of it may be in).
        for (const e of retry) if (e.upload) e.upload = { ...e.upload, firstAttempt: false }
        this.#queue.unshift(...retry)
        for (const e of retry) this.#queuedRows += e.rows
        if (this.#storeAway === undefined) {
          this.#options.sink.warn({ err: away }, 'store away: ingest log inserts retried')
        }
        this.#storeAway = away
        this.#retryMs = Math.min(this.#retryMs * 2, RETRY_MAX_MS)
        this.#releaseBarriers()
        return
      }
      this.#storeAway = undefined
      this.#retryMs = RETRY_MIN_MS
      this.#releaseBarriers()
      if (!this.#exclusive && this.#queuedRows < this.#options.maxRows) return
    }
  }

  /** Drain until empty, retrying while the store is away, for up to a minute (close, replay). */
  async #drainAll(): Promise<void> {
    const deadline = Date.now() + 60_000
    this.#exclusive = true
    try {
      if (this.#timer) clearTimeout(this.#timer)
      this.#timer = undefined
      while (this.#draining) await this.#draining
      while (this.#queue.length > 0 && Date.now() < deadline) {
        await this.#drain()
        if (this.#queue.length > 0) await new Promise((r) => setTimeout(r, this.#retryMs))
      }
    } finally {
      this.#exclusive = false
    }
  }

  #writeEntry(entry: Entry): Promise<WriteOutcome> {
    const written = this.#options.writer.write(entry.batch, entry.upload, entry.native)
    this.#options.writer.flushSoon()
    return written
  }

  #settle(entry: Entry, outcome: WriteOutcome | undefined): void {
    if (entry.upload && this.#pendingUploads.get(entry.upload.upload) === entry) {
      this.#pendingUploads.delete(entry.upload.upload)
    }
    this.#pendingRows -= entry.rows
    this.#carry(entry, -1)
    this.#release(entry.segment)
    if (outcome !== undefined) entry.settled?.(outcome)
  }

  /** Count the stack rows `entry` carries in (+1, logged) or out (-1, settled) of `#loggedStacks`. */
  #carry(entry: Entry, delta: 1 | -1): void {
    for (const row of entry.batch.stacks) {
      const scope = scopeOf(row.tenant, row.service)
      let scoped = this.#loggedStacks.get(scope)
      if (scoped === undefined) this.#loggedStacks.set(scope, (scoped = new Map()))
      const carried = (scoped.get(row.stack_hash) ?? 0) + delta
      if (carried > 0) scoped.set(row.stack_hash, carried)
      else scoped.delete(row.stack_hash)
      if (scoped.size === 0) this.#loggedStacks.delete(scope)
    }
  }

  /** One record of `segment` is in the store: the segment goes once all are and it is closed. */
  #release(segment: Segment): void {
    segment.live--
    if (segment.live === 0 && !segment.active) rmSync(segment.path, { force: true })
  }

  /** Resolve the reads waiting for uploads that are now in the store (or failed for good). */
  #releaseBarriers(): void {
    const oldest = Math.min(
      this.#queue[0]?.seq ?? Infinity,
      ...[...this.#inserting].map((e) => e.seq),
    )
    for (let i = this.#barriers.length - 1; i >= 0; i--) {
      const b = this.#barriers[i]!
      if (b.seq < oldest) {
        this.#barriers.splice(i, 1)
        b.resolve()
      }
    }
  }
}

/** A record's header and payload, written together (`writev`: the payload is not copied). */
function encodeRecord(payload: Buffer): Buffer[] {
  const header = Buffer.allocUnsafe(HEADER_BYTES)
  header.writeUInt32LE(MAGIC, 0)
  header.writeUInt32LE(payload.length, 4)
  header.writeUInt32LE(crc32(payload), 8)
  return [header, payload]
}

/**
 * The whole records of a segment, in order, up to the first damaged one: a process killed in
 * the middle of a write leaves part of a record at the end, never acknowledged.
 */
function readRecords(path: string, sink: LogSink): Buffer[] {
  const bytes = readFileSync(path)
  const records: Buffer[] = []
  let at = 0
  while (at + HEADER_BYTES <= bytes.length) {
    const length = bytes.readUInt32LE(at + 4)
    const end = at + HEADER_BYTES + length
    if (bytes.readUInt32LE(at) !== MAGIC || end > bytes.length) break
    const payload = bytes.subarray(at + HEADER_BYTES, end)
    if (crc32(payload) !== bytes.readUInt32LE(at + 8)) break
    records.push(payload)
    at = end
  }
  if (at < bytes.length) {
    sink.warn(
      { segment: path, bytes: bytes.length - at },
      'ingest log segment ends in a partial record (never acknowledged): ignored',
    )
  }
  return records
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message.split('\n')[0]!.slice(0, 300) : String(error)
}
