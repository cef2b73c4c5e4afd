import { useState, type FormEvent } from 'react'
import { isTenantId } from '../session-access'

interface TenantPickerProps {
  /** The tenants the token is bound to, or null when any tenant id may be typed. */
  tenants: readonly string[] | null
  /** The tenant shown now, if any: preselected. */
  current: string | null
  onPick(tenant: string): void
  /** Back to the current tenant; absent when there is none yet. */
  onCancel?: () => void
}

/** Choose the tenant every request names: from the token's list, or typed. */
export function TenantPicker({ tenants, current, onPick, onCancel }: TenantPickerProps) {
  const [draft, setDraft] = useState(
    current ?? (tenants !== null && tenants.length > 0 ? tenants[0]! : ''),
  )
  const tenant = draft.trim()
  const valid = tenants === null ? isTenantId(tenant) : tenants.includes(tenant)

  function submit(event: FormEvent) {
    event.preventDefault()
    if (valid) onPick(tenant)
  }

  return (
    <section className="notice tenant-picker" data-testid="tenant-picker">
      <h2>Choose a tenant</h2>
      <p>
        {tenants === null
          ? 'This Kiln server keeps each tenant’s profiles apart. Type the tenant id to read.'
          : 'Your token may read several tenants. Choose the one to show.'}
      </p>
      {tenants !== null && tenants.length === 0 ? (
        <p className="error-message" role="alert">
          This token is bound to no tenant: it cannot read any profiles. Sign out and use another.
        </p>
      ) : (
        <form className="sign-in-form" onSubmit={submit}>
          <label className="control">
            Tenant
            {tenants === null ? (
              <input
                type="text"
                spellCheck={false}
                value={draft}
                onChange={(event) => setDraft(event.target.value)}
                aria-invalid={tenant !== '' && !valid}
                data-testid="tenant-input"
              />
            ) : (
              <select
                value={draft}
                onChange={(event) => setDraft(event.target.value)}
                data-testid="tenant-select"
              >
                {tenants.map((name) => (
                  <option key={name} value={name}>
                    {name}
                  </option>
                ))}
              </select>
            )}
          </label>
          <button type="submit" disabled={!valid} data-testid="tenant-submit">
            Show tenant
          </button>
          {onCancel ? (
            <button type="button" onClick={onCancel} data-testid="tenant-cancel">
              Cancel
            </button>
          ) : null}
        </form>
      )}
      {tenants === null && tenant !== '' && !valid ? (
        <p className="muted" data-testid="tenant-invalid">
          A tenant id is 1 to 128 letters, digits, dots, dashes or underscores.
        </p>
      ) : null}
    </section>
  )
}
