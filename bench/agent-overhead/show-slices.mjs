// Print every slice of a result file, one line each: what each phase measured.
//   node bench/agent-overhead/show-slices.mjs bench/results/agent-overhead-paired-*.json
import { readFileSync } from 'node:fs'

for (const file of process.argv.slice(2)) {
  const report = JSON.parse(readFileSync(file, 'utf8'))
  console.log(file)
  for (const s of report.slices) {
    const phases = Object.values(s.phases).map((p) =>
      [
        `${p.phase} ${p.rps.toFixed(0)} req/s`,
        `CPU/req ${p.cpuMsPerRequest.toFixed(3)}`,
        `p99 ${p.latencyMs.p99.toFixed(1)}`,
        `others ${p.foreignCpuPercent.toFixed(1)}%`,
      ].join(' '),
    )
    console.log(`${s.round + 1} ${s.agent ?? ''} ${s.variant.padEnd(13)} ${phases.join(' | ')}`)
  }
}
