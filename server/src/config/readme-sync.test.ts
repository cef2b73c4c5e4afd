import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { configEnvVars } from './resolve-config.js'

describe('README configuration table', () => {
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8')
  it.each(Object.values(configEnvVars()))('documents %s', (name) => {
    // Prettier pads table cells, so match the cell, not its spacing.
    expect(readme).toMatch(new RegExp(`\\|\\s*\`${name}\`\\s*\\|`))
  })
})
