import { readdirSync, readFileSync } from 'node:fs'

/** The thread V8's CPU profiler samples and builds its profile on (its Linux thread name). */
export const PROFILER_THREAD = 'v8:ProfEvntProc'

/**
 * CPU time of this process's threads of one name, read from `/proc` (Linux; elsewhere it
 * reads 0). Threads come and go (the profiler thread is replaced when the profiler restarts),
 * so the meter keeps what each thread had used when last seen and returns a running total.
 */
export class ThreadCpuMeter {
  readonly #name: string
  readonly #seen = new Map<string, number>()
  #total = 0
  #available = process.platform === 'linux'

  constructor(name: string) {
    this.#name = name
  }

  /** Microseconds of CPU the named threads used since the meter was created (or first saw them). */
  read(): number {
    if (!this.#available) return 0
    try {
      const alive = new Map<string, number>()
      for (const tid of readdirSync('/proc/self/task')) {
        const micros = threadCpuMicros(tid, this.#name)
        if (micros !== undefined) alive.set(tid, micros)
      }
      for (const [tid, micros] of alive) {
        this.#total += Math.max(0, micros - (this.#seen.get(tid) ?? 0))
      }
      this.#seen.clear()
      for (const [tid, micros] of alive) this.#seen.set(tid, micros)
    } catch {
      this.#available = false
    }
    return this.#total
  }
}

/** The thread's CPU time in µs when it has this name: schedstat (ns), else stat (ticks). */
function threadCpuMicros(tid: string, name: string): number | undefined {
  try {
    if (readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim() !== name) return undefined
    try {
      const [runNs] = readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')
      return Number(runNs) / 1000
    } catch {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      return (Number(fields[11]) + Number(fields[12])) * 10_000 // USER_HZ = 100
    }
  } catch {
    return undefined // the thread ended between listing and reading
  }
}
