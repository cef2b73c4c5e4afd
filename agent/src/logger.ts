/** The agent's logger. Inject your own through `start({ logger })`; the default is terse. */
export interface AgentLogger {
  debug(message: string, fields?: Record<string, unknown>): void
  warn(message: string, fields?: Record<string, unknown>): void
  error(message: string, fields?: Record<string, unknown>): void
}

/** Warnings and errors to stderr with a `[kiln]` prefix; debug only when `debug` is set. */
export function stderrLogger(debug = false): AgentLogger {
  const write = (level: string, message: string, fields?: Record<string, unknown>): void => {
    const extra = fields && Object.keys(fields).length > 0 ? ` ${JSON.stringify(fields)}` : ''
    process.stderr.write(`[kiln] ${level}: ${message}${extra}\n`)
  }
  return {
    debug: (m, f) => {
      if (debug) write('debug', m, f)
    },
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
  }
}

export const silentLogger: AgentLogger = { debug() {}, warn() {}, error() {} }
