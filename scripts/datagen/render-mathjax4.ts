/**
 * Render display math with MathJax 4 (@mathjax/src, SVG output) in its other math fonts, rasterised
 * by sharp: STIX Two and TeX Gyre Termes (the Times-like faces of many journals) and New Computer
 * Modern, so the model sees more of the faces formulas are printed in than MathJax 3's TeX font
 * and the TeX installation's five. Font data loads lazily, as ES modules from the font packages.
 */
import sharp from 'sharp'
import { mathjax } from '@mathjax/src/mjs/mathjax.js'
import { TeX } from '@mathjax/src/mjs/input/tex.js'
import { SVG } from '@mathjax/src/mjs/output/svg.js'
import { liteAdaptor } from '@mathjax/src/mjs/adaptors/liteAdaptor.js'
import { RegisterHTMLHandler } from '@mathjax/src/mjs/handlers/html.js'
import '@mathjax/src/mjs/input/tex/base/BaseConfiguration.js'
import '@mathjax/src/mjs/input/tex/ams/AmsConfiguration.js'
import '@mathjax/src/mjs/input/tex/newcommand/NewcommandConfiguration.js'
import { MathJaxStix2Font } from '@mathjax/mathjax-stix2-font/js/svg.js'
import { MathJaxTermesFont } from '@mathjax/mathjax-termes-font/js/svg.js'
import { MathJaxNewcmFont } from '@mathjax/mathjax-newcm-font/js/svg.js'
import { RenderError } from '../../formulas/render-mathjax.js'

export const MATHJAX4_FONTS = { stix2: MathJaxStix2Font, termes: MathJaxTermesFont, newcm: MathJaxNewcmFont } as const
export type Mathjax4Font = keyof typeof MATHJAX4_FONTS

// The fonts' lazily loaded glyph files are named by their package's component paths; the ES module
// build of each lies under js/.
mathjax.asyncLoad = async (name: string) => import(name.replace(/^(@mathjax\/mathjax-[a-z0-9]+-font)\/svg\//, '$1/js/svg/'))

const adaptor = liteAdaptor()
RegisterHTMLHandler(adaptor)
const documents = new Map<Mathjax4Font, ReturnType<typeof mathjax.document>>()

function documentFor (font: Mathjax4Font): ReturnType<typeof mathjax.document> {
  let doc = documents.get(font)
  if (!doc) {
    const tex = new TeX({
      packages: ['base', 'ams', 'newcommand'],
      formatError: (_jax: unknown, err: Error) => {
        throw err
      },
    })
    const svg = new SVG({ fontCache: 'none', fontData: MATHJAX4_FONTS[font] })
    doc = mathjax.document('', { InputJax: tex, OutputJax: svg })
    documents.set(font, doc)
  }
  return doc
}

/** A grayscale PNG of the formula in `font`, black on white, with `exPx` pixels per ex. */
export async function renderMathjax4 (latex: string, exPx: number, font: Mathjax4Font): Promise<Buffer> {
  const doc = documentFor(font)
  const node = await mathjax.handleRetriesFor(() => doc.convert(latex, { display: true }))
  let out = adaptor.innerHTML(node as never)
  if (/data-mjx-error|merror/.test(out)) throw new RenderError(`MathJax could not typeset: ${latex}`)
  out = out.replace(/(width|height)="([0-9.]+)ex"/g, (_m, k: string, v: string) => `${k}="${(Number(v) * exPx).toFixed(2)}"`)
  // The lite adaptor leaves '<' unescaped in attribute values (data-latex="x < 1"), which the SVG
  // parser refuses: every formula with a '<' was lost in MathJax 4's fonts.
  out = out.replace(/="([^"]*)"/g, (_m, v: string) => `="${v.replace(/</g, '&lt;')}"`)
  out = out.replace(/style="[^"]*"/, '')
  out = out.replace('<svg ', '<svg color="black" fill="black" stroke="black" ')
  return sharp(Buffer.from(out), { density: 72 }).flatten({ background: '#ffffff' }).grayscale().png().toBuffer()
}
