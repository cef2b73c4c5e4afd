import type { AgentInstance } from '@kiln/wire'
import { formatPercent } from '../format'

/** A share of a core, already in percent, as the rest of the UI writes percentages. */
const pct = (n: number | null | undefined) =>
  n === null || n === undefined ? '–' : formatPercent(n, 100)
const hz = (micros: number | null | undefined) =>
  micros === null || micros === undefined || micros <= 0 ? '–' : `${Math.round(1e6 / micros)} Hz`

/** The sampling rates an instance ran at in the window: one, or the range the budget moved in. */
function rates(agent: AgentInstance): string {
  const { minSamplingIntervalMicros: fast, maxSamplingIntervalMicros: slow } = agent.window
  return fast === slow ? hz(fast) : `${hz(slow)} – ${hz(fast)}`
}

/**
 * How the instance collects: its schedule and the share of windows it collects in ("server 1/8"),
 * `–` from agents that do not say (before schedules: always on).
 */
export function collection(agent: Pick<AgentInstance, 'latest'>): string {
  const { schedule, dutyCycle } = agent.latest
  if (schedule === undefined) return '–'
  if (schedule === 'always' || dutyCycle === undefined) return schedule
  if (dutyCycle <= 0) return `${schedule}, waiting for a plan`
  const period = Math.round(1 / dutyCycle)
  return Math.abs(1 / period - dutyCycle) < 1e-9
    ? `${schedule}, 1 window in ${period}`
    : `${schedule}, ${formatPercent(dutyCycle, 1)} of windows`
}

/**
 * What each instance's profiling agent says of itself over the window (the stats it sends with
 * its uploads): its CPU cost as a share of one core (measured over the window, so a scheduled
 * agent's cost is its average), when it collects, the sampling rate its overhead budget chose,
 * failed uploads and dropped profiles. Collapsed: it is about the profiler, not the app.
 */
export function AgentsPanel({ agents }: { agents: readonly AgentInstance[] }) {
  if (agents.length === 0) return null
  const worst = Math.max(...agents.map((a) => a.window.cpuPercent ?? 0))
  return (
    <details className="agents-panel" data-testid="agents-panel">
      <summary>
        Profiling agents: {agents.length} instance{agents.length === 1 ? '' : 's'}, costing up to{' '}
        {pct(worst)} of a core
      </summary>
      <table>
        <thead>
          <tr>
            <th title="the host name the agent reports: on Kubernetes, the pod's name">
              pod / host
            </th>
            <th>pid</th>
            <th>version</th>
            <th title="collection and profiler-thread CPU over the window, in % of one core">
              agent CPU
            </th>
            <th title="the agent's overhead budget, in % of one core">budget</th>
            <th title="when the agent collects: the server's plan, its own duty cycle, or always; and the share of time windows it collects in">
              collects
            </th>
            <th>sampling</th>
            <th>uploads</th>
            <th>failed</th>
            <th>dropped</th>
          </tr>
        </thead>
        <tbody>
          {agents.map((a) => (
            <tr key={`${a.host}/${a.pid}/${a.version}`} data-pid={a.pid}>
              <td>{a.host}</td>
              <td>{a.pid}</td>
              <td>{a.version || '–'}</td>
              <td data-testid="agent-cpu">{pct(a.window.cpuPercent)}</td>
              <td>{pct(a.latest.overheadBudgetPercent)}</td>
              <td data-testid="agent-collects">{collection(a)}</td>
              <td>{rates(a)}</td>
              <td>{a.uploads}</td>
              <td>{a.window.uploadsFailed}</td>
              <td>{a.window.profilesDropped}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </details>
  )
}
