/** Render display math with MathJax (mathjax-full, SVG output) and rasterise it with sharp. */
import sharp from 'sharp'
import { mathjax } from 'mathjax-full/js/mathjax.js'
import { TeX } from 'mathjax-full/js/input/tex.js'
import { SVG } from 'mathjax-full/js/output/svg.js'
import { liteAdaptor } from 'mathjax-full/js/adaptors/liteAdaptor.js'
import { RegisterHTMLHandler } from 'mathjax-full/js/handlers/html.js'
import { AllPackages } from 'mathjax-full/js/input/tex/AllPackages.js'

const adaptor = liteAdaptor()
RegisterHTMLHandler(adaptor)
const tex = new TeX({ packages: AllPackages.filter((p) => p !== 'bussproofs'), formatError: (_jax: unknown, err: Error) => { throw err } })
const svg = new SVG({ fontCache: 'none' })
const doc = mathjax.document('', { InputJax: tex, OutputJax: svg })

export class RenderError extends Error {
  override name = 'RenderError'
}

/** The SVG markup of a display formula, sized in pixels at `exPx` pixels per ex. */
export function mathjaxSvg (latex: string, exPx: number): string {
  const node = doc.convert(latex, { display: true })
  let out = adaptor.innerHTML(node)
  if (/data-mjx-error|merror/.test(out)) throw new RenderError(`MathJax could not typeset: ${latex}`)
  // librsvg does not size by ex: convert the outer width/height to pixels.
  out = out.replace(/(width|height)="([0-9.]+)ex"/g, (_m, k: string, v: string) => `${k}="${(Number(v) * exPx).toFixed(2)}"`)
  out = out.replace(/style="[^"]*"/, '')
  out = out.replace('<svg ', '<svg color="black" fill="black" stroke="black" ')
  return out
}

/** A grayscale PNG of the formula, black on white, with `exPx` pixels per ex. */
export async function renderMathjax (latex: string, exPx: number): Promise<Buffer> {
  const markup = mathjaxSvg(latex, exPx)
  return sharp(Buffer.from(markup), { density: 72 })
    .flatten({ background: '#ffffff' })
    .grayscale()
    .png()
    .toBuffer()
}
