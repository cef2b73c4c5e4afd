// Pool the rounds of several agent-overhead runs into one summary. Each round keeps its own
// pairing (variant / none of that round), so runs made at different times combine soundly as
// long as they measured the same thing; runs whose paced rates differ are pooled per phase
// only where it makes sense, so pass --mode saturated to pool runs with different rates.
//
//   node bench/agent-overhead/pool.mjs [--mode saturated|paced|both] bench/results/agent-overhead-*.json
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { printSummary, summarize } from './stats.mjs'

const { values: flags, positionals: files } = parseArgs({
  options: { mode: { type: 'string', default: 'saturated' } },
  allowPositionals: true,
})
const phaseNames = flags.mode === 'both' ? ['saturated', 'paced'] : [flags.mode]

const slices = []
const variants = new Set()
const rates = new Set()
let noisyPercent = 5
let connections
for (const file of files) {
  const report = JSON.parse(readFileSync(file, 'utf8'))
  // Fresh processes every round only: --reuse runs (and the long-lived runs of earlier
  // versions, which wrote no `stderrs`) keep one process per variant, whose own bias would
  // then count once per round.
  if (!report.slices || !report.stderrs || report.config.reuse) {
    console.error(`skipped ${file}: not a fresh-process run of this version`)
    continue
  }
  const usable = report.slices.filter((s) => phaseNames.every((p) => s.phases[p]))
  for (const slice of usable) {
    slices.push({ ...slice, round: `${file}#${slice.round}` })
    variants.add(slice.variant)
  }
  if (phaseNames.includes('paced')) rates.add(report.config.rate)
  noisyPercent = report.config.noisyPercent
  connections = report.config.connections
  console.log(`${file}: ${new Set(usable.map((s) => s.round)).size} round(s)`)
}
if (!variants.has('none')) {
  console.error('no rounds with a none variant to compare against')
  process.exit(1)
}
const config = {
  variants: [...variants].sort((a, b) => (a === 'none' ? -1 : b === 'none' ? 1 : 0)),
  noisyPercent,
  connections,
  rate: [...rates].join('/'),
}
printSummary(summarize(slices, config, phaseNames), config, phaseNames)
