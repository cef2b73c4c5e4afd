/**
 * Which code a frame belongs to, read from its file as the query API returns it: an npm package
 * (under `node_modules/`), Node's own modules, the V8 runtime (GC, idle), the service's own code,
 * or unknown.
 */
export type PackageGroup =
  | { readonly kind: 'package'; readonly name: string }
  | { readonly kind: 'node' }
  | { readonly kind: 'runtime' }
  | { readonly kind: 'own' }
  | { readonly kind: 'unknown' }

export type PackageGroupKind = PackageGroup['kind']

const NODE: PackageGroup = { kind: 'node' }
const RUNTIME: PackageGroup = { kind: 'runtime' }
const OWN: PackageGroup = { kind: 'own' }
const UNKNOWN: PackageGroup = { kind: 'unknown' }

/**
 * Frames V8 and Node's profilers add for time or memory outside any function (pprof-nodejs names
 * them so, with no file). `(anonymous)` is not here: an anonymous function has the file it is in.
 */
const RUNTIME_NAMES: ReadonlySet<string> = new Set([
  '(program)',
  '(garbage collector)',
  '(idle)',
  '(root)',
  '(external)',
])

/**
 * Node's public modules (`require('node:module').builtinModules`, Node 20, without `node:`).
 * Node before 16 named core frames by bare file (`events.js`, `_http_server.js`); later versions
 * write `node:events`.
 */
const NODE_BUILTINS: ReadonlySet<string> = new Set([
  '_http_agent',
  '_http_client',
  '_http_common',
  '_http_incoming',
  '_http_outgoing',
  '_http_server',
  '_stream_duplex',
  '_stream_passthrough',
  '_stream_readable',
  '_stream_transform',
  '_stream_wrap',
  '_stream_writable',
  '_tls_common',
  '_tls_wrap',
  'assert',
  'assert/strict',
  'async_hooks',
  'buffer',
  'child_process',
  'cluster',
  'console',
  'constants',
  'crypto',
  'dgram',
  'diagnostics_channel',
  'dns',
  'dns/promises',
  'domain',
  'events',
  'fs',
  'fs/promises',
  'http',
  'http2',
  'https',
  'inspector',
  'module',
  'net',
  'os',
  'path',
  'path/posix',
  'path/win32',
  'perf_hooks',
  'process',
  'punycode',
  'querystring',
  'readline',
  'readline/promises',
  'repl',
  'stream',
  'stream/consumers',
  'stream/promises',
  'stream/web',
  'string_decoder',
  'sys',
  'timers',
  'timers/promises',
  'tls',
  'trace_events',
  'tty',
  'url',
  'util',
  'util/types',
  'v8',
  'vm',
  'wasi',
  'worker_threads',
  'zlib',
])

const NODE_MODULES = 'node_modules/'

/**
 * The file with forward slashes and without a `file://` scheme: `file:///C:/app/x.js` and
 * `C:\app\x.js` both read `/C:/app/x.js`-like, so one rule finds `node_modules/` in each.
 */
function normalizePath(file: string): string {
  let path = file
  if (path.startsWith('file://')) {
    path = path.slice('file://'.length)
    try {
      // pathToFileURL escapes spaces and `%` (`/my%20app/`); names in node_modules never need it.
      path = decodeURIComponent(path)
    } catch {
      // A lone `%` that is not an escape: keep the path as written.
    }
  }
  return path.replaceAll('\\', '/')
}

/**
 * The package a path under `node_modules/` is in: the segment after the last `node_modules/`
 * (nested installs belong to the innermost package), two segments for a scope (`@fastify/ajv-compiler`).
 * A file straight in pnpm's store folder names the package with `+` for `/` and its version:
 * `node_modules/.pnpm/@fastify+ajv-compiler@3.5.0/index.js`.
 */
function packageOf(path: string, start: number): PackageGroup {
  const [first = '', second = ''] = path.slice(start + NODE_MODULES.length).split('/')
  if (first === '.pnpm') {
    const version = second.indexOf('@', 1)
    const name = (version < 0 ? second : second.slice(0, version)).replace('+', '/')
    return name === '' ? UNKNOWN : { kind: 'package', name }
  }
  // `.bin`, `.cache`, `.vite/deps`: tooling folders, not a package.
  if (first === '' || first.startsWith('.') || second === '') return UNKNOWN
  if (first.startsWith('@')) {
    const rest = path.slice(start + NODE_MODULES.length + first.length + 1)
    return rest.includes('/') ? { kind: 'package', name: `${first}/${second}` } : UNKNOWN
  }
  return { kind: 'package', name: first }
}

/** Node core by its file: `node:fs`, `node:internal/...`, `internal/...`, bare `events.js`. */
function isNodeCore(path: string): boolean {
  if (path.startsWith('node:') || path.startsWith('internal/')) return true
  const module = path.replace(/\.js$/, '')
  return NODE_BUILTINS.has(module)
}

/** The group of a function, by its file (and, for frames without a file, by its name). */
export function classifyFunction(fn: { name: string; file?: string | undefined }): PackageGroup {
  if (RUNTIME_NAMES.has(fn.name)) return RUNTIME
  const file = (fn.file ?? '').trim()
  if (file === '') {
    // `(anonymous)` with no file is V8's own code (a builtin); the tree's `total` and folded
    // `other` nodes have no file either, and are nobody's.
    return fn.name.startsWith('(') && fn.name.endsWith(')') ? RUNTIME : UNKNOWN
  }
  const path = normalizePath(file)
  if (isNodeCore(path)) return NODE
  const nested = path.lastIndexOf(`/${NODE_MODULES}`)
  const start = nested >= 0 ? nested + 1 : path.startsWith(NODE_MODULES) ? 0 : -1
  if (start >= 0) return packageOf(path, start)
  // Code V8 compiled from a string (`eval`, `vm.runInContext`: `evalmachine.<anonymous>`) or
  // WebAssembly has no file of its own to say whose it is.
  if (path.includes('<anonymous>') || path.startsWith('wasm:')) return UNKNOWN
  return OWN
}

/** A stable key per group, for maps and React keys (a package name never holds `:`). */
export function groupKey(group: PackageGroup): string {
  return group.kind === 'package' ? group.name : `:${group.kind}`
}

/** What the group is called on screen. */
export function groupLabel(group: PackageGroup): string {
  switch (group.kind) {
    case 'package':
      return group.name
    case 'node':
      return 'Node.js core'
    case 'runtime':
      return 'V8 runtime'
    case 'own':
      return 'Own code'
    case 'unknown':
      return 'Unknown'
  }
}

/** One line on what a group holds, for the table. */
export function groupHint(group: PackageGroup): string {
  switch (group.kind) {
    case 'package':
      return packageSearch(group)
    case 'node':
      return 'node:* and internal/* modules'
    case 'runtime':
      return 'garbage collection, idle, (program)'
    case 'own':
      return 'the service’s files outside node_modules'
    case 'unknown':
      return 'frames without a file, folded “other” frames, eval'
  }
}

/**
 * The flame graph search that finds a package's frames: the search matches file paths by
 * substring, and every file of the package holds `node_modules/<name>/` (pnpm's too: its files
 * sit in `.pnpm/<name>@<version>/node_modules/<name>/`).
 */
export function packageSearch(group: Extract<PackageGroup, { kind: 'package' }>): string {
  return `${NODE_MODULES}${group.name}/`
}
