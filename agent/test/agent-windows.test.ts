// The Agent between its scheduler and its exporter: what it does when a window opens and
// closes. The scheduler is driven by hand (its timing has its own tests, scheduler.test.ts),
// the exporter records, and the native profiler is the stand-in (the real one is exercised in
// duty-cycle.test.ts).
import { describe, expect, it } from 'vitest'
import { Agent } from '../src/agent.js'
import { resolveAgentConfig, type AgentOptions } from '../src/config.js'
import { withLabels } from '../src/labels.js'
import type { AgentLogger } from '../src/logger.js'
import type { Labels } from '../src/labels.js'
import type { ProfilerBindings } from '../src/profiler-bindings.js'
import type {
  CollectionScheduler,
  CollectionWindow,
  ScheduleListener,
  ScheduleState,
} from '../src/scheduler.js'
import type { ProfileExporter, QueuedUpload } from '../src/upload-queue.js'
import { standInProfiler } from './helpers/stand-in-profiler.js'

/** A scheduler the test drives: `open` and `close` are the decisions, taken when called. */
class HandScheduler implements CollectionScheduler {
  listener: ScheduleListener | undefined
  state: ScheduleState = { schedule: 'local', dutyCycle: 0.25 }
  #open: CollectionWindow | undefined

  start(listener: ScheduleListener): void {
    this.listener = listener
  }

  stop(): void {
    const open = this.#open
    this.#open = undefined
    if (open) this.listener?.close({ ...open, untilMs: open.fromMs + 1 }, false)
  }

  open(window: CollectionWindow): void {
    this.#open = window
    this.listener!.open(window)
  }

  close(continuing = false): CollectionWindow {
    const window = this.#open!
    this.#open = undefined
    this.listener!.close(window, continuing)
    return window
  }
}

class RecordingExporter implements ProfileExporter {
  items: QueuedUpload[] = []
  get size(): number {
    return 0
  }
  enqueue(item: QueuedUpload): void {
    this.items.push(item)
  }
  async drain(): Promise<void> {}
  discard(): void {}
  /** `[from, until]` of each upload. */
  bounds(): [number, number][] {
    return this.items.map((i) => [Number(i.query.get('from')), Number(i.query.get('until'))])
  }
}

function recordingLogger() {
  const errors: string[] = []
  const logger: AgentLogger = { debug() {}, warn() {}, error: (m) => void errors.push(m) }
  return { logger, errors }
}

/** Wait until the agent has handed `count` profiles to the exporter (gzip runs on the pool). */
async function uploaded(exporter: RecordingExporter, count: number): Promise<void> {
  await expect.poll(() => exporter.items.length).toBe(count)
}

/** Give pending callbacks a turn. */
const settle = () => new Promise<void>((r) => setTimeout(r, 20))

function agentWith(bindings: ProfilerBindings, options: AgentOptions = {}) {
  const scheduler = new HandScheduler()
  const exporter = new RecordingExporter()
  const { logger, errors } = recordingLogger()
  const config = resolveAgentConfig({
    service: 'windows-test',
    sourceMaps: false,
    schedule: 'local',
    logger,
    ...options,
  })
  const agent = new Agent(config, { bindings, scheduler, exporter })
  return { agent, scheduler, exporter, errors }
}

const windowAt = (index: number, windowMs = 1000): CollectionWindow => ({
  index,
  fromMs: index * windowMs,
  untilMs: (index + 1) * windowMs,
})

