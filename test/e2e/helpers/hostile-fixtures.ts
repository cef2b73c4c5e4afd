import type { GenericAlert } from '@kiln/wire'
import { MS, UPLOAD_MS, UPLOADS_PER_VERSION } from './ui-fixtures.js'
import type { SyntheticUpload } from './synthetic-ingest.js'

/*
 * Profiles and alerts whose names carry markup and script. Every payload, if it ever runs,
 * appends its own id to `top.__xss` (`top`: a payload that got into a `srcdoc` frame reports to
 * the page), so a test reads which one ran and where it came from. The payloads hold no `,`
 * (the ingest `name` parameter splits labels at commas) and no `@` (the pprof builder splits
 * `name@file` there).
 */

/** The page global a payload sets when it runs. */
export const XSS_GLOBAL = '__xss'

/** Script that records `id` in `top.__xss`. */
export const mark = (id: string): string =>
  `top.${XSS_GLOBAL}=(top.${XSS_GLOBAL}||[]).concat('${id}')`

/** Each kind of payload, as a function of the id it records. */
export const PAYLOADS = {
  img: (id: string) => `<img src=x onerror="${mark(id)}">`,
  script: (id: string) => `<script>${mark(id)}</script>`,
  svg: (id: string) => `<svg onload="${mark(id)}"><svg/onload=${mark(id)}>`,
  iframe: (id: string) => `"><iframe srcdoc="<script>${mark(id)}</script>"></iframe>`,
  jsUrl: (id: string) => `javascript:${mark(id)}`,
  anchor: (id: string) => `<a href="javascript:${mark(id)}">open</a>`,
  foreignObject: (id: string) =>
    `</div></foreignObject><script>${mark(id)}</script><foreignObject><div>`,
  template: (id: string) => `{{constructor.constructor("${mark(id)}")()}}`,
  cdata: (id: string) => `]]><script>${mark(id)}</script><![CDATA[`,
  comment: (id: string) => `<!-- --><script>${mark(id)}</script><!--`,
  // Already-escaped text must stay escaped text: shown as `&amp;`, never decoded into a tag.
  entities: (id: string) => `&amp;&lt;img src=x onerror=${mark(id)}&gt;&#60;b&#62;&quot;`,
  // Right-to-left override and isolates: shown as they are, never dropped or reordered away.
  bidi: (id: string) => `\u202Egnp.${id}\u202C\u2067<b>${id}</b>\u2069\u200F`,
  // Not allowed in XML 1.0 at all: an SVG export that copies them as they are does not parse.
  control: (id: string) => `\u001b[31m${id}\u001b[0m\u0007\u0008\u000b\u007f`,
} as const

export type PayloadKind = keyof typeof PAYLOADS

/**
 * The kinds that run when parsed as HTML in a page without a policy (`<script>`, an event
 * handler, a `srcdoc` frame); the others need a click, a template engine or an XML reader.
 */
export const RUN_AS_HTML: readonly PayloadKind[] = [
  'img',
  'script',
  'svg',
  'iframe',
  'foreignObject',
  'cdata',
  'comment',
]

/** A name of about `length` characters that ends with an `<img onerror>` payload. */
export function longPayload(id: string, length: number): string {
  const tail = PAYLOADS.img(id)
  return 'veryLongFunctionName'.repeat(Math.ceil(length / 20)).slice(0, length - tail.length) + tail
}

/** Longest label value the server takes by default (`KILN_MAX_LABEL_VALUE_LENGTH`). */
const MAX_LABEL_VALUE_LENGTH = 1024

/*
 * The service: its name follows the server's grammar (`[A-Za-z0-9][A-Za-z0-9._\-/:]*`), so the
 * most hostile it can be is a `javascript:` scheme and path traversal.
 */
export const HOSTILE_SERVICE = 'javascript:checkout/../../api/v1/services'

/** A leaf function of the CPU profiles: its name and file (`name@file` in a stack). */
export interface HostileFunction {
  kind: PayloadKind | 'long'
  name: string
  file: string
}

/** One leaf per payload kind, the payload in both its function name and its file name. */
export const HOSTILE_FUNCTIONS: readonly HostileFunction[] = [
  ...(Object.keys(PAYLOADS) as PayloadKind[]).map((kind) => ({
    kind,
    name: PAYLOADS[kind](`fn-${kind}`),
    file: PAYLOADS[kind](`file-${kind}`),
  })),
  { kind: 'long', name: longPayload('fn-long', 6000), file: longPayload('file-long', 3000) },
]

/** The leaf that triples in the new version: the comparison and the findings name it. */
export const SLOWER = HOSTILE_FUNCTIONS.find((f) => f.kind === 'img')!

/** Versions hold payloads (quotes included, so the version selectors must escape them). */
export const OLD_VERSION = `1.0.0${PAYLOADS.iframe('version-old')}`
export const NEW_VERSION = `1.1.0${PAYLOADS.img('version-new')}`

