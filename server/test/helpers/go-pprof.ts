import { execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

/* `go tool pprof` as a reference reader of pprof files: what it refuses, and what it reads. */

export type PprofReading =
  | { ok: false; error: string }
  | {
      ok: true
      /** `type/unit` per sample type; `undefined` when a name makes pprof's listing ambiguous. */
      types: string[] | undefined
      /** Per sample type, the sum of every sample's value. */
      totals: bigint[]
    }

/**
 * How to run pprof: the binary `go tool pprof` starts (`$GOTOOLDIR/pprof`), which saves the `go`
 * command's own start, 60 ms a case; else `go tool pprof`. Without `go`, the test fails: CI
 * installs it (`scripts/setup-machine.sh`).
 */
export function pprofCommand(): string[] {
  let toolDir: string
  try {
    toolDir = execFileSync('go', ['env', 'GOTOOLDIR'], { encoding: 'utf8' }).trim()
  } catch (error) {
    throw new Error(
      '`go env GOTOOLDIR` failed: this test reads profiles with `go tool pprof`; install golang-go (scripts/setup-machine.sh)',
      { cause: error },
    )
  }
  const binary = join(toolDir, 'pprof')
  return existsSync(binary) ? [binary] : ['go', 'tool', 'pprof']
}

/**
 * pprof's reading of each file: its sample types and, per type, the exact sum of its samples.
 * `-raw` prints every sample with its integer values, but only samples with a location (the
 * totals of `-top` count the others, rounded for display): `-tagroot` gives every sample a
 * pseudo location of a label nobody sets, so none is left out. Samples whose values are all
 * zero are merged away, which changes no sum.
 *
 * One `xargs` runs them all, `parallelism` at a time: each process spawned from this one,
 * which maps chDB's gigabytes, would cost a fork that stalls the server's event loop.
 */
export async function pprofReadAll(
  command: string[],
  files: string[],
  parallelism: number,
): Promise<PprofReading[]> {
  const script =
    'f=$1; shift; "$@" -raw -symbolize=none -tagroot=kiln_fuzz_root "$f" >"$f.out" 2>"$f.err"; echo $? >"$f.rc"'
  const xargs = spawn(
    'xargs',
    ['-0', `-P${parallelism}`, '-I{}', 'sh', '-c', script, 'sh', '{}', ...command],
    { stdio: ['pipe', 'ignore', 'inherit'] },
  )
  xargs.stdin.end(files.join('\0'))
  const [status] = (await once(xargs, 'exit')) as [number | null]
  if (status !== 0) throw new Error(`xargs running pprof exited with ${status}`)
  return files.map((file) => {
    const status = readFileSync(`${file}.rc`, 'utf8').trim()
    if (status === '0') return parseRaw(readFileSync(`${file}.out`, 'utf8'))
    // Refused (exit status 2, or 1 through `go tool`); anything else, such as a crash, fails.
    const stderr = readFileSync(`${file}.err`, 'utf8').trim()
    if (!stderr.includes('failed to fetch any source profiles')) {
      throw new Error(`pprof on ${file} exited with ${status}: ${stderr}`)
    }
    return { ok: false, error: stderr }
  })
}

/** A sample line of `-raw`: its values, then the ids of its locations (`  100  7: 1 2 `). */
const SAMPLE_LINE = /^((?: +-?\d+)+): (?:\d+ )+$/

function parseRaw(text: string): PprofReading {
  const start = text.indexOf('\nSamples:\n')
  const end = text.indexOf('\nLocations\n', start)
  if (start < 0 || end < 0) throw new Error(`unexpected pprof -raw output:\n${text}`)
  const [header = '', ...lines] = text.slice(start + '\nSamples:\n'.length, end).split('\n')
  const samples = lines
    .map((line) => SAMPLE_LINE.exec(line))
    .filter((m) => m !== null)
    .map((m) => m[1]!.trim().split(/ +/).map(BigInt))
  // Each type is printed as `type/unit` (`[dflt]` appended to the default one), joined by
  // spaces: a name with a space or a newline in it makes the list unreadable.
  const names = header.split(' ').map((t) => t.replace(/\[dflt\]$/, ''))
  const count = samples[0]?.length ?? names.length
  const totals = Array.from({ length: count }, (_, i) =>
    samples.reduce((sum, values) => sum + values[i]!, 0n),
  )
  const readable = header !== '' && names.length === count && names.every((n) => n.includes('/'))
  return { ok: true, types: readable ? names : count === 0 ? [] : undefined, totals }
}
