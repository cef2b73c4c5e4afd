const AGENT_COMMAND = `KILN_SERVER_URL=http://localhost:4040 KILN_SERVICE=my-service \\
  node --import @kiln/agent/register app.js`

/** No service has sent a profile yet: say how to start one. */
export function EmptyState({ refreshIntervalMs }: { refreshIntervalMs: number }) {
  return (
    <section className="notice" data-testid="empty-state">
      <h2>No profiles yet</h2>
      <p>
        Kiln has not received a profile from any service. Add <code>@kiln/agent</code> to your
        Node.js app and start the app with the agent loaded:
      </p>
      <pre>
        <code>{AGENT_COMMAND}</code>
      </pre>
      <p>
        <code>KILN_SERVER_URL</code> is where this Kiln server listens, <code>KILN_SERVICE</code>{' '}
        the name the service appears under here. This page checks for new services every{' '}
        {refreshIntervalMs / 1000} seconds.
      </p>
    </section>
  )
}
