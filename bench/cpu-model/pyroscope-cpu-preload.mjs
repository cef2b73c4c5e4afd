// `@pyroscope/nodejs` with CPU time collected (its wall profiler's `collectCpuTime`), at its
// default 100 Hz, uploading every 10 s: what a Pyroscope user with CPU time on sends to Kiln.
import Pyroscope from '@pyroscope/nodejs'

Pyroscope.init({
  serverAddress: process.env.PYROSCOPE_SERVER_ADDRESS,
  appName: process.env.PYROSCOPE_APPLICATION_NAME,
  flushIntervalMs: 10_000,
  wall: { samplingDurationMs: 10_000, samplingIntervalMicros: 10_000, collectCpuTime: true },
})
Pyroscope.start()
process.once('SIGINT', () => void Pyroscope.stop().then(() => process.exit(0)))
