import type { Finding } from '@kiln/wire'

/**
 * A plain-text summary of a finding with its links, for the `text` field of the webhook body:
 * Slack's incoming webhooks show `text` and turn bare URLs into links, and so do most chat tools.
 */
export function findingText(f: Finding): string {
  const lines = [`Kiln finding: ${f.title}`]
  if (f.kind === 'cpu_regression') {
    for (const fn of f.functions) {
      const from = ((fn.baseShare ?? 0) * 100).toFixed(1)
      const to = ((fn.compShare ?? 0) * 100).toFixed(1)
      lines.push(`• ${fn.name}${fn.file ? ` (${fn.file})` : ''}: ${from}% → ${to}% of CPU`)
    }
    if (f.version !== undefined) {
      lines.push(`Changed in version ${f.version} (previous: ${f.previousVersion ?? '?'})`)
    }
  } else {
    for (const fn of f.functions) {
      const perHour = Math.round(fn.growthPerHour ?? 0)
      lines.push(`• ${fn.name}${fn.file ? ` (${fn.file})` : ''}: +${perHour} bytes/hour`)
    }
  }
  lines.push(`Diff: ${f.links.diff}`, `Flame graph: ${f.links.flamegraph}`)
  return lines.join('\n')
}
