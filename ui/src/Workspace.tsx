import type { ServicesResponse } from '@kiln/wire'
import { useCallback, useEffect, type ReactNode } from 'react'
import { fetchServices } from './api'
import { isFixedDiff } from './compare-presets'
import { AppLink } from './components/AppLink'
import { EmptyState } from './components/EmptyState'
import { ErrorState } from './components/ErrorState'
import { LoadingState } from './components/LoadingState'
import { OpenLink } from './components/OpenLink'
import { StaleNotice, keepsLastAnswer } from './components/StaleNotice'
import { UnknownServiceState } from './components/UnknownServiceState'
import { useAutoRefresh } from './hooks/use-auto-refresh'
import { useResource, type ResourceRequest } from './hooks/use-resource'
import { useViewState, type HistoryMode } from './hooks/use-view-state'
import { NavigateContext } from './navigation'
import { resolveSelection } from './selection'
import { defaultDiffState, defaultExploreState, type ViewName, type ViewState } from './url-state'
import { AlertsView } from './views/AlertsView'
import { DiffView } from './views/DiffView'
import { ExploreView } from './views/ExploreView'
import { TraceView } from './views/TraceView'

const AUTO_REFRESH_INTERVAL_MS = 10_000

const SERVICES_REQUEST: ResourceRequest<ServicesResponse> = {
  key: 'services',
  load: fetchServices,
}

/** Whether the view shows windows that move with time (and so refreshes itself). */
function movesWithTime(view: ViewState): boolean {
  if (view.view === 'explore') return view.window === null
  if (view.view === 'diff') return !isFixedDiff(view)
  // A trace happened once: its window is the link's, or the hour before the page opened.
  if (view.view === 'trace') return false
  return true
}

/** The views the header links to; a trace is opened from a link or a list, not the header. */
type NavView = Exclude<ViewName, 'trace'>

const NAV: readonly { view: NavView; label: string }[] = [
  { view: 'explore', label: 'Explore' },
  { view: 'diff', label: 'Compare' },
  { view: 'alerts', label: 'Alerts & findings' },
]

interface WorkspaceProps {
  /** The header's account corner (tenant, sign out), when there is a session to show. */
  sessionControls?: ReactNode
}

/** The signed-in app; an alert's link left to the UI to resolve (`?view=open&...`) first. */
export function Workspace(props: WorkspaceProps) {
  const params = new URLSearchParams(window.location.search)
  if (params.get('view') === 'open') return <OpenLink params={params} />
  return <ViewWorkspace {...props} />
}

/** Header and navigation, services, and which view to show. */
function ViewWorkspace({ sessionControls }: WorkspaceProps) {
  const [view, setView] = useViewState()
  const navigate = useCallback(
    (next: ViewState, mode: HistoryMode = 'push') => {
      setView(next, mode)
      if (mode === 'push') window.scrollTo({ top: 0 })
    },
    [setView],
  )
  const { refreshToken, refresh } = useAutoRefresh(AUTO_REFRESH_INTERVAL_MS, movesWithTime(view))
  const services = useResource(SERVICES_REQUEST, refreshToken)
  const selection = services.data ? resolveSelection(services.data.services, view) : null
  const service = selection?.service.name ?? null
  const type = selection?.type ?? null

  // Write the service and type actually shown back to the URL, so the link reopens them.
  useEffect(() => {
    if (view.view === 'alerts') return
    if (service !== null && (service !== view.service || type !== view.type)) {
      setView({ ...view, service, type }, 'replace')
    }
  }, [service, type, view, setView])

  function content() {
    if (view.view === 'alerts') {
      return <AlertsView state={view} refreshToken={refreshToken} onRetry={refresh} />
    }
    if (
      services.error !== undefined &&
      (services.data === undefined || !keepsLastAnswer(services.error))
    ) {
      return <ErrorState what="services" error={services.error} onRetry={refresh} />
    }
    if (services.data === undefined) return <LoadingState what="services" />
    if (selection === null && view.service !== null && services.data.services.length > 0) {
      return (
        <UnknownServiceState name={view.service} services={services.data.services} view={view} />
      )
    }
    if (selection === null) return <EmptyState refreshIntervalMs={AUTO_REFRESH_INTERVAL_MS} />
    const common = {
      services: services.data.services,
      service: selection.service,
      type,
      refreshToken,
      onRetry: refresh,
    }
    if (view.view === 'diff') {
      return <DiffView {...common} state={{ ...view, service, type }} setState={setView} />
    }
    if (view.view === 'trace') {
      return <TraceView {...common} state={{ ...view, service, type }} setState={setView} />
    }
    return <ExploreView {...common} state={{ ...view, service, type }} setState={setView} />
  }

  const common = { service, type }
  const targets: Record<NavView, ViewState> = {
    explore: view.view === 'explore' ? view : defaultExploreState(common),
    diff: view.view === 'diff' ? view : defaultDiffState(common),
    alerts: { view: 'alerts', service: null, type: null, search: '' },
  }
  return (
    <NavigateContext value={navigate}>
      <div className="app">
        <header className="app-header">
          <h1>Kiln</h1>
          <nav className="app-nav" aria-label="Views">
            {NAV.map((item) => (
              <AppLink
                key={item.view}
                to={targets[item.view]}
                className="nav-link"
                data-testid={`nav-${item.view}`}
                aria-current={view.view === item.view ? 'page' : undefined}
              >
                {item.label}
              </AppLink>
            ))}
          </nav>
          <div className="refresh">
            <span className="refresh-note">
              {services.loading
                ? 'Refreshing…'
                : movesWithTime(view)
                  ? `Auto-refresh every ${AUTO_REFRESH_INTERVAL_MS / 1000} s`
                  : 'Fixed window'}
            </span>
            <button type="button" onClick={refresh}>
              Refresh
            </button>
          </div>
          {sessionControls}
        </header>
        <main className="app-main">
          {services.error !== undefined &&
          services.data !== undefined &&
          keepsLastAnswer(services.error) ? (
            <StaleNotice what="the services" error={services.error} onRetry={refresh} />
          ) : null}
          {content()}
        </main>
      </div>
    </NavigateContext>
  )
}
