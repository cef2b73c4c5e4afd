import type { CSSProperties, MouseEvent, ReactNode } from 'react'
import { useNavigate } from '../navigation'
import { formatViewState, type ViewState } from '../url-state'

interface AppLinkProps {
  to: ViewState
  children: ReactNode
  className?: string
  title?: string
  'data-testid'?: string
  'aria-label'?: string
  'aria-current'?: 'page' | undefined
  style?: CSSProperties
}

/**
 * A link to another view: a real `href` (open in a new tab, copy the address), followed in
 * the page without a reload on a plain click.
 */
export function AppLink({ to, children, ...rest }: AppLinkProps) {
  const navigate = useNavigate()
  function onClick(event: MouseEvent<HTMLAnchorElement>) {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) {
      return
    }
    event.preventDefault()
    navigate(to)
  }
  return (
    <a href={formatViewState(to)} onClick={onClick} {...rest}>
      {children}
    </a>
  )
}
