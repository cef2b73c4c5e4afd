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

describe('README test command', () => {
  it('is the command .ci/run runs', () => {
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8')
    const ci = readFileSync(new URL('../../../.ci/run', import.meta.url), 'utf8')
    const command = ci.split('\n').find((line) => line.startsWith('./scripts/setup-machine.sh'))
    expect(command).toBeDefined()
    const lines = readme.split('\n')
    expect(lines[lines.indexOf('# Run every test') + 1]).toBe(command)
  })
})
