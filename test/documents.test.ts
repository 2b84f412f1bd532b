/**
 * Whole documents (issue 26), born-digital PDFs: pages and their text layer through mupdf, the
 * formulas found from math fonts (display and inline, no text), each read by the shipped model
 * in reading order, `texmesh ocr paper.pdf`, and bad PDFs refused with a reason.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as mupdf from 'mupdf'
import { DEFAULT_PDF_LIMITS, DocumentError, PdfDocument } from '../documents/pdf.js'
import { findFormulas, isMathFont } from '../documents/born-digital.js'
import { readDocument } from '../documents/read.js'
import { preparePdf } from '../documents/prepare.js'
import { OcrPipeline } from '../pipeline/ocr.js'
import { canonicalize } from '../pipeline/latex/canonical.js'
import { removeDir, runCli, startConnectedNodes, stopNodes, tempDir } from './helpers.js'
import type { RunningNode } from '../node/daemon/start.js'

const PDF = fileURLToPath(new URL('../../test/fixtures/documents/two-pages.pdf', import.meta.url))
/** The fixture's formulas (two-pages.tex), in reading order: page, display, the text layer's characters, the LaTeX. */
const EXPECTED = [
  [1, false, 'f', 'f'],
  [1, false, 'f(x)=x2+1', 'f(x) = x^2 + 1'],
  [1, true, '�01f(x)dx=43', '\\int_0^1 f(x)dx = \\frac{4}{3}'],
  [1, false, '�∞n=1n12=π62', '\\sum_{n=1}^\\infty \\frac{1}{n^2} = \\frac{\\pi^2}{6}'],
  [1, true, 'E=mc2', 'E = mc^2'],
  [2, true, 'sin2θ+cos2θ=1', '\\sin^2 \\theta + \\cos^2 \\theta = 1'],
  [2, false, 'limx→0sinxx=1', '\\lim_{x \\to 0} \\frac{\\sin x}{x} = 1']
] as const

async function refusal (bytes: Uint8Array, limits = DEFAULT_PDF_LIMITS): Promise<DocumentError> {
  try {
    const doc = PdfDocument.open(bytes, 'bad.pdf', limits)
    try { for (let i = 0; i < doc.pages; i++) doc.text(i) } finally { doc.close() }
  } catch (err) {
    assert.ok(err instanceof DocumentError, String(err))
    return err
  }
  assert.fail('the PDF was read')
}

