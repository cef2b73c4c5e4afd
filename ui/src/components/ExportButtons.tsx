import { useState } from 'react'
import { downloadBlob, exportFileName, flameSvgMarkup, svgToPng } from '../flame-export'

interface ExportButtonsProps {
  /** Parts of the file name, e.g. `['kiln', 'checkout', 'cpu', '2026-03-01T12-00-00']`. */
  name: readonly string[]
  svg(): SVGSVGElement | null
}

/** Save the drawn flame graph as SVG or PNG. */
export function ExportButtons({ name, svg }: ExportButtonsProps) {
  const [failure, setFailure] = useState<string | null>(null)

  function markup(): { text: string; width: number; height: number } | null {
    const element = svg()
    if (element === null) return null
    const { width, height } = element.getBoundingClientRect()
    return { text: flameSvgMarkup(element, name.join(' ')), width, height }
  }

  function saveSvg() {
    const drawn = markup()
    if (drawn === null) return
    downloadBlob(new Blob([drawn.text], { type: 'image/svg+xml' }), exportFileName(name, 'svg'))
  }

  async function savePng() {
    const drawn = markup()
    if (drawn === null) return
    try {
      setFailure(null)
      const png = await svgToPng(drawn.text, drawn)
      downloadBlob(png, exportFileName(name, 'png'))
    } catch (error) {
      setFailure(error instanceof Error ? error.message : String(error))
    }
  }

  return (
    <span className="export-buttons">
      <button type="button" onClick={saveSvg} title="Save this flame graph as an SVG image">
        SVG
      </button>
      <button
        type="button"
        onClick={() => void savePng()}
        title="Save this flame graph as a PNG image"
      >
        PNG
      </button>
      {failure !== null ? (
        <span className="export-failure" role="alert">
          PNG export failed: {failure}
        </span>
      ) : null}
    </span>
  )
}
