import { KilnApiError, type DiffFunction, type DiffParams, type DiffResponse } from '@kiln/wire'
import { UsageError, client, limitOf, parse, print, required, time, writeOutput } from './args.js'
import {
  evaluateRules,
  FailRuleError,
  needsAbsolute,
  parseFailRule,
  type Breach,
} from './fail-on.js'
import { formatValue, percent, points, table, type Unit } from './format.js'
import { profileCommand } from './profile.js'

/*
 * `kiln`: the query API from a terminal or a CI job. Exit codes: 0 done; 1 a `--fail-on` rule
 * was broken; 2 a usage error, the server refused the request or could not be reached, or a
 * `--fail-on` comparison had no samples on one side. `kiln profile` exits with the command's
 * status. Errors are one line on stderr.
 */

/** The window of a command without `--from`/`--to`: the last 15 minutes. */
const DEFAULT_WINDOW_MS = 15 * 60_000

const USAGE = `usage: kiln <command> [options]

commands:
  services                     services with their profile types and last profile
  top     --service S          the heaviest functions of a window
  diff    --service S          functions that grew and shrank between two windows or versions;
                               --fail-on RULE exits 1 when the comparison breaks RULE
  export  --service S -o FILE  the window merged into one gzipped pprof (go tool pprof reads it)
  profile [options] -- CMD...  run CMD with the agent attached, then print its top functions

common options:
  --server URL      the Kiln server (KILN_SERVER_URL; default http://localhost:4040)
  --token T         a token with the read scope (KILN_TOKEN)
  --tenant T        X-Scope-OrgID of a multi-tenant server (KILN_TENANT)
  --type T          profile type: cpu (default), wall, heap_inuse_space, alloc_space, ...
  --from, --to      times: now-1h, now, 2026-12-01T09:00:00Z, Unix s/ms/ns (default: last 15 min)
  --query SEL       label selector, e.g. '{env="prod"}'
  --json            print the server's answer (with the verdict for diff) as JSON
  --limit N         rows to print (20)

diff options:
  --base-from, --base-to, --comp-from, --comp-to    the two windows (default: the last 15 min
                                                    against the 15 before)
  --base-version V, --comp-version V                compare two versions (service_version); each
                                                    window defaults to where its version ran
  --base-query SEL, --comp-query SEL                a selector per side
  --fail-on RULE    self>2pp, total>3pp, self>25%, self[name]>10%, total>5% (repeatable);
                    exits 2 when either side has no samples

profile options:
  --service S       service name of the run (default: the script's name)
  --out FILE        also write the run's CPU profile as gzipped pprof
  --serve           keep the embedded server running to browse the run (Ctrl-C stops it)
  --interval-micros N   sampling interval (10000: 100 Hz)
  without --server (or KILN_SERVER_URL) an embedded server in a temporary directory is used;
  exits with the command's status (128 + signal number when a signal ended it)

exit codes: 0 done, 1 a --fail-on rule broken, 2 an error (one line on stderr)`

async function services(argv: string[]): Promise<number> {
  const values = parse(argv, {})
  const res = await client(values).services()
  if (values.json) print(JSON.stringify(res, null, 2))
  else {
    print(
      table(
        ['service', 'types', 'last profile'],
        res.services.map((s) => [s.name, s.types.join(','), new Date(s.lastSeen).toISOString()]),
      ),
    )
  }
  return 0
}

async function top(argv: string[]): Promise<number> {
  const values = parse(argv, { sort: { type: 'string' } })
  const sort = values.sort ?? 'self'
  if (sort !== 'self' && sort !== 'total') throw new UsageError(`--sort ${sort}: self or total`)
  const limit = limitOf(values.limit)
  const now = Date.now()
  const res = await client(values).top({
    service: required(values.service, '--service'),
    type: values.type ?? 'cpu',
    from: time(values.from, '--from', now) ?? now - DEFAULT_WINDOW_MS,
    to: time(values.to, '--to', now) ?? now,
    ...(values.query ? { query: values.query } : {}),
    sort,
    limit,
  })
  if (values.json) {
    print(JSON.stringify(res, null, 2))
    return 0
  }
  const unit = res.unit as Unit
  print(
    `${res.service} ${res.type} ${new Date(res.from).toISOString()} – ${new Date(res.to).toISOString()}` +
      `${res.query !== '{}' ? ` ${res.query}` : ''}: total ${formatValue(res.total, unit)}`,
  )
  print(
    table(
      ['self', '', 'total', '', 'function', 'file'],
      res.functions.map((f) => [
        formatValue(f.self, unit),
        percent(f.self, res.total),
        formatValue(f.total, unit),
        percent(f.total, res.total),
        f.name,
        f.file ? `${f.file}${f.line ? `:${f.line}` : ''}` : '',
      ]),
      new Set([0, 1, 2, 3]),
    ),
  )
  return 0
}

