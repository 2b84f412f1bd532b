/**
 * Whole documents (issue 26), scanned pages: the two-page fixture printed and scanned (rendered at
 * 300 dpi and made scan-like: grey paper, pale ink, blur, noise, JPEG), as a multi-page TIFF and as
 * a folder of page images. Its formulas are found in the pixels (layout and the word classifier),
 * in the same places and kinds as in the born-digital PDF, within the detection figures; read by
 * the shipped model; handed to the network as one document; bad scans refused with a reason.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import sharp from 'sharp'
import { PdfDocument, type PtBox } from '../documents/pdf.js'
import { findFormulas } from '../documents/born-digital.js'
import { scansToPdf } from '../documents/scans.js'
import { DocumentError } from '../documents/errors.js'
import { scanLike } from '../scripts/datagen/scan.js'
import { removeDir, runCli, startConnectedNodes, stopNodes, tempDir } from './helpers.js'
import type { RunningNode } from '../node/daemon/start.js'

const PDF = fileURLToPath(new URL('../../test/fixtures/documents/two-pages.pdf', import.meta.url))

interface Found { page: number, display: boolean, box: PtBox, latex: string }

/** Whether two boxes are the same formula: the centre of each inside the other (2 points of slack). */
function same (a: PtBox, b: PtBox): boolean {
  const inside = (p: PtBox, q: PtBox): boolean => {
    const x = p.x + p.width / 2
    const y = p.y + p.height / 2
    return x >= q.x - 2 && x <= q.x + q.width + 2 && y >= q.y - 2 && y <= q.y + q.height + 2
  }
  return inside(a, b) && inside(b, a)
}

