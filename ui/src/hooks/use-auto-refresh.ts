import { useCallback, useEffect, useState } from 'react'

/**
 * A token that changes every `intervalMs` while the page is visible and `enabled` (a view of
 * fixed windows has nothing new to load), when the page becomes visible again, and on
 * `refresh()`. Effects that depend on it reload.
 */
export function useAutoRefresh(
  intervalMs: number,
  enabled = true,
): { refreshToken: number; refresh: () => void } {
  const [refreshToken, setRefreshToken] = useState(0)
  const refresh = useCallback(() => setRefreshToken((token) => token + 1), [])

  useEffect(() => {
    if (!enabled) return undefined
    const timer = window.setInterval(() => {
      if (document.visibilityState === 'visible') refresh()
    }, intervalMs)
    const onVisibilityChange = () => {
      if (document.visibilityState === 'visible') refresh()
    }
    document.addEventListener('visibilitychange', onVisibilityChange)
    return () => {
      window.clearInterval(timer)
      document.removeEventListener('visibilitychange', onVisibilityChange)
    }
  }, [intervalMs, refresh, enabled])

  return { refreshToken, refresh }
}
