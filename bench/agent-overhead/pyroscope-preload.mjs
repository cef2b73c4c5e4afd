// `node --import ./pyroscope-preload.mjs service.mjs`: start `@pyroscope/nodejs` the way its
// README shows (init + start before the app), with the settings of pyroscope-settings.mjs.
// PYROSCOPE_SERVER_ADDRESS and PYROSCOPE_APPLICATION_NAME come from the orchestrator.
import Pyroscope from '@pyroscope/nodejs'
import { pyroscopeOptions } from './pyroscope-settings.mjs'

Pyroscope.init(
  pyroscopeOptions(
    process.env.PYROSCOPE_SERVER_ADDRESS,
    process.env.PYROSCOPE_APPLICATION_NAME ?? 'bench-service',
  ),
)
Pyroscope.start()
