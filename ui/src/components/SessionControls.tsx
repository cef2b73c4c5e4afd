interface SessionControlsProps {
  /** The tenant every request names; null when the server is not multi-tenant. */
  tenant: string | null
  onSwitchTenant: (() => void) | null
  /** Null when the tab holds no token. */
  onSignOut: (() => void) | null
}

/** The header's account corner: the tenant shown, switching it, signing out. */
export function SessionControls({ tenant, onSwitchTenant, onSignOut }: SessionControlsProps) {
  if (tenant === null && onSwitchTenant === null && onSignOut === null) return null
  return (
    <div className="session-controls" data-testid="session-controls">
      {tenant !== null ? (
        <span className="session-tenant">
          Tenant <strong data-testid="session-tenant">{tenant}</strong>
        </span>
      ) : null}
      {onSwitchTenant ? (
        <button type="button" onClick={onSwitchTenant} data-testid="switch-tenant">
          Switch tenant
        </button>
      ) : null}
      {onSignOut ? (
        <button type="button" onClick={onSignOut} data-testid="sign-out">
          Sign out
        </button>
      ) : null}
    </div>
  )
}
