import type { Finding } from '@kiln/wire'

/**
 * What a finding found, one line per function and then the version, without its title or links:
 * the `description` annotation of its Alertmanager alert, and the body of the webhook text.
 */
export function findingDescription(f: Finding): string {
  const lines: string[] = []
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
  return lines.join('\n')
}

/**
 * The `text` of the webhook body, in Slack's mrkdwn: links are `<url|label>`, and `&`, `<`, `>`
 * in the rest are escaped as Slack asks, so a function named `<anonymous>` is not read as a
 * link. Other chat tools show the same text readably. URLs are left as they are (a raw `&` in a
 * link works in Slack): their query values are URI-encoded, so they hold no `<`, `>` or `|`.
 */
export function findingText(f: Finding): string {
  const description = findingDescription(f)
  const lines = [`Kiln finding: ${slackEscape(f.title)}`]
  if (description) lines.push(slackEscape(description))
  lines.push(`<${f.links.diff}|Diff> · <${f.links.flamegraph}|Flame graph>`)
  return lines.join('\n')
}

/** https://api.slack.com/reference/surfaces/formatting#escaping */
function slackEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}
