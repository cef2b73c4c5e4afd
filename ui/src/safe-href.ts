/**
 * A URL the page may link to: only http(s), parsed and re-serialized. Alert links come from
 * whoever holds an ingest token and tracing links from the server's configuration; neither may
 * run script (`javascript:`) or open another scheme.
 */
export function safeHref(url: string | undefined): string | null {
  if (!url) return null
  try {
    const parsed = new URL(url)
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.href : null
  } catch {
    return null
  }
}
