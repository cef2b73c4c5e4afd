import { Agent } from './agent.js'
import { resolveAgentConfig, type AgentOptions } from './config.js'
import { stderrLogger } from './logger.js'
import type { AgentStats } from './stats.js'

let current: Agent | undefined

/**
 * Start profiling this process. Options override `KILN_*` environment variables. Returns false
 * (and logs why) when the agent cannot run; it never throws into the host.
 */
export function start(options: AgentOptions = {}): boolean {
  try {
    if (current?.running) return true
    const config = resolveAgentConfig(options, process.env)
    current = new Agent(config)
    return current.start()
  } catch (error) {
    ;(options.logger ?? stderrLogger()).error(`Kiln agent not started: ${(error as Error).message}`)
    return false
  }
}

/** Upload what is collected (within `deadlineMs`) and stop. Safe to call when not started. */
export async function stop(deadlineMs = 2000): Promise<void> {
  const agent = current
  current = undefined
  try {
    await agent?.stop(deadlineMs)
  } catch {
    // stop() must never reject into the host's shutdown path
  }
}

/** Counters of the running agent (uploads, drops, bytes, CPU spent), or undefined. */
export function getStats(): AgentStats | undefined {
  return current ? { ...current.stats } : undefined
}

export { withLabels } from './labels.js'
export { resolveAgentConfig, AgentConfigError, ENV_VARS } from './config.js'
export type { AgentConfig, AgentOptions } from './config.js'
export type { AgentLogger } from './logger.js'
export type { AgentStats } from './stats.js'