/** `pod` values the uploads take turns with: the label filter suggests them. */
export const PODS: readonly string[] = [
  PAYLOADS.script('pod-script'),
  PAYLOADS.svg('pod-svg'),
  PAYLOADS.template('pod-template'),
  PAYLOADS.cdata('pod-cdata'),
  PAYLOADS.bidi('pod-bidi'),
  longPayload('pod-long', MAX_LABEL_VALUE_LENGTH),
]

/*
 * Label names follow the grammar `[A-Za-z_][A-Za-z0-9_.]*`: the most hostile are the names of
 * `Object.prototype` members, which a lookup in a plain object would find without any label.
 */
export const PROTOTYPE_LABELS = { constructor: PAYLOADS.anchor('label-constructor') } as const

const WRAPPER_STACK = ['main@app.js', 'handleRequest@server.js']

/** CPU per upload of each leaf, by version: distinct, and `SLOWER` triples with the deploy. */
function leafMs(fn: HostileFunction, version: string): number {
  const index = HOSTILE_FUNCTIONS.indexOf(fn)
  if (fn === SLOWER) return version === NEW_VERSION ? 600 : 200
  return 40 + 5 * index
}

/** The stack of a leaf, root first, `name@file`. */
const stackOf = (fn: HostileFunction): string[] => [...WRAPPER_STACK, `${fn.name}@${fn.file}`]

/** The old version for 10 minutes up to `deployAt`, the new one for 10 minutes after. */
export function hostileUploads(deployAt: number): SyntheticUpload[] {
  const uploads: SyntheticUpload[] = []
  for (const [v, version] of [OLD_VERSION, NEW_VERSION].entries()) {
    for (let k = 0; k < UPLOADS_PER_VERSION; k++) {
      uploads.push({
        service: HOSTILE_SERVICE,
        labels: { service_version: version, pod: PODS[k % PODS.length]!, ...PROTOTYPE_LABELS },
        at: deployAt + (v - 1) * UPLOADS_PER_VERSION * UPLOAD_MS + k * UPLOAD_MS,
        sampleType: ['cpu', 'nanoseconds'],
        samples: HOSTILE_FUNCTIONS.map((fn) => ({
          stack: stackOf(fn),
          value: leafMs(fn, version) * MS,
        })),
      })
    }
  }
  return uploads
}

/**
 * Alerts of the CPU service (so they show on its timeline too) whose name, labels (keys too:
 * the hook takes any), annotations and source URL hold payloads. Each `url` is a `javascript:`
 * one: the UI must never make it a link.
 */
export function hostileAlerts(window: { from: number; to: number }): GenericAlert[] {
  return [
    {
      name: PAYLOADS.img('alert-name'),
      service: HOSTILE_SERVICE,
      startsAt: window.from,
      endsAt: window.to,
      labels: {
        severity: PAYLOADS.script('alert-label'),
        [PAYLOADS.svg('alert-label-key')]: 'x',
      },
      annotations: {
        summary: PAYLOADS.iframe('alert-summary'),
        description: PAYLOADS.template('alert-description'),
        runbook_url: PAYLOADS.jsUrl('alert-runbook'),
      },
      url: PAYLOADS.jsUrl('alert-url'),
    },
    {
      name: PAYLOADS.jsUrl('alert-name-url'),
      service: HOSTILE_SERVICE,
      startsAt: window.from + 60_000,
      endsAt: window.to,
      labels: { severity: 'page' },
      url: `  JaVaScRiPt:${mark('alert-url-mixed-case')}`,
    },
  ]
}

/**
 * A Grafana webhook payload whose alert URLs and values are hostile: `javascript:` and `data:`
 * URLs in every link Grafana sends, markup in the value names. One http link (`imageURL`) is
 * harmless and is shown.
 */
export function hostileGrafanaWebhook(window: { from: number; to: number }) {
  return {
    receiver: PAYLOADS.img('grafana-receiver'),
    status: 'firing',
    orgId: 1,
    alerts: [
      {
        status: 'firing',
        labels: { alertname: PAYLOADS.svg('grafana-alertname'), service: HOSTILE_SERVICE },
        annotations: { summary: PAYLOADS.script('grafana-summary') },
        startsAt: new Date(window.from + 120_000).toISOString(),
        endsAt: new Date(window.to).toISOString(),
        generatorURL: `\tjavascript:${mark('grafana-generator')}`,
        silenceURL: PAYLOADS.jsUrl('grafana-silence'),
        dashboardURL: `  JaVaScRiPt:${mark('grafana-dashboard')}`,
        panelURL: `data:text/html,<script>${mark('grafana-panel')}</script>`,
        imageURL: 'http://grafana.example.org/render/panel.png',
        values: { [PAYLOADS.img('grafana-value')]: 1, B: 42.5 },
      },
    ],
  }
}

/**
 * A name as the SVG export writes it: the characters XML 1.0 cannot hold (C0 controls but tab,
 * line feed and carriage return; lone surrogates; U+FFFE, U+FFFF) replaced by U+FFFD.
 */
export const asExported = (name: string): string =>
  // eslint-disable-next-line no-control-regex -- the control characters are what is replaced
  name.replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uD800-\uDFFF\uFFFE\uFFFF]/gu, '\uFFFD')
