import { useEffect, useEffectEvent, useState } from 'react'
import { ApiError, UI_ERRORS } from '../api-error'

/** One API request: `key` names what it asks for, so a new key drops the old answer. */
export interface ResourceRequest<T> {
  key: string
  load(signal: AbortSignal): Promise<T>
  /**
   * Requests of one group (e.g. one service and type, other windows) may stand in for each other:
   * the last answer of the group stays in `data` until the new key's arrives, so a chart that is
   * being brushed keeps its place instead of flashing a loading state.
   */
  group?: string
}

export interface Resource<T> {
  /** The last answer for the current key, kept while a refresh is in flight. */
  data: T | undefined
  error: ApiError | undefined
  /** A request for the current key and refresh token has not settled yet. */
  loading: boolean
}

interface Settled<T> {
  key: string
  group: string | undefined
  refreshToken: number
  data: T | undefined
  error: ApiError | undefined
}

function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error
  const message = error instanceof Error ? error.message : String(error)
  return new ApiError(
    { statusCode: 0, code: UI_ERRORS.KILN_ERR_UI_BAD_RESPONSE.code, message },
    { cause: error },
  )
}

/**
 * Load `request` now, again whenever `refreshToken` changes, and afresh when its key changes.
 * Stale answers (an older key, an aborted request) are dropped, but see `ResourceRequest.group`.
 */
export function useResource<T>(
  request: ResourceRequest<T> | null,
  refreshToken: number,
): Resource<T> {
  const [settled, setSettled] = useState<Settled<T> | null>(null)
  const key = request?.key ?? null
  const group = request?.group
  const load = useEffectEvent((signal: AbortSignal) => request?.load(signal))

  useEffect(() => {
    if (key === null) return undefined
    const controller = new AbortController()
    const pending = load(controller.signal)
    if (pending === undefined) return undefined
    pending.then(
      (data) => {
        if (!controller.signal.aborted) {
          setSettled({ key, group, refreshToken, data, error: undefined })
        }
      },
      (error: unknown) => {
        if (controller.signal.aborted) return
        setSettled((previous) => ({
          key,
          group,
          refreshToken,
          data: previous?.key === key ? previous.data : undefined,
          error: toApiError(error),
        }))
      },
    )
    return () => controller.abort()
    // `group` goes with `key`: a new group always comes with a new key.
  }, [key, refreshToken])

  const current = settled !== null && settled.key === key ? settled : null
  if (current === null && group !== undefined && settled?.group === group && settled.data) {
    return { data: settled.data, error: undefined, loading: true }
  }
  return {
    data: current?.data,
    error: current?.error,
    loading: key !== null && current?.refreshToken !== refreshToken,
  }
}
