import { createContext, useContext } from 'react'
import type { HistoryMode } from './hooks/use-view-state'
import type { ViewState } from './url-state'

/** Moves the page to another view state (and URL); `push` unless said otherwise. */
export type Navigate = (next: ViewState, mode?: HistoryMode) => void

export const NavigateContext = createContext<Navigate>(() => {
  throw new Error('NavigateContext is not provided')
})

export function useNavigate(): Navigate {
  return useContext(NavigateContext)
}
