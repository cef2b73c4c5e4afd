import { LEFT_OUT_HINT } from '../left-out'

/** Above a function table the server could not rank over every stack: by how much it is partial. */
export function LeftOutNote({ note, testId }: { note: string | null; testId: string }) {
  if (note === null) return null
  return (
    <p className="table-note left-out-note" role="note" data-testid={testId} title={LEFT_OUT_HINT}>
      {note}
    </p>
  )
}
