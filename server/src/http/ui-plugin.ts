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

const PUBLIC = { access: 'public' } as const

/**
 * Serves the single-page UI: `index.html` at `/` and `/index.html`, and Vite's hashed bundle
 * under `/assets/`. The routes are declared here (with `access: public`) and `@fastify/static`
 * only sends the files (`serve: false`): its own routes could not declare their access. `send`
 * refuses paths that leave the root and dotfiles. Without a built UI, `/` says how to build it.
 */
export const uiPlugin: FastifyPluginAsync<{ uiDir: string | undefined }> = async (
  fastify,
  { uiDir },
) => {
  const root = findUiDir(uiDir)
  if (!root) {
    fastify.log.warn('UI not built: run `pnpm build`; the API still works')
    fastify.get('/', { config: PUBLIC }, async (_request, reply) =>
      reply
        .type('text/plain')
        .send('Kiln server is running. The UI is not built: run `pnpm build`.\n'),
    )
    return
  }
  await fastify.register(fastifyStatic, { root, serve: false })
  // The page itself is never cached: it names the bundle of the running version.
  const page = { maxAge: 0, immutable: false, cacheControl: true }
  fastify.get('/', { config: PUBLIC }, async (_request, reply) =>
    reply.sendFile('index.html', page),
  )
  fastify.get('/index.html', { config: PUBLIC }, async (_request, reply) =>
    reply.sendFile('index.html', page),
  )
  // Hashed names: a file's content never changes under its name.
  const assets = join(root, 'assets')
  fastify.get<{ Params: { '*': string } }>(
    '/assets/*',
    { config: PUBLIC },
    async (request, reply) =>
      reply.sendFile(request.params['*'], assets, { maxAge: '365d', immutable: true }),
  )
}