async function exportCommand(argv: string[]): Promise<number> {
  const values = parse(argv, { out: { type: 'string', short: 'o' } })
  const now = Date.now()
  const res = await client(values).exportPprof({
    service: required(values.service, '--service'),
    type: values.type ?? 'cpu',
    from: time(values.from, '--from', now) ?? now - DEFAULT_WINDOW_MS,
    to: time(values.to, '--to', now) ?? now,
    ...(values.query ? { query: values.query } : {}),
  })
  const out = values.out ?? res.filename ?? 'kiln.pb.gz'
  writeOutput(out, res.bytes)
  print(`${out} (${res.bytes.length} bytes)`)
  return 0
}

/** `{...}` with `name="value"` added; `value` escaped as a selector string. */
function withMatcher(selector: string | undefined, name: string, value: string): string {
  const matcher = `${name}=${JSON.stringify(value)}`
  const inner = (selector ?? '')
    .trim()
    .replace(/^\{|\}$/g, '')
    .trim()
  return `{${inner === '' ? matcher : `${inner}, ${matcher}`}}`
}

async function diff(argv: string[]): Promise<number> {
  const values = parse(argv, {
    'base-from': { type: 'string' },
    'base-to': { type: 'string' },
    'comp-from': { type: 'string' },
    'comp-to': { type: 'string' },
    'base-version': { type: 'string' },
    'comp-version': { type: 'string' },
    'base-query': { type: 'string' },
    'comp-query': { type: 'string' },
    'fail-on': { type: 'string', multiple: true },
  })
  const rules = (values['fail-on'] ?? []).map((text) => {
    try {
      return parseFailRule(text)
    } catch (error) {
      if (error instanceof FailRuleError) throw new UsageError(error.message)
      throw error
    }
  })
  const service = required(values.service, '--service')
  const type = values.type ?? 'cpu'
  const limit = limitOf(values.limit, 10)
  const api = client(values)
  let baseQuery = values['base-query'] ?? values.query
  let compQuery = values['comp-query'] ?? values.query
  const now = Date.now()
  const windows: Partial<Record<'baseFrom' | 'baseTo' | 'compFrom' | 'compTo', number>> = {}
  for (const [flag, key] of [
    ['base-from', 'baseFrom'],
    ['base-to', 'baseTo'],
    ['comp-from', 'compFrom'],
    ['comp-to', 'compTo'],
  ] as const) {
    const t = time(values[flag], `--${flag}`, now)
    if (t !== undefined) windows[key] = t
  }
  const baseVersion = values['base-version']
  const compVersion = values['comp-version']
  if (baseVersion !== undefined || compVersion !== undefined) {
    if (baseVersion === undefined || compVersion === undefined) {
      throw new UsageError('--base-version and --comp-version go together')
    }
    const { versions } = await api.versions(service)
    for (const [version, side] of [
      [baseVersion, 'base'],
      [compVersion, 'comp'],
    ] as const) {
      const found = versions.find((v) => v.version === version)
      if (found === undefined) {
        throw new UsageError(
          `${service} has no version ${JSON.stringify(version)} (it has ${versions.map((v) => v.version).join(', ') || 'none'})`,
        )
      }
      windows[`${side}From`] ??= found.firstSeen
      windows[`${side}To`] ??= found.lastSeen + 1
    }
    baseQuery = withMatcher(baseQuery, 'service_version', baseVersion)
    compQuery = withMatcher(compQuery, 'service_version', compVersion)
  }
  if (windows.compTo === undefined && windows.compFrom === undefined) {
    windows.compFrom = now - DEFAULT_WINDOW_MS
    windows.compTo = now
  }
  const params: DiffParams = {
    service,
    type,
    ...windows,
    ...(baseQuery ? { baseQuery } : {}),
    ...(compQuery ? { compQuery } : {}),
    // Every function that changed: the rules judge them all, the table prints `limit`.
    limit: rules.length > 0 ? 1000 : limit,
  }
  const byShare = await api.diff({ ...params, rankBy: 'share' })
  const byAbsolute = needsAbsolute(rules)
    ? await api.diff({ ...params, rankBy: 'absolute' })
    : undefined
  if (rules.length > 0) {
    // A misspelt service or selector, or a benchmark whose profile never arrived, compares
    // nothing with something: passing the gate then would hide the failure it exists for.
    const side =
      byShare.baseline.total <= 0
        ? 'baseline'
        : byShare.comparison.total <= 0
          ? 'comparison'
          : undefined
    if (side !== undefined) {
      const w = byShare[side]
      throw new UsageError(
        `the ${side} (${windowText(w)}) has no ${type} samples of ${service}: --fail-on has nothing to judge`,
      )
    }
  }
  const breaches = evaluateRules(rules, byShare, byAbsolute)
  if (values.json) {
    const { root: _root, ...rest } = byShare
    print(JSON.stringify({ ...rest, failOn: rules.map((r) => r.text), breaches }, null, 2))
  } else {
    printDiff(byShare, limit, breaches)
  }
  return breaches.length > 0 ? 1 : 0
}

