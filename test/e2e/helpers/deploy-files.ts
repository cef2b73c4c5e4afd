import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The repository root: deploy files name paths relative to it (or to `deploy/`). */
export const REPO = fileURLToPath(new URL('../../../', import.meta.url))

export const readRepoFile = (path: string): string => readFileSync(join(REPO, path), 'utf8')
export const repoHas = (path: string): boolean => existsSync(join(REPO, path))

export interface Instruction {
  /** Upper-cased: RUN, COPY, ENV, ... */
  op: string
  /** `--name=value` flags before the arguments (COPY --from, HEALTHCHECK --interval). */
  flags: Record<string, string>
  /** The rest of the line, continuation lines joined. */
  args: string
}

export interface Stage {
  name: string
  from: string
  instructions: Instruction[]
}

/**
 * The stages of a Dockerfile, enough of the grammar for the files of `deploy/`: comments,
 * `\` continuations, `FROM image AS name`, leading `--flag=value` options.
 */
export function parseDockerfile(text: string): { args: Instruction[]; stages: Stage[] } {
  const lines = text
    .split('\n')
    .filter((l) => !/^\s*#/.test(l))
    .join('\n')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
  const globalArgs: Instruction[] = []
  const stages: Stage[] = []
  for (const line of lines) {
    const [, op = '', rest = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? []
    const flags: Record<string, string> = {}
    let args = rest
    for (let m = /^--([\w-]+)=(\S+)\s*/.exec(args); m; m = /^--([\w-]+)=(\S+)\s*/.exec(args)) {
      flags[m[1]!] = m[2]!
      args = args.slice(m[0].length)
    }
    const instruction = { op: op.toUpperCase(), flags, args: args.replace(/\s+/g, ' ') }
    if (instruction.op === 'FROM') {
      const [, from = '', name = ''] = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(instruction.args) ?? []
      stages.push({ name, from, instructions: [] })
    } else if (stages.length === 0) {
      globalArgs.push(instruction)
    } else {
      stages[stages.length - 1]!.instructions.push(instruction)
    }
  }
  return { args: globalArgs, stages }
}

/** Shell commands of a stage's RUN lines, split at `&&`. */
export const runCommands = (stage: Stage): string[] =>
  stage.instructions
    .filter((i) => i.op === 'RUN')
    .flatMap((i) => i.args.split('&&'))
    .map((c) => c.trim())

/** `ENV a=b c=d` pairs of a stage. */
export function stageEnv(stage: Stage): Record<string, string> {
  const env: Record<string, string> = {}
  for (const i of stage.instructions.filter((i) => i.op === 'ENV')) {
    for (const [, k, v] of i.args.matchAll(/(\w+)=(\S+)/g)) env[k!] = v!
  }
  return env
}

/** The exec-form (JSON array) arguments of CMD, HEALTHCHECK CMD, VOLUME. */
export function execForm(args: string): string[] {
  return JSON.parse(args.replace(/^CMD\s+/, '')) as string[]
}

/** Compose's `${VAR:-default}` / `${VAR}` interpolation, with an empty environment. */
export function interpolate(value: string): string {
  return value.replace(/\$\{(\w+)(?::?-([^}]*))?\}/g, (_, _name: string, fallback?: string) =>
    fallback === undefined ? '' : fallback,
  )
}
