import { useCallback, useEffect, useState } from 'react'

/**
 * A token that changes every `intervalMs` while the page is visible, when it becomes visible
 * again, and on `refresh()`. Effects that depend on it reload.
 */
export function useAutoRefresh(intervalMs: number): { refreshToken: number; refresh: () => void } {
  const [refreshToken, setRefreshToken] = useState(0)
  const refresh = useCallback(() => setRefreshToken((token) => token + 1), [])

  useEffect(() => {
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
  }, [intervalMs, refresh])

  return { refreshToken, refresh }
}
