import { existsSync } from 'node:fs'
import { chromium, type Browser } from 'playwright-core'

/** Debian's Chromium (installed by scripts/setup-machine.sh); `KILN_CHROMIUM` overrides. */
export function chromiumPath(): string {
  const path = process.env.KILN_CHROMIUM ?? '/usr/bin/chromium'
  if (!existsSync(path))
    throw new Error(`Chromium not found at ${path}: run scripts/setup-machine.sh`)
  return path
}

/**
 * Headless Chromium. The flags keep it off the network: this machine's closed network refuses
 * Chromium's background connections (update checks, sync), many at a time.
 */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
}
