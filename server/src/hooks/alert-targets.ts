import type { ClickHouseClient } from '@clickhouse/client'
import { LABEL_NAME_PATTERN } from '@kiln/wire'
import { formatSelector } from '../query/selector.js'
import { selectRows } from '../store/select-rows.js'
import type { AlertTarget } from './alert-mapping.js'
import {
  chooseService,
  serviceCandidates,
  type ServiceCandidate,
  type ServiceRule,
} from './service-rules.js'

/** How long the list of a tenant's profiled services is reused. */
const SERVICES_TTL_MS = 30_000
/** A service that no rule found is looked up again after this long, at most. */
const SERVICES_RETRY_MS = 10_000
/** Tenants whose services are remembered; the least recently looked up is forgotten first. */
const MAX_CACHED_TENANTS = 1_000
/** Labels of one alert looked at for its selector, and the longest value looked at. */
const MAX_CARRIED_LABELS = 64
const MAX_CARRIED_VALUE = 1_024
/** Label values of one service looked up for a request; the alerts past it carry fewer. */
const MAX_PAIRS_PER_SERVICE = 2_000

/**
 * Labels that describe the alert itself, never its profiles (Alertmanager's and Grafana's), so
 * they are never carried into a selector even if some service happened to carry them.
 */
const ALERT_ONLY_LABELS = new Set([
  'alertname',
  'severity',
  'grafana_folder',
  '__alert_rule_uid__',
  'profile_type',
])

const LABEL_NAME = new RegExp(LABEL_NAME_PATTERN)

/** What to resolve: an alert's labels, or a service named outright (the generic hook, links). */
export interface TargetRequest {
  labels: Record<string, string>
  service?: string | undefined
}

/**
 * Resolves alerts to their service and selector against what the store holds: the service
 * rules are tried until one names a service with profiles (of the request's tenant), and the
 * alert's labels that the service's series carry with the same value (pod, instance, region…)
 * become the selector of its links. One query per service of a batch, whatever its size.
 */
export class AlertTargets {
  readonly #client: ClickHouseClient
  readonly #db: string
  readonly #rules: readonly ServiceRule[]
  readonly #services = new Map<string, { at: number; names: Set<string> }>()

  constructor(client: ClickHouseClient, db: string, rules: readonly ServiceRule[]) {
    this.#client = client
    this.#db = db
    this.#rules = rules
  }

  async resolve(tenant: string, requests: readonly TargetRequest[]): Promise<AlertTarget[]> {
    const candidates = requests.map((r): ServiceCandidate[] =>
      r.service
        ? [{ rule: 'service', service: r.service.trim() }]
        : serviceCandidates(r.labels, this.#rules),
    )
    let profiled = await this.#profiled(tenant, false)
    if (candidates.some((c) => c.length > 0 && !c.some((x) => profiled.has(x.service)))) {
      profiled = await this.#profiled(tenant, true)
    }
    const choices = candidates.map((c) => chooseService(c, profiled))

    // The labels each alert could carry, grouped by service: one lookup per service.
    const wanted = new Map<string, Map<string, Set<string>>>()
    const counts = new Map<string, number>()
    const carried = requests.map((r, i) => {
      const choice = choices[i]!
      if (!profiled.has(choice.service)) return []
      // A plain rule's label named the service, not a series; a rule with an expression read a
      // pod or a container, which the series may well carry.
      const ruleLabel = choice.rule.includes('=~') ? undefined : choice.rule
      const pairs = Object.entries(r.labels)
        .filter(
          ([k, v]) =>
            v !== '' &&
            v.length <= MAX_CARRIED_VALUE &&
            k !== ruleLabel &&
            !ALERT_ONLY_LABELS.has(k) &&
            LABEL_NAME.test(k),
        )
        .slice(0, MAX_CARRIED_LABELS)
      let names = wanted.get(choice.service)
      if (!names) wanted.set(choice.service, (names = new Map()))
      let count = counts.get(choice.service) ?? 0
      for (const [k, v] of pairs) {
        let values = names.get(k)
        if (!values) names.set(k, (values = new Set()))
        if (values.has(v) || count >= MAX_PAIRS_PER_SERVICE) continue
        values.add(v)
        count++
      }
      counts.set(choice.service, count)
      return pairs
    })
    const present = new Map<string, Set<string>>()
    for (const [service, names] of wanted) {
      present.set(service, await this.presentPairs(tenant, service, names))
    }
    return choices.map((choice, i) => {
      const have = present.get(choice.service)
      const matchers = carried[i]!.filter(([k, v]) => have?.has(pairKey(k, v)))
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([name, value]) => ({ name, op: '=' as const, value }))
      return { ...choice, selector: matchers.length > 0 ? formatSelector(matchers) : '' }
    })
  }

  /** The tenant's services with profiles, from the cache unless `fresh` and it is not brand new. */
  async #profiled(tenant: string, fresh: boolean): Promise<Set<string>> {
    const now = Date.now()
    const cached = this.#services.get(tenant)
    if (cached && now - cached.at < (fresh ? SERVICES_RETRY_MS : SERVICES_TTL_MS)) {
      return cached.names
    }
    const rows = await selectRows<{ service: string }>(
      this.#client,
      `SELECT DISTINCT service FROM ${this.#db}.profiles WHERE tenant = {tenant:String}`,
      { tenant },
    )
    const names = new Set(rows.map((r) => r.service))
    this.#services.delete(tenant)
    this.#services.set(tenant, { at: now, names })
    if (this.#services.size > MAX_CACHED_TENANTS) {
      this.#services.delete(this.#services.keys().next().value!)
    }
    return names
  }

  /**
   * Which of these label values a service's series carry (only its series that also carry
   * `also`, e.g. a version's). A failed lookup carries nothing: the links then show the whole
   * service, and the alert is stored all the same.
   */
  async presentPairs(
    tenant: string,
    service: string,
    names: Map<string, Set<string>>,
    also?: { name: string; value: string },
  ): Promise<Set<string>> {
    const keys: string[] = []
    const values: string[] = []
    for (const [k, vs] of names) {
      for (const v of vs) {
        keys.push(k)
        values.push(v)
      }
    }
    if (keys.length === 0) return new Set()
    try {
      const rows = await selectRows<{ k: string; v: string }>(
        this.#client,
        `SELECT DISTINCT k, v FROM ${this.#db}.series
          ARRAY JOIN mapKeys(labels) AS k, mapValues(labels) AS v
          WHERE tenant = {tenant:String} AND service = {service:String}
            ${also ? 'AND labels[{alsoName:String}] = {alsoValue:String}' : ''}
            AND has({keys:Array(String)}, k)
            AND has(arrayZip({keys:Array(String)}, {values:Array(String)}), (k, v))`,
        {
          tenant,
          service,
          keys,
          values,
          ...(also ? { alsoName: also.name, alsoValue: also.value } : {}),
        },
      )
      return new Set(rows.map((r) => pairKey(r.k, r.v)))
    } catch {
      return new Set()
    }
  }
}

export const pairKey = (k: string, v: string): string => `${k}\u0000${v}`