describe('born-digital PDFs', { timeout: 120_000 }, () => {
  let bytes: Buffer
  let scratch: string
  before(async () => { bytes = await readFile(PDF); scratch = await tempDir() })
  after(async () => { await removeDir(scratch) })

  it('finds every formula from the math fonts, display or inline, in reading order, and no text', () => {
    const doc = PdfDocument.open(bytes, 'two-pages.pdf')
    try {
      assert.equal(doc.pages, 2)
      assert.deepEqual(doc.size(0), { width: 595.2760009765625, height: 841.8900146484375 })
      const found = [0, 1].flatMap(p => {
        const { chars, rules } = doc.text(p)
        assert.ok(chars.some(c => c.font === 'CMR10') && chars.some(c => isMathFont(c.font)))
        return findFormulas(chars, rules).formulas.map(f => [p + 1, f.display, f.text])
      })
      assert.deepEqual(found, EXPECTED.map(([p, d, t]) => [p, d, t]))
      assert.ok(!isMathFont('CMR10') && isMathFont('CMMI7') && isMathFont('LMMathItalic10-Regular') && isMathFont('CambriaMath'))
    } finally { doc.close() }
  })

  it('reads each formula with the shipped model', async () => {
    const pipeline = await OcrPipeline.load()
    const doc = PdfDocument.open(bytes, 'two-pages.pdf')
    try {
      const pages: number[] = []
      const r = await readDocument(doc, { recognize: async (png, file) => await pipeline.recognize(png, file), onPage: done => pages.push(done) })
      assert.deepEqual(pages, [1, 2])
      assert.deepEqual(r.pages, [{ page: 1, formulas: 5, scanned: false }, { page: 2, formulas: 2, scanned: false }])
      assert.deepEqual(r.formulas.map(f => [f.page, f.display]), EXPECTED.map(([p, d]) => [p, d]))
      const right = r.formulas.filter((f, i) => f.latex === canonicalize(EXPECTED[i]![3]))
      // The model reads most of them exactly (the inline sum with its scripts beside it, and lim, are hard for it).
      assert.ok(right.length >= 5, r.formulas.map(f => f.latex).join('  |  '))
      for (const f of r.formulas) assert.ok(f.box.width > 0 && f.box.height > 0 && f.box.x > 100 && f.box.y > 100, JSON.stringify(f.box))
      // Only the pages asked for.
      assert.deepEqual((await readDocument(doc, { recognize: async (png, file) => await pipeline.recognize(png, file), pages: [2] })).formulas.map(f => f.page), [2, 2])
    } finally {
      doc.close()
      await pipeline.release()
    }
  })

  it('refuses bad PDFs with a reason: not a PDF, damaged, truncated, encrypted, too many pages, a page too large', async () => {
    assert.equal((await refusal(new TextEncoder().encode('hello, not a pdf'))).reason, 'not-pdf')
    assert.equal((await refusal(new TextEncoder().encode('%PDF-1.4 and then nothing'))).reason, 'damaged')
    assert.equal((await refusal(bytes.subarray(0, 20_000))).reason, 'damaged')
    const locked = (mupdf.Document.openDocument(bytes, 'application/pdf') as mupdf.PDFDocument).saveToBuffer('encrypt=aes-256,user-password=secret').asUint8Array()
    const encrypted = await refusal(locked)
    assert.equal(encrypted.reason, 'encrypted')
    assert.match(encrypted.message, /^bad\.pdf: is encrypted/)
    assert.equal((await refusal(bytes, { ...DEFAULT_PDF_LIMITS, maxPages: 1 })).reason, 'too-many-pages')
    assert.equal((await refusal(bytes, { ...DEFAULT_PDF_LIMITS, maxSidePt: 500 })).reason, 'page-too-large')
    // A rendering is kept within the pixel budget by lowering the density.
    const doc = PdfDocument.open(bytes, 'two-pages.pdf', { ...DEFAULT_PDF_LIMITS, maxPixels: 1_000_000 })
    try {
      const page = doc.render(0, 300)
      assert.ok(page.dpi < 300 && page.width * page.height <= 1_000_000 && page.data.length === page.width * page.height)
    } finally { doc.close() }
  })

  it('texmesh ocr paper.pdf gives the formulas, as JSON too; a bad PDF is a failed file', async () => {
    const human = await runCli(['ocr', PDF])
    assert.equal(human.code, 0, human.stderr)
    assert.match(human.stdout, /two-pages\.pdf\t2 pages, 7 formulas/)
    assert.match(human.stdout, /\n {2}p1 display\tE=mc\^\{2\}\t\(confidence 0\.\d\d\)/)
    const json = JSON.parse((await runCli(['ocr', PDF, '--json'])).stdout) as { pages: unknown[], formulas: Array<{ page: number, display: boolean, latex: string, box: { x: number } }> }
    assert.equal(json.pages.length, 2)
    assert.equal(json.formulas.length, 7)
    assert.equal(json.formulas[4]!.latex, 'E=mc^{2}')
    // Exported: Markdown with the formulas in the text, or a LaTeX file of them.
    const markdown = await runCli(['ocr', PDF, '--export', 'markdown'])
    assert.equal(markdown.code, 0, markdown.stderr)
    assert.match(markdown.stdout, /^Let \$f\$ be a function with \$f\(x\)=x\^\{2\}\+1\$ on the unit interval\. Its integral is\n\n\$\$\n/)
    assert.match(markdown.stdout, /\n\$\$\nE=mc\^\{2\}\n\$\$\n\nSome more text follows here without any mathematics at all, over two lines of ordinary prose/)
    assert.doesNotMatch(markdown.stdout, /\(1\)/)
    assert.match(markdown.stdout, /\n---\n\nThe second page starts with prose, then a display formula:\n\n\$\$\n/)
    const latex = await runCli(['ocr', PDF, '--export', 'latex'])
    assert.match(latex.stdout, /\\begin\{document\}\n% page 1\n\\\( f \\\)\n/)
    assert.match(latex.stdout, /\n\\\[ E=mc\^\{2\} \\\]\n% page 2\n/)
    const both = await runCli(['ocr', PDF, '--export', 'latex', '--json'])
    assert.equal(both.code, 1)
    assert.match(both.stderr, /--export and --json: choose one/)
    const bad = join(scratch, 'bad.pdf')
    await writeFile(bad, '%PDF-1.4 and then nothing')
    const refused = await runCli(['ocr', bad])
    assert.equal(refused.code, 1)
    assert.equal(refused.stdout, '')
    assert.match(refused.stderr, /bad\.pdf: error: cannot be opened as a PDF/)
    assert.doesNotMatch(refused.stderr, /repairing|syntax error/)
  })
})

