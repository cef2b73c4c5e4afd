import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'

/*
 * The TypeScript of Pyroscope's API is generated from server/proto and checked in: generating it
 * again from the definitions gives the same files, so an edit to a .proto cannot be forgotten.
 */

const SERVER = fileURLToPath(new URL('..', import.meta.url))
const GEN = join(SERVER, 'src/pyroscope/gen')

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort()
}

describe('generated code of the Pyroscope API', () => {
  const out = mkdtempSync(join(tmpdir(), 'kiln-gen-'))
  afterAll(() => rmSync(out, { recursive: true, force: true }))

  it('is what buf generates from server/proto', () => {
    const result = spawnSync(
      join(SERVER, 'node_modules/.bin/buf'),
      ['generate', 'proto', '--template', 'proto/buf.gen.yaml', '--output', out],
      {
        cwd: SERVER,
        encoding: 'utf8',
        timeout: 60_000,
        // buf runs the protoc-gen-es plugin from PATH, as `pnpm generate` finds it.
        env: { ...process.env, PATH: `${join(SERVER, 'node_modules/.bin')}:${process.env.PATH}` },
      },
    )
    expect(result.status, result.stderr).toBe(0)
    const fresh = join(out, 'src/pyroscope/gen')
    expect(files(fresh)).toEqual(files(GEN))
    for (const file of files(GEN)) {
      expect(readFileSync(join(fresh, file), 'utf8'), file).toBe(
        readFileSync(join(GEN, file), 'utf8'),
      )
    }
  })
})
