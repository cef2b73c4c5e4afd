import type { FastifyInstance } from 'fastify'
import { expect } from 'vitest'
import type { DiffNode, FlameNode } from '@kiln/wire'
import { encodeProfile } from './pprof-builder.js'

/**
 * A generated fleet whose every sample is known, so tests compute the expected answer of each
 * query from the input by plain loops, independently of the server's SQL and tree code.
 */

/** One sample as stored: its upload time, every label (upload and sample labels), stack, value. */
export interface KnownSample {
  at: number
  /** The upload's labels and the sample's own. */
  labels: Record<string, string>
  /** The upload's labels alone: what names the instance. */
  uploadLabels: Record<string, string>
  /** Root first, `name@file`. */
  stack: string[]
  value: number
}

export interface Upload {
  service: string
  at: number
  labels: Record<string, string>
  sampleType: [type: string, unit: string]
  samples: { stack: string[]; value: number; labels?: Record<string, string> }[]
  /** The same upload again (a client's retry): sent, and stored once. */
  resent?: boolean
}

export async function ingestUploads(
  app: FastifyInstance,
  uploads: Upload[],
  headers: Record<string, string> = {},
): Promise<void> {
  for (const u of uploads) {
    const name = `${u.service}{${Object.entries(u.labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(',')}}`
    const body = encodeProfile({
      sampleTypes: [u.sampleType],
      samples: u.samples.map((s) => ({
        stack: s.stack,
        values: [s.value],
        ...(s.labels ? { labels: s.labels } : {}),
      })),
    })
    const res = await app.inject({
      method: 'POST',
      url: `/ingest?name=${encodeURIComponent(name)}&from=${u.at / 1000}&until=${u.at / 1000 + 10}&format=pprof`,
      headers: { ...headers, 'content-type': 'application/octet-stream' },
      payload: body,
    })
    expect(res.statusCode, res.body).toBe(200)
  }
}

export function knownSamples(uploads: Upload[]): KnownSample[] {
  return uploads.flatMap((u) =>
    u.samples.map((s) => ({
      at: u.at,
      labels: { ...u.labels, ...s.labels },
      uploadLabels: u.labels,
      stack: s.stack,
      value: s.value,
    })),
  )
}

export function inWindow(samples: KnownSample[], from: number, to: number): KnownSample[] {
  return samples.filter((s) => s.at >= from && s.at < to)
}

export const sum = (samples: KnownSample[]): number => samples.reduce((a, s) => a + s.value, 0)

const startsWith = (stack: string[], path: string[]): boolean =>
  path.length <= stack.length && path.every((f, i) => stack[i] === f)

/** Expected total and self of the node at `path` (frames `name@file`, root first). */
export function expectedNode(
  samples: KnownSample[],
  path: string[],
): { total: number; self: number } {
  return {
    total: sum(samples.filter((s) => startsWith(s.stack, path))),
    self: sum(samples.filter((s) => s.stack.length === path.length && startsWith(s.stack, path))),
  }
}

/** Expected self and total of a function: total counts each stack it is in once. */
export function expectedFunction(
  samples: KnownSample[],
  frame: string,
): { self: number; total: number } {
  return {
    self: sum(samples.filter((s) => s.stack[s.stack.length - 1] === frame)),
    total: sum(samples.filter((s) => s.stack.includes(frame))),
  }
}

/** Every distinct frame (`name@file`) of the samples. */
export function frames(samples: KnownSample[]): string[] {
  return [...new Set(samples.flatMap((s) => s.stack))].sort()
}

/** Every distinct path (prefix of a stack) of the samples. */
export function paths(samples: KnownSample[]): string[][] {
  const seen = new Map<string, string[]>()
  for (const s of samples) {
    for (let i = 1; i <= s.stack.length; i++)
      seen.set(s.stack.slice(0, i).join('|'), s.stack.slice(0, i))
  }
  return [...seen.values()]
}

export const nameOf = (frame: string): string => frame.split('@')[0]!
export const fileOf = (frame: string): string => frame.split('@')[1]!

/** The node at a path of `name@file` frames in a flame graph or diff tree. */
export function findNode<T extends FlameNode | DiffNode>(root: T, path: string[]): T | undefined {
  let node: T | undefined = root
  for (const frame of path) {
    node = (node?.children as T[] | undefined)?.find(
      (c) => c.name === nameOf(frame) && c.file === fileOf(frame),
    )
  }
  return node
}

export function countNodes(node: { children: unknown[] }): number {
  return 1 + (node.children as { children: unknown[] }[]).reduce((n, c) => n + countNodes(c), 0)
}

/** A query string of parameters, values stringified. */
export function queryString(params: Record<string, string | number>): string {
  return new URLSearchParams(
    Object.entries(params).map(([k, v]): [string, string] => [k, String(v)]),
  ).toString()
}

/**
 * Noon (UTC) `days` days ago: a fixed-looking start for a test's uploads that stays inside the
 * retention (ingest refuses profiles older than `KILN_RETENTION_DAYS`) whatever day tests run.
 */
export function recentNoon(days = 2): number {
  const DAY = 86_400_000
  return Math.floor(Date.now() / DAY) * DAY - days * DAY + DAY / 2
}
