/**
 * npm run bench:pdf-libraries -- [--dir DIR]
 *
 * MuPDF (the `mupdf` package, WebAssembly) against PDF.js (`pdfjs-dist`, JavaScript, rendering
 * through @napi-rs/canvas) on what texmesh needs of a PDF page (issue 26: "choose by
 * measurement"), over bench:documents' generated documents:
 *
 * - the text layer: milliseconds a page, and what it gives: characters with their own boxes,
 *   or runs of text; font names as the PDF has them (CMMI10), or the library's own ids;
 * - a rendering at 200 dpi: milliseconds a page.
 */
import { Command } from 'commander'
import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { createCanvas } from '@napi-rs/canvas'
import * as pdfjs from 'pdfjs-dist/legacy/build/pdf.mjs'
import { baseFontName, PdfDocument } from '../documents/pdf.js'
import { RENDER_DPI } from '../documents/read.js'
import { generateDocuments, type DocumentTruth } from './datagen/documents.js'

const opts = new Command('bench:pdf-libraries')
  .description('MuPDF against PDF.js on the text layer and rendering of generated documents')
  .option('--dir <dir>', 'generated documents (made there when missing)', 'training/documents')
  .parse().opts<{ dir: string }>()

const truthFile = join(opts.dir, 'truth.jsonl')
const docs: DocumentTruth[] = await stat(truthFile).then(
  async () => (await readFile(truthFile, 'utf8')).trim().split('\n').map(l => JSON.parse(l) as DocumentTruth),
  async () => await generateDocuments(opts.dir, 12, 2, 26))

interface Tally { pages: number, textMs: number, renderMs: number, units: number, chars: number, namedFonts: number, fontsSeen: number }
const tally = (): Tally => ({ pages: 0, textMs: 0, renderMs: 0, units: 0, chars: 0, namedFonts: 0, fontsSeen: 0 })
const mu = tally()
const pj = tally()

for (const d of docs) {
  const bytes = await readFile(join(opts.dir, d.file))
  const doc = PdfDocument.open(bytes, d.file)
  try {
    for (let p = 0; p < doc.pages; p++) {
      let t0 = performance.now()
      const { chars } = doc.text(p)
      mu.textMs += performance.now() - t0
      t0 = performance.now()
      doc.render(p, RENDER_DPI)
      mu.renderMs += performance.now() - t0
      mu.pages++
      mu.units += chars.length
      mu.chars += chars.length
      const fonts = new Set(chars.map(c => c.font))
      mu.fontsSeen += fonts.size
      mu.namedFonts += [...fonts].filter(f => /^[A-Z][A-Za-z0-9-]+$/.test(f) && !/^g_d\d/.test(f)).length
    }
  } finally { doc.close() }

  const pdf = await pdfjs.getDocument({ data: new Uint8Array(bytes), disableFontFace: true, useSystemFonts: false, verbosity: 0 }).promise
  try {
    for (let p = 1; p <= pdf.numPages; p++) {
      const page = await pdf.getPage(p)
      let t0 = performance.now()
      const text = await page.getTextContent()
      // The fonts' names are known only once the page's operators are loaded.
      await page.getOperatorList()
      const ids = new Set(text.items.flatMap(i => 'fontName' in i ? [i.fontName] : []))
      const names = [...ids].map(id => { try { return baseFontName(String((page.commonObjs.get(id) as { name?: string }).name ?? id)) } catch { return id } })
      pj.textMs += performance.now() - t0
      pj.units += text.items.length
      pj.chars += text.items.reduce((n, i) => n + ('str' in i ? i.str.length : 0), 0)
      pj.fontsSeen += names.length
      pj.namedFonts += names.filter(f => /^[A-Z][A-Za-z0-9-]+$/.test(f) && !/^g_d\d/.test(f)).length
      const viewport = page.getViewport({ scale: RENDER_DPI / 72 })
      const canvas = createCanvas(Math.ceil(viewport.width), Math.ceil(viewport.height))
      t0 = performance.now()
      await page.render({ canvas: canvas as unknown as HTMLCanvasElement, canvasContext: canvas.getContext('2d') as unknown as CanvasRenderingContext2D, viewport }).promise
      pj.renderMs += performance.now() - t0
      pj.pages++
      page.cleanup()
    }
  } finally { await pdf.destroy() }
}

const row = (name: string, t: Tally, units: string): string =>
  `| ${name} | ${(t.textMs / t.pages).toFixed(1)} | ${(t.renderMs / t.pages).toFixed(1)} | ${Math.round(t.units / t.pages)} ${units} (${Math.round(t.chars / t.pages)} characters) | ${t.namedFonts} of ${t.fontsSeen} |`
console.log(`${docs.length} documents, ${mu.pages} pages (${opts.dir})\n`)
console.log('| library | text layer, ms a page | rendering at 200 dpi, ms a page | text units a page | fonts named as in the PDF (CMMI10, ...) |')
console.log('| --- | --- | --- | --- | --- |')
console.log(row('MuPDF (mupdf, WebAssembly)', mu, 'characters, each with its box'))
console.log(row('PDF.js (pdfjs-dist + @napi-rs/canvas)', pj, 'runs, one box each'))
