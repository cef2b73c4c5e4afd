/*
 * Export of a drawn flame graph as a standalone SVG or a PNG. d3-flame-graph draws labels as HTML
 * inside `<foreignObject>`: other SVG readers drop those, and a canvas that draws them refuses
 * to be read back in some browsers. So the export copies the chart and turns each label into an
 * SVG `<text>`, cut to the frame's width.
 */

const SVG_NS = 'http://www.w3.org/2000/svg'
/** Width of one character of the 12 px monospace label font. */
const LABEL_CHAR_PX = 7.3
const LABEL_PADDING_PX = 4
const LABEL_BASELINE_PX = 14

/** `text` cut to fit `widthPx` (with an ellipsis), or `''` when not even two characters fit. */
export function fitLabel(text: string, widthPx: number, charPx = LABEL_CHAR_PX): string {
  const room = Math.floor((widthPx - 2 * LABEL_PADDING_PX) / charPx)
  if (room >= text.length) return text
  if (room < 3) return ''
  return `${text.slice(0, room - 1)}…`
}

/** A file name from its parts: `kiln-checkout-cpu-2026-03-01T12-00-00.svg`. */
export function exportFileName(parts: readonly string[], extension: string): string {
  const safe = parts
    .filter((part) => part !== '')
    .map((part) => part.replace(/[^A-Za-z0-9._-]+/g, '_'))
    .join('-')
  return `${safe}.${extension}`
}

/** File-name form of a time: `2026-03-01T12-00-00`. */
export function fileTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace(/:/g, '-')
}

/**
 * Characters XML 1.0 does not allow anywhere, not even as character references: C0 controls
 * other than tab, line feed and carriage return, lone surrogates, U+FFFE and U+FFFF. Function
 * and file names come from any agent and may hold them (an ANSI colour, `\u001b[31m`);
 * `XMLSerializer` copies them as they are, and one is enough to make the whole file unreadable
 * (Chromium: "error on line 1 at column 1161: Invalid character U+001B") and the PNG export,
 * which decodes the same markup, fail.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const NOT_XML_CHAR = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uD800-\uDFFF\uFFFE\uFFFF]/gu

/** `text` with each character XML cannot hold replaced by U+FFFD. */
export function xmlSafe(text: string): string {
  return text.replace(NOT_XML_CHAR, '\uFFFD')
}

/** The chart as a standalone SVG document. */
export function flameSvgMarkup(svg: SVGSVGElement, title: string): string {
  const copy = svg.cloneNode(true) as SVGSVGElement
  const width = Number(svg.getAttribute('width')) || svg.getBoundingClientRect().width
  const height = Number(svg.getAttribute('height')) || svg.getBoundingClientRect().height
  copy.setAttribute('xmlns', SVG_NS)
  copy.setAttribute('width', String(width))
  copy.setAttribute('height', String(height))
  copy.setAttribute('viewBox', `0 0 ${width} ${height}`)
  const doc = copy.ownerDocument

  const style = doc.createElementNS(SVG_NS, 'style')
  style.textContent =
    'text{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;fill:#111}' +
    'rect{stroke:#fff}g.fade{opacity:.6}g[data-light] text{fill:#fff}'
  const background = doc.createElementNS(SVG_NS, 'rect')
  background.setAttribute('width', '100%')
  background.setAttribute('height', '100%')
  background.setAttribute('fill', '#fff')
  // Through CSSOM: the server's Content-Security-Policy refuses `style` set as an attribute.
  background.style.stroke = 'none'
  const heading = doc.createElementNS(SVG_NS, 'title')
  heading.textContent = title
  copy.prepend(heading, style, background)

  for (const frame of copy.querySelectorAll('g.frame')) {
    const object = frame.querySelector('foreignObject')
    if (object === null) continue
    const name = frame.getAttribute('name') ?? ''
    const label = fitLabel(name, Number(object.getAttribute('width')) || 0)
    if (label !== '') {
      const text = doc.createElementNS(SVG_NS, 'text')
      text.setAttribute('x', String(LABEL_PADDING_PX))
      text.setAttribute('y', String(LABEL_BASELINE_PX))
      text.textContent = label
      frame.append(text)
    }
    object.remove()
  }
  // The characters replaced never form markup: only text and attribute values hold them.
  return xmlSafe(new XMLSerializer().serializeToString(copy))
}

/** The SVG drawn on a canvas at `scale` times its size, as a PNG. */
export async function svgToPng(
  markup: string,
  size: { width: number; height: number },
  scale = 2,
): Promise<Blob> {
  const url = URL.createObjectURL(new Blob([markup], { type: 'image/svg+xml' }))
  try {
    const image = new Image()
    image.src = url
    await image.decode()
    const canvas = document.createElement('canvas')
    canvas.width = Math.ceil(size.width * scale)
    canvas.height = Math.ceil(size.height * scale)
    const context = canvas.getContext('2d')
    if (context === null) throw new Error('no 2D canvas in this browser')
    context.scale(scale, scale)
    context.drawImage(image, 0, 0, size.width, size.height)
    return await new Promise<Blob>((resolve, reject) =>
      canvas.toBlob(
        (blob) => (blob ? resolve(blob) : reject(new Error('canvas gave no PNG'))),
        'image/png',
      ),
    )
  } finally {
    URL.revokeObjectURL(url)
  }
}

/** Save a blob under `fileName` (the browser's download). */
export function downloadBlob(blob: Blob, fileName: string): void {
  const url = URL.createObjectURL(blob)
  const link = document.createElement('a')
  link.href = url
  link.download = fileName
  document.body.append(link)
  link.click()
  link.remove()
  // Revoke later: some browsers read the URL after click() returns.
  setTimeout(() => URL.revokeObjectURL(url), 10_000)
}