describe('scanned pages', { timeout: 240_000 }, () => {
  let scratch: string
  let tiff: string
  let folder: string
  /** the born-digital formulas: page, display, box */
  let truth: Array<{ page: number, display: boolean, box: PtBox }>
  const dirs: string[] = []
  const nodes: RunningNode[] = []

  before(async () => {
    scratch = await tempDir()
    const doc = PdfDocument.open(await readFile(PDF), 'two-pages.pdf')
    const pngs: Buffer[] = []
    try {
      truth = [0, 1].flatMap(p => { const { chars, rules } = doc.text(p); return findFormulas(chars, rules).formulas.map(f => ({ page: p + 1, display: f.display, box: f.box })) })
      for (let p = 0; p < doc.pages; p++) {
        const g = await scanLike(doc.render(p, 300), p + 11)
        pngs.push(await sharp(Buffer.from(g.data), { raw: { width: g.width, height: g.height, channels: 1 } }).withMetadata({ density: 300 }).png().toBuffer())
      }
    } finally { doc.close() }
    tiff = join(scratch, 'scan.tiff')
    await writeFile(tiff, await sharp(pngs, { join: { animated: true } }).withMetadata({ density: 300 }).tiff({ compression: 'lzw' }).toBuffer())
    folder = join(scratch, 'pages')
    await mkdir(folder)
    // Named so that name order is page order (page-10 after page-2 would need numeric sorting).
    for (const [i, png] of pngs.entries()) await writeFile(join(folder, `page-${i + 1}.png`), png)
  })
  after(async () => {
    await stopNodes(dirs, nodes)
    await removeDir(scratch)
  })

  it('a multi-page TIFF is one document: its formulas found in the pixels, where the PDF has them, and read', async () => {
    const r = await runCli(['ocr', tiff, '--json'], { timeoutMs: 120_000 })
    assert.equal(r.code, 0, r.stderr)
    const doc = JSON.parse(r.stdout) as { pages: Array<{ page: number, scanned: boolean }>, formulas: Found[] }
    assert.deepEqual(doc.pages.map(p => [p.page, p.scanned]), [[1, true], [2, true]])
    const found = truth.filter(t => doc.formulas.some(f => f.page === t.page && same(f.box, t.box)))
    const extra = doc.formulas.filter(f => !truth.some(t => f.page === t.page && same(f.box, t.box)))
    const show = JSON.stringify(doc.formulas.map(f => [f.page, f.display, f.latex]))
    // Within the detection figures (bench:documents --scans): at least 6 of the 7, at most one detection that is no formula.
    assert.ok(found.length >= 6, `found ${found.length} of 7: ${show}`)
    assert.ok(extra.length <= 1, `${extra.length} detections that are no formula: ${show}`)
    for (const t of found) assert.equal(doc.formulas.find(f => f.page === t.page && same(f.box, t.box))!.display, t.display, show)
    // In reading order, and read: the display E = mc^2 of page 1, the display identity of page 2.
    assert.deepEqual(doc.formulas.map(f => f.page), [...doc.formulas.map(f => f.page)].sort((a, b) => a - b))
    assert.ok(doc.formulas.some(f => f.page === 1 && f.display && f.latex === 'E=mc^{2}'), show)
    assert.ok(doc.formulas.some(f => f.page === 2 && f.display && f.latex === '\\sin^{2}\\theta+\\cos^{2}\\theta=1'), show)
    const human = await runCli(['ocr', tiff], { timeoutMs: 120_000 })
    assert.match(human.stdout, /scan\.tiff\t2 pages, \d+ formulas\t\(\d+ ms; 2 pages are scans \(no text layer\): formulas found in the pixels\)/)
  })

  it('--scans takes a folder of page images as one document, the same as the TIFF; bad scans are refused', async () => {
    const fromTiff = JSON.parse((await runCli(['ocr', tiff, '--json'], { timeoutMs: 120_000 })).stdout) as { formulas: Found[] }
    const r = await runCli(['ocr', '--scans', folder, '--json'], { timeoutMs: 120_000 })
    assert.equal(r.code, 0, r.stderr)
    const doc = JSON.parse(r.stdout) as { file: string, pages: unknown[], formulas: Found[] }
    assert.equal(doc.file, folder)
    assert.equal(doc.pages.length, 2)
    assert.deepEqual(doc.formulas.map(f => [f.page, f.display, f.box]), fromTiff.formulas.map(f => [f.page, f.display, f.box]))
    const markdown = await runCli(['ocr', '--scans', folder, '--export', 'markdown'], { timeoutMs: 120_000 })
    assert.match(markdown.stdout, /\n\$\$\nE=mc\^\{2\}\n\$\$\n/)
    assert.match(markdown.stdout, /\n---\n/)
    // A PDF among the scans, an image that is not one, an empty folder.
    await writeFile(join(scratch, 'bad.png'), 'not an image at all')
    const withPdf = await runCli(['ocr', '--scans', folder, PDF])
    assert.equal(withPdf.code, 1)
    assert.match(withPdf.stderr, /two-pages\.pdf: error: --scans takes page images/)
    const bad = await runCli(['ocr', '--scans', join(scratch, 'bad.png')])
    assert.equal(bad.code, 1)
    assert.match(bad.stderr, /bad\.png: error: not an image that can be read as a page scan/)
    await assert.rejects(scansToPdf([], 'none'), (err: unknown) => err instanceof DocumentError && err.reason === 'damaged' && /has no pages/.test(err.message))
    await assert.rejects(scansToPdf([{ name: 'big.png', bytes: await readFile(join(folder, 'page-1.png')) }], 'big', { maxPages: 10, maxSidePt: 500, maxPixels: 60_000_000 }),
      (err: unknown) => err instanceof DocumentError && err.reason === 'page-too-large')
    // Each page is the size its resolution says: A4 at 300 dpi.
    const pdf = PdfDocument.open(await scansToPdf([{ name: 'p.png', bytes: await readFile(join(folder, 'page-1.png')) }], 'p'), 'p')
    try {
      const size = pdf.size(0)
      assert.ok(Math.abs(size.width - 595.4) < 1 && Math.abs(size.height - 842) < 1, JSON.stringify(size))
    } finally { pdf.close() }
  })

  it('texmesh submit scan.tiff --wait and --scans FOLDER hand the scans to the network as one document', async () => {
    await startConnectedNodes(1, dirs, nodes)
    const fromTiff = await runCli(['submit', tiff, '--wait', '--json', '--data-dir', dirs[0]!], { timeoutMs: 150_000 })
    assert.equal(fromTiff.code, 0, fromTiff.stderr)
    const doc = JSON.parse(fromTiff.stdout) as { id: string, state: string, pages: Array<{ scanned: boolean }>, formulas: Array<{ page: number, display: boolean, state: string, latex?: string }> }
    assert.equal(doc.state, 'done')
    assert.deepEqual(doc.pages.map(p => p.scanned), [true, true])
    assert.ok(doc.formulas.length >= 6 && doc.formulas.every(f => f.state === 'done'), JSON.stringify(doc.formulas))
    assert.ok(doc.formulas.some(f => f.page === 1 && f.display && f.latex === 'E=mc^{2}'), JSON.stringify(doc.formulas))
    const fromFolder = await runCli(['submit', '--scans', folder, '--wait', '--json', '--data-dir', dirs[0]!], { timeoutMs: 150_000 })
    assert.equal(fromFolder.code, 0, fromFolder.stderr)
    const again = JSON.parse(fromFolder.stdout) as typeof doc
    assert.equal(again.state, 'done')
    assert.deepEqual(again.formulas.map(f => [f.page, f.display, f.latex]), doc.formulas.map(f => [f.page, f.display, f.latex]))
    const bad = await runCli(['submit', '--scans', join(scratch, 'bad.png'), '--data-dir', dirs[0]!])
    assert.equal(bad.code, 1)
    assert.match(bad.stderr, /bad\.png: error: not an image that can be read as a page scan/)
  })
})
