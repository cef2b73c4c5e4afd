/**
 * Which service an alert is about, by an ordered list of rules over its labels
 * (`KILN_ALERT_SERVICE_LABELS`). A rule is a label name (`container`), or a label name with a
 * regular expression in double quotes whose first group (or whole match) is the service
 * (`pod=~"(.+)-[a-z0-9]{8,10}-[a-z0-9]{5}"`, a Deployment's pod to the Deployment). Rules are
 * separated by commas; a comma inside the quotes belongs to the expression. The expression
 * must match the whole value, as in PromQL.
 *
 * The rules are tried in order until one names a service that has profiles: with
 * prometheus-operator, `service` names the scrape target's Kubernetes Service
 * (`kube-state-metrics` for a crash-looping pod of another service), so the first label present
 * is not always the right one.
 */
export interface ServiceRule {
  /** As configured, for answers and logs: `container`, `pod=~"(.+)-[^-]+-[^-]+"`. */
  text: string
  label: string
  pattern?: RegExp
}

/** What a rule reads from an alert's labels. */
export interface ServiceCandidate {
  rule: string
  service: string
}

/** Longest label value read as (or matched for) a service name. */
const MAX_SERVICE_VALUE = 1_024

export const DEFAULT_SERVICE_RULES =
  'service_name,service,app_kubernetes_io_name,app.kubernetes.io/name,app,container,job'

/** Parse the rules; throws with the offending rule when one cannot be read. */
export function parseServiceRules(text: string): ServiceRule[] {
  const rules: ServiceRule[] = []
  let pos = 0
  const fail = (detail: string): never => {
    throw new Error(`service label rules ${JSON.stringify(text)}: ${detail} at offset ${pos}`)
  }
  while (pos < text.length) {
    const start = pos
    while (pos < text.length && text[pos] !== ',' && !text.startsWith('=~', pos)) pos++
    const label = text.slice(start, pos).trim()
    if (label === '') {
      if (pos >= text.length) break
      if (text[pos] === ',') {
        pos++
        continue
      }
      fail('expected a label name')
    }
    if (!text.startsWith('=~', pos)) {
      rules.push({ text: label, label })
      pos++
      continue
    }
    pos += 2
    while (text[pos] === ' ') pos++
    if (text[pos] !== '"') fail('expected a double-quoted regular expression after =~')
    const quoted = /^"(?:[^"\\]|\\.)*"/.exec(text.slice(pos))
    if (!quoted) return fail('unterminated regular expression')
    const source = JSON.parse(quoted[0]) as string
    let pattern: RegExp
    try {
      pattern = new RegExp(`^(?:${source})$`, 'u')
    } catch (error) {
      return fail(`bad regular expression: ${(error as Error).message}`)
    }
    pos += quoted[0].length
    while (text[pos] === ' ') pos++
    if (pos < text.length && text[pos] !== ',') fail("expected ',' after the expression")
    pos++
    rules.push({ text: `${label}=~${quoted[0]}`, label, pattern })
  }
  if (rules.length === 0) fail('no rule')
  return rules
}

/** The services the rules read from these labels, in rule order, each service once. */
export function serviceCandidates(
  labels: Record<string, string>,
  rules: readonly ServiceRule[],
): ServiceCandidate[] {
  const out: ServiceCandidate[] = []
  for (const rule of rules) {
    const value = labels[rule.label]?.trim()
    // No service name is this long; an expression never runs over an unbounded value.
    if (!value || value.length > MAX_SERVICE_VALUE) continue
    let service = value
    if (rule.pattern) {
      const m = rule.pattern.exec(value)
      if (!m) continue
      service = (m[1] ?? m[0]).trim()
    }
    if (service !== '' && !out.some((c) => c.service === service)) {
      out.push({ rule: rule.text, service })
    }
  }
  return out
}

export interface ServiceChoice {
  service: string
  /** The rule that named it; `''` when none did. */
  rule: string
  /** Set when no rule named a service with profiles. */
  warning: string
}

/**
 * The first candidate that has profiles. When none has, the first candidate all the same (its
 * profiles may come later), with a warning naming what was tried; without candidates, `''`.
 */
export function chooseService(
  candidates: readonly ServiceCandidate[],
  profiled: ReadonlySet<string>,
): ServiceChoice {
  const hit = candidates.find((c) => profiled.has(c.service))
  if (hit) return { service: hit.service, rule: hit.rule, warning: '' }
  const tried = candidates.map((c) => `${c.rule} → ${JSON.stringify(c.service)}`).join('; ')
  if (candidates.length === 0) {
    return { service: '', rule: '', warning: 'no label of the alert names a service' }
  }
  return {
    service: candidates[0]!.service,
    rule: candidates[0]!.rule,
    warning: `no profiled service matched (tried ${tried}); the links may show no profiles`,
  }
}
