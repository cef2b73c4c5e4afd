/**
 * `node --import @kiln/agent/register app.js`: start profiling from `KILN_*` environment
 * variables (see the README). Without a service name the agent says so once and stays off.
 *
 * When the event loop empties, the last profile is uploaded (within 2 s) before the process
 * exits; the agent never holds the process open longer than that.
 */
import { start, stop } from './index.js'

if (start()) {
  process.once('beforeExit', () => void stop(2000))
}
