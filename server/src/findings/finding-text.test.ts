import { describe, expect, it } from 'vitest'
import type { Finding } from '@kiln/wire'
import { findingText } from './finding-text.js'

const finding: Finding = {
  id: 'f1',
  kind: 'cpu_regression',
  service: 'shop',
  type: 'cpu',
  title: 'shop: <anonymous> grew from 10.0% to 20.0% of CPU in version 2.0.0',
  time: 0,
  detectedAt: 0,
  window: { from: 0, to: 1 },
  baseline: { from: 0, to: 1 },
  version: '2.0.0',
  previousVersion: '1.0.0',
  functions: [
    { name: '<anonymous>', file: 'a&b.js', base: 1, comp: 2, baseShare: 0.1, compShare: 0.2 },
  ],
  stats: {},
  links: {
    diff: 'http://kiln.test/?view=diff&service=shop',
    flamegraph: 'http://kiln.test/?service=shop&type=cpu',
    diffApi: 'http://kiln.test/api/v1/diff?service=shop',
    flamegraphApi: 'http://kiln.test/api/v1/flamegraph?service=shop',
  },
  delivery: 'pending',
}

describe('findingText', () => {
  it("writes Slack mrkdwn: links as <url|label>, Slack's control characters escaped", () => {
    expect(findingText(finding).split('\n')).toEqual([
      'Kiln finding: shop: &lt;anonymous&gt; grew from 10.0% to 20.0% of CPU in version 2.0.0',
      '• &lt;anonymous&gt; (a&amp;b.js): 10.0% → 20.0% of CPU',
      'Changed in version 2.0.0 (previous: 1.0.0)',
      `<${finding.links.diff}|Diff> · <${finding.links.flamegraph}|Flame graph>`,
    ])
  })
})
