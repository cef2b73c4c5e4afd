// The baselines: what answering a window costs without Kiln's store, by merging the window's raw
// pprof files, (a) with `go tool pprof -proto` and (b) by decoding and merging them in Node with
// pprof-format (the way a server that kept pprof blobs would answer a query).
import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { gunzipSync } from 'node:zlib'
import { Profile } from 'pprof-format'

/**
 * Decode every file and add up its samples per stack (frames by function, file and line), as a
 * flame graph needs them. Returns the number of distinct stacks and the total.
 */
export async function mergeInNode(paths) {
  const merged = new Map()
  let total = 0
  for (const path of paths) {
    const profile = Profile.decode(gunzipSync(await readFile(path)))
    const strings = profile.stringTable.strings
    const functions = new Map(profile.function.map((f) => [String(f.id), f]))
    const frames = new Map()
    for (const location of profile.location) {
      const line = location.line[0]
      const fn = functions.get(String(line.functionId))
      frames.set(
        String(location.id),
        `${strings[Number(fn.name)]}\u0000${strings[Number(fn.filename)]}\u0000${line.line}`,
      )
    }
    for (const sample of profile.sample) {
      const key = sample.locationId.map((id) => frames.get(String(id))).join('\u0001')
      const value = Number(sample.value[0])
      merged.set(key, (merged.get(key) ?? 0) + value)
      total += value
    }
  }
  return { stacks: merged.size, total }
}

/**
 * `go tool pprof -proto file...`: pprof's own merge of the files into one profile, written to
 * stdout (discarded here). Resolves with the wall time in ms.
 */
export function mergeWithGo(paths) {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    const child = spawn('go', ['tool', 'pprof', '-proto', ...paths], {
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let stderr = ''
    child.stderr.on('data', (chunk) => (stderr = (stderr + chunk.toString()).slice(-2000)))
    child.on('error', reject)
    child.on('exit', (code) => {
      if (code === 0) resolve(performance.now() - started)
      else reject(new Error(`go tool pprof exited with ${code}: ${stderr}`))
    })
  })
}
