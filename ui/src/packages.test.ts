import { describe, expect, it } from 'vitest'
import {
  classifyFunction,
  groupKey,
  groupLabel,
  packageSearch,
  type PackageGroup,
} from './packages'

const pkg = (name: string): PackageGroup => ({ kind: 'package', name })
const of = (file: string | undefined, name = 'fn') => classifyFunction({ name, file })

describe('classifyFunction', () => {
  it('reads the package under node_modules', () => {
    expect(of('/app/node_modules/express/lib/router/index.js')).toEqual(pkg('express'))
    expect(of('node_modules/express/index.js')).toEqual(pkg('express'))
  })

  it('reads a scoped package as two segments', () => {
    expect(of('/app/node_modules/@fastify/ajv-compiler/index.js')).toEqual(
      pkg('@fastify/ajv-compiler'),
    )
    // A scope folder with no package folder below it names no package.
    expect(of('/app/node_modules/@fastify/index.js')).toEqual({ kind: 'unknown' })
  })

  it("reads pnpm's layout by the node_modules inside its store", () => {
    expect(
      of(
        '/app/node_modules/.pnpm/@fastify+ajv-compiler@3.5.0/node_modules/@fastify/ajv-compiler/index.js',
      ),
    ).toEqual(pkg('@fastify/ajv-compiler'))
    expect(
      of('/app/node_modules/.pnpm/express@4.18.2/node_modules/express/lib/express.js'),
    ).toEqual(pkg('express'))
    // A file straight in a store folder: `+` for `/`, the version after the name's `@`.
    expect(of('/app/node_modules/.pnpm/@scope+lib@1.0.0_react@18.2.0/index.js')).toEqual(
      pkg('@scope/lib'),
    )
    expect(of('/app/node_modules/.pnpm/lodash@4.17.21/lodash.js')).toEqual(pkg('lodash'))
  })

  it('takes the innermost package of nested node_modules', () => {
    expect(of('/app/node_modules/express/node_modules/debug/src/node.js')).toEqual(pkg('debug'))
    expect(of('/app/node_modules/@scope/lib/node_modules/@other/dep/index.js')).toEqual(
      pkg('@other/dep'),
    )
  })

  it('reads Windows paths', () => {
    expect(of('C:\\app\\node_modules\\express\\lib\\router\\index.js')).toEqual(pkg('express'))
    expect(of('C:\\app\\node_modules\\@scope\\lib\\index.js')).toEqual(pkg('@scope/lib'))
    expect(of('C:\\app\\src\\server.js')).toEqual({ kind: 'own' })
  })

  it('reads file:// URLs (ES modules)', () => {
    expect(of('file:///app/node_modules/@scope/lib/dist/index.mjs')).toEqual(pkg('@scope/lib'))
    expect(of('file:///C:/app/node_modules/express/index.js')).toEqual(pkg('express'))
    expect(of('file:///my%20app/node_modules/%40scope/lib/index.js')).toEqual(pkg('@scope/lib'))
    expect(of('file:///app/src/server.mjs')).toEqual({ kind: 'own' })
  })

  it('reads Node core: node: and internal/ files, and bare core module files', () => {
    expect(of('node:internal/process/task_queues')).toEqual({ kind: 'node' })
    expect(of('node:internal/modules/esm/loader')).toEqual({ kind: 'node' })
    expect(of('node:fs')).toEqual({ kind: 'node' })
    expect(of('node:_http_server')).toEqual({ kind: 'node' })
    // Node before 16.
    expect(of('internal/timers.js')).toEqual({ kind: 'node' })
    expect(of('events.js')).toEqual({ kind: 'node' })
    expect(of('_http_server.js')).toEqual({ kind: 'node' })
    expect(of('fs/promises.js')).toEqual({ kind: 'node' })
    expect(of('fs')).toEqual({ kind: 'node' })
  })

  it("reads V8's pseudo frames as the runtime", () => {
    for (const name of ['(program)', '(garbage collector)', '(idle)', '(root)', '(external)']) {
      expect(of(undefined, name)).toEqual({ kind: 'runtime' })
      expect(of('', name)).toEqual({ kind: 'runtime' })
    }
    // An anonymous function without a file is V8's own; with one, it is that file's.
    expect(of('', '(anonymous)')).toEqual({ kind: 'runtime' })
    expect(of('/app/node_modules/express/index.js', '(anonymous)')).toEqual(pkg('express'))
    expect(of('/app/src/server.js', '(anonymous)')).toEqual({ kind: 'own' })
  })

  it('reads frames without a file, eval and WebAssembly as unknown', () => {
    expect(of(undefined, 'total')).toEqual({ kind: 'unknown' })
    expect(of('', 'other')).toEqual({ kind: 'unknown' })
    expect(of('   ', 'nativeFn')).toEqual({ kind: 'unknown' })
    expect(of('evalmachine.<anonymous>')).toEqual({ kind: 'unknown' })
    expect(of('wasm://wasm/00b5e2a6')).toEqual({ kind: 'unknown' })
    // Tooling folders in node_modules are no package.
    expect(of('/app/node_modules/.vite/deps/react.js')).toEqual({ kind: 'unknown' })
    expect(of('/app/node_modules/index.js')).toEqual({ kind: 'unknown' })
  })

  it("reads every other file as the service's own code", () => {
    expect(of('/app/src/routes/orders.js')).toEqual({ kind: 'own' })
    expect(of('/app/dist/server.js')).toEqual({ kind: 'own' })
    expect(of('app.js')).toEqual({ kind: 'own' })
    // A folder merely named like a core module, or like node_modules.
    expect(of('/app/src/internal/fs.js')).toEqual({ kind: 'own' })
    expect(of('/app/my_node_modules/x/index.js')).toEqual({ kind: 'own' })
  })
})

describe('group names', () => {
  it('keys groups apart from any package name, and labels them', () => {
    const groups: PackageGroup[] = [
      pkg('express'),
      pkg('@scope/lib'),
      { kind: 'node' },
      { kind: 'runtime' },
      { kind: 'own' },
      { kind: 'unknown' },
    ]
    const keys = groups.map(groupKey)
    expect(new Set(keys).size).toBe(groups.length)
    expect(keys.slice(0, 2)).toEqual(['express', '@scope/lib'])
    expect(groups.map(groupLabel)).toEqual([
      'express',
      '@scope/lib',
      'Node.js core',
      'V8 runtime',
      'Own code',
      'Unknown',
    ])
  })

  it('searches a package by a path fragment every file of it holds', () => {
    const files = [
      '/app/node_modules/@scope/lib/index.js',
      '/app/node_modules/.pnpm/@scope+lib@1.0.0/node_modules/@scope/lib/dist/a.js',
      'file:///app/node_modules/@scope/lib/b.mjs',
    ]
    for (const file of files) {
      const group = of(file)
      expect(group).toEqual(pkg('@scope/lib'))
      if (group.kind === 'package') expect(file).toContain(packageSearch(group))
    }
  })
})
