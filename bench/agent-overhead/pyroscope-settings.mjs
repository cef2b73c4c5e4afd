// `@pyroscope/nodejs` as both orchestrators start it (`pyroscope`): its own default rates, which
// the Kiln variant `kiln-100hz` matches (Kiln's defaults are half these rates):
// - wall + CPU time: 100 Hz (10 ms), CPU time collected (Pyroscope's default is off),
// - heap: one sample per 512 KiB on average, 64 frames (its defaults; Kiln samples every 1 MiB),
// - one profile of each kind every 10 s (Pyroscope's default is 60 s).

/** `Pyroscope.init` options for an agent uploading to `serverAddress` as `appName`. */
export function pyroscopeOptions(serverAddress, appName) {
  return {
    serverAddress,
    appName,
    flushIntervalMs: 10_000,
    wall: { samplingDurationMs: 10_000, samplingIntervalMicros: 10_000, collectCpuTime: true },
    heap: { samplingIntervalBytes: 512 * 1024, stackDepth: 64 },
  }
}

/**
 * `pyroscope-defaults` (paired.mjs): nothing but the address and the name, as its README's
 * first example: 100 Hz wall time without CPU time, heap every 512 KiB, 60 s profiles.
 */
export function pyroscopeDefaultOptions(serverAddress, appName) {
  return { serverAddress, appName }
}
