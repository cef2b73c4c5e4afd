/** Shown until the first answer for the current view arrives. */
export function LoadingState({ what }: { what: string }) {
  return (
    <p className="loading" role="status" data-testid="loading-state">
      Loading {what}…
    </p>
  )
}
