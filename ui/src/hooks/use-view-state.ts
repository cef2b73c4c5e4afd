import { useCallback, useEffect, useState } from 'react'
import { formatViewState, parseViewState, type ViewState } from '../url-state'

/**
 * `push` for a choice the reader made (Back undoes it), `replace` for one the page made
 * (filling in defaults).
 */
export type HistoryMode = 'push' | 'replace'

/** The view state, read from and written to the URL's query string. */
export function useViewState(): [ViewState, (next: ViewState, mode: HistoryMode) => void] {
  const [view, setView] = useState(() => parseViewState(window.location.search))

  useEffect(() => {
    const onPopState = () => setView(parseViewState(window.location.search))
    window.addEventListener('popstate', onPopState)
    return () => window.removeEventListener('popstate', onPopState)
  }, [])

  const update = useCallback((next: ViewState, mode: HistoryMode) => {
    const search = formatViewState(next)
    if (search !== window.location.search) {
      const url = `${window.location.pathname}${search}${window.location.hash}`
      if (mode === 'push') window.history.pushState(null, '', url)
      else window.history.replaceState(null, '', url)
    }
    setView(next)
  }, [])

  return [view, update]
}