describe('Agent windows', () => {
  it('runs the time profiler only inside windows, heap sampling all along', async () => {
    const calls: string[] = []
    const bindings = standInProfiler({
      startTime: () => void calls.push('startTime'),
      stopTime: (restart) => {
        calls.push(restart ? 'restartTime' : 'stopTime')
        return {} as never
      },
      startHeap: () => void calls.push('startHeap'),
      stopHeap: () => void calls.push('stopHeap'),
    })
    const { agent, scheduler, exporter } = agentWith(bindings)
    expect(agent.start()).toBe(true)
    expect(bindings.timeRunning()).toBe(false) // nothing before the first window
    for (const [i, index] of [3, 7, 11].entries()) {
      scheduler.open(windowAt(index))
      expect(bindings.timeRunning()).toBe(true)
      scheduler.close()
      expect(bindings.timeRunning()).toBe(false)
      await uploaded(exporter, 2 * (i + 1))
    }
    await agent.stop()
    expect(calls).toEqual([
      'startHeap',
      ...[3, 7, 11].flatMap(() => ['startTime', 'stopTime']),
      'stopHeap',
    ])
  })

  it('uploads the time profile and a heap snapshot of each window with its bounds', async () => {
    const { agent, scheduler, exporter } = agentWith(standInProfiler())
    agent.start()
    const windows = [windowAt(8), windowAt(16)]
    for (const [i, w] of windows.entries()) {
      scheduler.open(w)
      scheduler.close()
      await uploaded(exporter, 2 * (i + 1))
    }
    // Time profile, then heap snapshot, each with its window's bounds.
    const bounds = windows.flatMap((w) => [[w.fromMs, w.untilMs]])
    expect(exporter.bounds()).toEqual(bounds.flatMap((b) => [b, b]))
    expect(agent.stats).toMatchObject({
      windowsCollected: windows.length,
      profilesCollected: 2 * windows.length,
      schedule: 'local',
      dutyCycle: 0.25,
    })
    await agent.stop()
  })

  it('restarts rather than stops the time profiler when the next window follows at once', async () => {
    const calls: string[] = []
    const bindings = standInProfiler({
      startTime: () => void calls.push('start'),
      stopTime: (restart) => {
        calls.push(restart ? 'restart' : 'stop')
        return {} as never
      },
    })
    const { agent, scheduler, exporter } = agentWith(bindings, { heap: false })
    agent.start()
    scheduler.open(windowAt(4))
    scheduler.close(true)
    scheduler.open(windowAt(5))
    expect(bindings.timeRunning()).toBe(true)
    await uploaded(exporter, 1)
    scheduler.close(false)
    await uploaded(exporter, 2)
    expect(calls).toEqual(['start', 'restart', 'stop'])
    expect(exporter.bounds()).toEqual([
      [4000, 5000],
      [5000, 6000],
    ])
    await agent.stop()
  })

  it('collects the open window at stop, and nothing when stopped between windows', async () => {
    const inside = agentWith(standInProfiler(), { heap: false })
    inside.agent.start()
    inside.scheduler.open(windowAt(2))
    await inside.agent.stop()
    expect(inside.exporter.bounds()).toEqual([[2000, 2001]])

    const outside = agentWith(standInProfiler(), { heap: false })
    outside.agent.start()
    outside.scheduler.open(windowAt(2))
    outside.scheduler.close()
    await uploaded(outside.exporter, 1)
    await outside.agent.stop()
    expect(outside.exporter.items).toHaveLength(1)
  })

  it('keeps withLabels labels across windows: a request begun between windows carries them', async () => {
    const published: Labels[] = []
    const bindings = standInProfiler({
      setContext: (context) => void published.push(context.labels),
    })
    const { agent, scheduler } = agentWith(bindings, { heap: false })
    agent.start()
    scheduler.open(windowAt(1))
    // A profiler that starts is given the context of the moment (none here).
    expect(published).toEqual([{}])
    scheduler.close()
    published.length = 0
    // Between windows: nothing reaches the profiler (the stand-in would throw if it did).
    let resume: (() => void) | undefined
    const request = withLabels({ route: '/checkout' }, async () => {
      await new Promise<void>((r) => (resume = r))
      return 'done'
    })
    await settle()
    expect(published).toEqual([])
    scheduler.open(windowAt(3))
    resume!()
    await expect(request).resolves.toBe('done')
    // The continuation ran in the window: its labels went to the profiler started for it.
    expect(published).toContainEqual({ route: '/checkout' })
    scheduler.close()
    await agent.stop()
  })

  it('judges every window against the budget, leaving out the cost of starting the profiler', async () => {
    const starts: number[] = []
    let startCostMs = 0
    let collectCostMs = 0
    const bindings = standInProfiler({
      startTime: ({ intervalMicros }) => {
        starts.push(intervalMicros)
        burn(startCostMs)
      },
      serialize: () => {
        burn(collectCostMs)
        return new Uint8Array(8)
      },
    })
    const windowMs = 1000
    const { agent, scheduler, exporter } = agentWith(bindings, {
      heap: false,
      samplingIntervalMicros: 10_000,
      overheadBudgetPercent: 1,
    })
    agent.start()
    const run = async (index: number) => {
      scheduler.open(windowAt(index, windowMs))
      scheduler.close()
      // The budget is applied as the window's last profile is queued.
      await uploaded(exporter, exporter.items.length + 1)
    }
    // A start costing 5 % of the window, a cheap collection: no sampling rate lowers a start's
    // cost, so the rate stays.
    startCostMs = windowMs * 0.05
    await run(1)
    await run(3)
    expect(starts).toEqual([10_000, 10_000])
    expect(agent.stats.lastOverheadPercent).toBeGreaterThan(1) // ...yet reported as spent
    // A collection over budget: halved at the next window, with no window left unjudged.
    startCostMs = 0
    collectCostMs = windowMs * 0.04
    await run(5)
    await run(7)
    await run(9)
    expect(starts).toEqual([10_000, 10_000, 10_000, 20_000, 40_000])
    expect(agent.stats.samplingIntervalMicros).toBe(80_000)
    await agent.stop()
  })

  it("counts the time profiler's start among the window's pauses of the event loop", async () => {
    let startCostMs = 0
    let collectCostMs = 0
    const bindings = standInProfiler({
      startTime: () => burn(startCostMs),
      serialize: () => {
        burn(collectCostMs)
        return new Uint8Array(8)
      },
    })
    const { agent, scheduler, exporter } = agentWith(bindings, { heap: false })
    agent.start()
    const run = async (index: number) => {
      scheduler.open(windowAt(index))
      scheduler.close()
      await uploaded(exporter, exporter.items.length + 1)
    }
    // The start holds the loop longer than the collection: the window's pause is the start's.
    startCostMs = 100
    collectCostMs = 2
    await run(1)
    expect(agent.stats.lastPauseMs).toBeGreaterThanOrEqual(startCostMs)
    expect(agent.stats.maxPauseMs).toBe(agent.stats.lastPauseMs)
    // A later window with a cheap start: its pause is its collection's, the maximum stays.
    const firstPauseMs = agent.stats.lastPauseMs
    startCostMs = 0
    await run(3)
    expect(agent.stats.lastPauseMs).toBeGreaterThanOrEqual(collectCostMs)
    expect(agent.stats.lastPauseMs).toBeLessThan(firstPauseMs)
    expect(agent.stats.maxPauseMs).toBe(firstPauseMs)
    await agent.stop()
  })

  it('disables itself, with one error and nothing thrown, when the time profiler will not start', async () => {
    const bindings = standInProfiler({
      startTime: () => {
        throw new Error('Wall profiler is already started')
      },
    })
    const { agent, scheduler, errors, exporter } = agentWith(bindings)
    expect(agent.start()).toBe(true)
    expect(() => scheduler.open(windowAt(1))).not.toThrow()
    expect(agent.running).toBe(false)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatch(/disabled/)
    await settle()
    expect(exporter.items).toEqual([])
    await agent.stop()
  })
})

/** Burn `ms` of CPU on this thread. */
function burn(ms: number): void {
  const until = process.cpuUsage().user + ms * 1000
  while (process.cpuUsage().user < until) {
    // spin
  }
}