describe('documents through the network', { timeout: 180_000 }, () => {
  const dirs: string[] = []
  const nodes: RunningNode[] = []
  before(async () => { await startConnectedNodes(2, dirs, nodes) })
  after(async () => { await stopNodes(dirs, nodes) })

  it('texmesh submit paper.pdf --wait hands each formula to the network; texmesh result follows the document', async () => {
    const submitted = await runCli(['submit', PDF, '--wait', '--json', '--data-dir', dirs[0]!], { timeoutMs: 120_000 })
    assert.equal(submitted.code, 0, submitted.stderr)
    const doc = JSON.parse(submitted.stdout) as { id: string, state: string, pages: unknown[], pagesDone: number, formulas: Array<{ page: number, display: boolean, task: string, state: string, latex?: string }> }
    assert.match(doc.id, /^d[0-9a-f]{16}$/)
    assert.equal(doc.state, 'done')
    assert.deepEqual([doc.pages.length, doc.pagesDone], [2, 2])
    assert.deepEqual(doc.formulas.map(f => [f.page, f.display, f.state]), EXPECTED.map(([p, d]) => [p, d, 'done']))
    assert.ok(doc.formulas.filter((f, i) => f.latex === canonicalize(EXPECTED[i]![3])).length >= 5, doc.formulas.map(f => f.latex).join('  |  '))
    // Each formula is a task of its own, which either node may have read.
    const task = await nodes[0]!.task(doc.formulas[4]!.task)
    assert.equal(task?.result?.latex, 'E=mc^{2}')
    const shown = await runCli(['result', doc.id, '--data-dir', dirs[0]!])
    assert.equal(shown.code, 0, shown.stderr)
    assert.match(shown.stdout, new RegExp(`two-pages\\.pdf\\t${doc.id}\\tdone\\t2 pages \\(2 done\\), 7 formulas`))
    assert.match(shown.stdout, /\n {2}p1 display\tE=mc\^\{2\}\t\(confidence/)
    const markdown = await runCli(['result', doc.id, '--export', 'markdown', '--data-dir', dirs[0]!])
    assert.equal(markdown.code, 0, markdown.stderr)
    assert.match(markdown.stdout, /^Let \$f\$ be a function with \$f\(x\)=x\^\{2\}\+1\$ on the unit interval/)
    assert.match(markdown.stdout, /\n\$\$\nE=mc\^\{2\}\n\$\$\n/)
    // Prepared off the main thread, page by page; a page slower than the limit ends it with the reason.
    const prepared: number[] = []
    assert.equal(await preparePdf(await readFile(PDF), 'two-pages.pdf', async p => { prepared.push(p.formulas.length) }), 2)
    assert.deepEqual(prepared, [5, 2])
    await assert.rejects(preparePdf(await readFile(PDF), 'two-pages.pdf', async () => {}, { timeoutMs: 1 }), (err: unknown) => err instanceof DocumentError && err.reason === 'too-slow' && /took over 0\.001 s/.test(err.message))
    // A page that leaves MuPDF holding more memory than allowed ends the document with the reason.
    await assert.rejects(preparePdf(await readFile(PDF), 'two-pages.pdf', async () => {}, { maxMemoryMb: 8 }),
      (err: unknown) => err instanceof DocumentError && err.reason === 'page-too-large' && /page 1 took MuPDF's memory to \d+ MiB; a document may take at most 8 MiB/.test(err.message))
    // Bad input: a damaged PDF is refused with the reason, an unknown document id is said to be unknown.
    const bad = join(dirs[0]!, 'bad.pdf')
    await writeFile(bad, '%PDF-1.4 and then nothing')
    const refused = await runCli(['submit', bad, '--wait', '--data-dir', dirs[0]!])
    assert.equal(refused.code, 1)
    assert.match(refused.stdout, /bad\.pdf\td[0-9a-f]{16}\trefused\t0 pages \(0 done\), 0 formulas\trefused: .*bad\.pdf: cannot be opened as a PDF/)
    const notPdf = join(dirs[0]!, 'notes.pdf')
    await writeFile(notPdf, 'plain text, not a PDF')
    const asImage = await runCli(['submit', notPdf, '--data-dir', dirs[0]!])
    assert.equal(asImage.code, 1)
    // The node keeps its documents: one done, one refused.
    const listed = await (await fetch(`http://127.0.0.1:${nodes[0]!.apiPort}/v1/documents`, { headers: { authorization: `Bearer ${(await readFile(join(dirs[0]!, 'api-token'), 'utf8')).trim()}` } })).json() as Array<{ state: string }>
    assert.deepEqual(listed.map(d => d.state), ['refused', 'done'])
    assert.equal((await fetch(`http://127.0.0.1:${nodes[0]!.apiPort}/v1/documents`)).status, 401)
    const unknown = await runCli(['result', 'd0123456789abcdef', '--data-dir', dirs[0]!])
    assert.equal(unknown.code, 1)
    assert.match(unknown.stderr, /no document d0123456789abcdef/)
    // Single pages prepared again: page 2's formulas found and handed over anew, in their place.
    const retried = await runCli(['retry', doc.id, '--pages', '2', '--wait', '--json', '--data-dir', dirs[0]!], { timeoutMs: 60_000 })
    assert.equal(retried.code, 0, retried.stderr)
    const again = JSON.parse(retried.stdout) as typeof doc
    assert.equal(again.state, 'done')
    assert.deepEqual(again.formulas.map(f => [f.page, f.display, f.state]), EXPECTED.map(([p, d]) => [p, d, 'done']))
    assert.deepEqual(again.formulas.slice(0, 5).map(f => f.task), doc.formulas.slice(0, 5).map(f => f.task))
    assert.deepEqual(again.formulas.map(f => f.latex), doc.formulas.map(f => f.latex))
    const exported = await runCli(['result', doc.id, '--export', 'markdown', '--data-dir', dirs[0]!])
    assert.equal(exported.stdout, markdown.stdout)
    // Nothing to retry, a page it does not have, a bad list; a refused document is tried again and refused again.
    const nothing = await runCli(['retry', doc.id, '--data-dir', dirs[0]!])
    assert.equal(nothing.code, 1)
    assert.match(nothing.stderr, /every page was prepared and no formula failed; name the pages/)
    const past = await runCli(['retry', doc.id, '--pages', '2,9', '--data-dir', dirs[0]!])
    assert.equal(past.code, 1)
    assert.match(past.stderr, /has 2 pages \(1-2\); no page 9/)
    assert.match((await runCli(['retry', doc.id, '--pages', 'two', '--data-dir', dirs[0]!])).stderr, /page numbers from 1, separated by commas/)
    const badId = /\t(d[0-9a-f]{16})\trefused/.exec(refused.stdout)![1]!
    const refusedAgain = await runCli(['retry', badId, '--wait', '--data-dir', dirs[0]!])
    assert.equal(refusedAgain.code, 1)
    assert.match(refusedAgain.stdout, /\trefused\t.*cannot be opened as a PDF/)
    // Two retries at once: one is taken, the other told the document is being prepared.
    const token = (await readFile(join(dirs[0]!, 'api-token'), 'utf8')).trim()
    const retry = async (): Promise<number> => (await fetch(`http://127.0.0.1:${nodes[0]!.apiPort}/v1/documents/${doc.id}/retry`,
      { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ pages: [1] }) })).status
    assert.deepEqual((await Promise.all([retry(), retry()])).sort(), [200, 409])
    const settled = await runCli(['result', doc.id, '--wait', '--json', '--data-dir', dirs[0]!], { timeoutMs: 60_000 })
    assert.deepEqual((JSON.parse(settled.stdout) as typeof doc).formulas.map(f => f.latex), doc.formulas.map(f => f.latex))
    // Deleting: not while it is being prepared; then its record, text and kept file are gone from the node.
    const remove = async (id: string): Promise<number> => (await fetch(`http://127.0.0.1:${nodes[0]!.apiPort}/v1/documents/${id}`,
      { method: 'DELETE', headers: { authorization: `Bearer ${token}` } })).status
    assert.equal(await retry(), 200)
    assert.equal(await remove(doc.id), 409)
    await runCli(['result', doc.id, '--wait', '--data-dir', dirs[0]!], { timeoutMs: 60_000 })
    const kept = join(dirs[0]!, 'documents')
    assert.deepEqual((await readdir(kept)).filter(f => f.startsWith(doc.id)).sort(), [`${doc.id}.json`, `${doc.id}.src`, `${doc.id}.text.json`])
    const deleted = await runCli(['delete', doc.id, '--data-dir', dirs[0]!])
    assert.equal(deleted.code, 0, deleted.stderr)
    assert.equal(deleted.stdout, `deleted ${doc.id}\n`)
    assert.deepEqual((await readdir(kept)).filter(f => f.startsWith(doc.id)), [])
    assert.match((await runCli(['result', doc.id, '--data-dir', dirs[0]!])).stderr, /no document/)
    const twice = await runCli(['delete', doc.id, '--data-dir', dirs[0]!])
    assert.equal(twice.code, 1)
    assert.match(twice.stderr, /this node has no document/)
    assert.match((await runCli(['delete', 'paper.pdf', '--data-dir', dirs[0]!])).stderr, /is not a document id/)
    assert.equal(await remove(badId), 200)
    assert.equal(await remove('d0123456789abcdef'), 404)
    assert.deepEqual(await (await fetch(`http://127.0.0.1:${nodes[0]!.apiPort}/v1/documents`, { headers: { authorization: `Bearer ${token}` } })).json(), [])
  })
})
