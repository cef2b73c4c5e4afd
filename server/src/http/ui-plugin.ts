import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import fastifyStatic from '@fastify/static'
import type { FastifyPluginAsync } from 'fastify'

/** Where the built UI is: `uiDir` if set, else the `@kiln/ui` package's `dist/`. */
export function findUiDir(uiDir: string | undefined): string | undefined {
  if (uiDir) return uiDir
  try {
    const pkg = createRequire(import.meta.url).resolve('@kiln/ui/package.json')
    const dist = join(dirname(pkg), 'dist')
    return existsSync(join(dist, 'index.html')) ? dist : undefined
  } catch {
    return undefined
  }
}

/** Serves the single-page UI at `/`. Without a built UI, `/` says how to build it. */
export const uiPlugin: FastifyPluginAsync<{ uiDir: string | undefined }> = async (
  fastify,
  { uiDir },
) => {
  const root = findUiDir(uiDir)
  if (!root) {
    fastify.log.warn('UI not built: run `pnpm build`; the API still works')
    fastify.get('/', async (_request, reply) =>
      reply
        .type('text/plain')
        .send('Kiln server is running. The UI is not built: run `pnpm build`.\n'),
    )
    return
  }
  await fastify.register(fastifyStatic, { root, prefix: '/', index: 'index.html', wildcard: false })
}