const windowText = (w: { from: number; to: number; query: string }) =>
  `${new Date(w.from).toISOString()} – ${new Date(w.to).toISOString()}${w.query !== '{}' ? ` ${w.query}` : ''}`

function printDiff(d: DiffResponse, limit: number, breaches: Breach[]): void {
  const unit = d.unit as Unit
  print(`${d.service} ${d.type}`)
  print(`  baseline    ${windowText(d.baseline)}: total ${formatValue(d.baseline.total, unit)}`)
  print(`  comparison  ${windowText(d.comparison)}: total ${formatValue(d.comparison.total, unit)}`)
  const rows = (fs: DiffFunction[]) =>
    fs
      .slice(0, limit)
      .map((f) => [
        points(f.selfShare),
        percent(f.baseSelf, d.baseline.total),
        percent(f.compSelf, d.comparison.total),
        formatValue(f.baseSelf, unit),
        formatValue(f.compSelf, unit),
        f.name,
        f.file ?? '',
      ])
  const header = ['change', 'before', 'after', 'self before', 'self after', 'function', 'file']
  const right = new Set([0, 1, 2, 3, 4])
  print('\ngrew (self share):')
  print(d.changes.self.grew.length > 0 ? table(header, rows(d.changes.self.grew), right) : '  none')
  print('\nshrank (self share):')
  print(
    d.changes.self.shrank.length > 0 ? table(header, rows(d.changes.self.shrank), right) : '  none',
  )
  if (breaches.length > 0) {
    print(`\nFAIL: ${breaches.length} ${breaches.length === 1 ? 'rule' : 'rules'} broken`)
    for (const b of breaches) print(`  ${b.rule}: ${b.message}`)
  }
}

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  services,
  top,
  diff,
  export: exportCommand,
  profile: profileCommand,
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    print(USAGE)
    return command === undefined ? 2 : 0
  }
  const run = COMMANDS[command]
  try {
    if (run === undefined)
      throw new UsageError(`unknown command ${JSON.stringify(command)}; see kiln --help`)
    // Options end at `--`: `kiln profile -- node bench.js -h` passes `-h` to the script.
    const split = rest.indexOf('--')
    const own = split < 0 ? rest : rest.slice(0, split)
    if (own.includes('--help') || own.includes('-h')) {
      print(USAGE)
      return 0
    }
    return await run(rest)
  } catch (error) {
    if (error instanceof UsageError) process.stderr.write(`kiln ${command}: ${error.message}\n`)
    else if (error instanceof KilnApiError) {
      const hint = error.status === 401 ? ' (the token comes from --token or KILN_TOKEN)' : ''
      process.stderr.write(
        `kiln ${command}: ${error.status > 0 ? `${error.status} ${error.code}: ` : ''}${error.message}${hint}\n`,
      )
    } else throw error
    return 2
  }
}
