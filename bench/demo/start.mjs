// `pnpm start`: the Kiln server on the embedded store (http://localhost:4040, data in ./data)
// and a demo service profiled by the agent, so the UI shows a flame graph within a minute.
// Configuration comes from KILN_* variables (see the README); Ctrl-C stops both.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { startServer } from '@kiln/server'

const root = fileURLToPath(new URL('../..', import.meta.url))
const server = await startServer({ dataDir: `${root}/data` }, process.env)
const uiUrl = server.url.replace('127.0.0.1', 'localhost')

const demo = spawn(
  process.execPath,
  [
    '--import',
    '@kiln/agent/register',
    fileURLToPath(new URL('../../test/fixtures/demo-service.mjs', import.meta.url)),
  ],
  {
    cwd: fileURLToPath(new URL('.', import.meta.url)),
    stdio: 'inherit',
    env: {
      ...process.env,
      KILN_SERVER_URL: server.url,
      KILN_SERVICE: process.env.KILN_DEMO_SERVICE ?? 'demo',
      KILN_VERSION: process.env.KILN_DEMO_VERSION ?? '1.0.0',
      KILN_UPLOAD_INTERVAL_MS: process.env.KILN_UPLOAD_INTERVAL_MS ?? '5000',
    },
  },
)
console.log(
  `\nKiln is running: open ${uiUrl}\nA demo service ("demo") is profiled by the agent; its first flame graph appears within ~10 s.\nPress Ctrl-C to stop.\n`,
)

let stopping = false
async function shutdown() {
  if (stopping) return
  stopping = true
  demo.kill('SIGTERM')
  await server.close()
  process.exit(0)
}
process.on('SIGINT', shutdown)
process.on('SIGTERM', shutdown)
demo.on('exit', (code) => {
  if (!stopping) console.error(`demo service exited (${code}); the server keeps running`)
})
