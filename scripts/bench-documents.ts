/**
 * npm run bench:documents -- [--dir DIR] [--count N] [--pages N] [--no-read] [--scans] [--misses]
 *
 * Formulas in whole documents (issue 26), on generated born-digital PDFs (datagen/documents.ts:
 * prose with held-out C's formulas, in Computer Modern, Palatino and Times math, one and two
 * columns; DIR, made there when it holds none). The truth of each formula's characters is its
 * colour in the PDF (the detector never looks at colour). It reports:
 *
 * - detection: a formula is found when one detection holds at least 80 % of its characters and
 *   is at least 80 % its characters; precision = such detections / all detections, recall = such
 *   formulas / all formulas (goal: both >= 0.95 on born-digital pages), and how often display
 *   and inline were told apart right;
 * - reading: exact match (canonical forms) of the formulas found, read by the shipped model;
 * - speed: pages a second on one core, finding and reading.
 *
 * With --scans, each page is read as a scan instead: rendered at 200 dpi, made scan-like
 * (datagen/scan.ts: grey paper, pale ink, blur, noise, JPEG) and searched without its text layer
 * (documents/scanned.ts); a detection holds the characters whose centres lie in its box (goal:
 * precision and recall >= 0.90 on scans).
 *
 * With --network: the speed-up of a document shared across nodes. A generated document of
 * --doc-pages pages is submitted to the first of N real node processes (simnet's, recognition
 * modelled as a sleep of --modelled p50,p95 ms, one worker a node, so that the machine's two
 * cores do not decide the figure), once with 1 node and once with 4, timed from the submission
 * until every formula is done (goal: >= 3.5x on 4 nodes).
 */
import { Command } from 'commander'
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Cluster } from '../simnet/cluster.js'
import type { DocumentView } from '../node/daemon/documents.js'
import { findFormulas } from '../documents/born-digital.js'
import { PdfDocument, type GrayPage, type PtBox } from '../documents/pdf.js'
import { findScannedFormulas } from '../documents/scanned.js'
import { WordClassifier } from '../documents/word-classifier.js'
import { scanLike } from './datagen/scan.js'
import { cropFormula, RENDER_DPI } from '../documents/read.js'
import { OcrPipeline } from '../pipeline/ocr.js'
import { canonicalOrSelf } from '../review/verdict.js'
import { formulaOfColour, generateDocuments, type DocumentTruth } from './datagen/documents.js'

const CLEAN = 0.8
const GOAL = 0.95
const SCAN_GOAL = 0.9

const opts = new Command('bench:documents')
  .description('formula detection precision and recall, exact match and speed on generated PDFs')
  .option('--dir <dir>', 'generated documents (made there when missing)', 'training/documents')
  .option('--count <n>', 'documents to generate when missing', v => Number(v), 12)
  .option('--pages <n>', 'pages a generated document', v => Number(v), 2)
  .option('--seed <n>', 'seed of the documents generated when missing (26: the documents the README reports)', v => Number(v), 26)
  .option('--no-read', 'detection only')
  .option('--scans', 'read each page as a scan instead: rendered, made scan-like, and found without its text layer')
  .option('--misses', 'list every detection that is not a formula (or not cleanly one) and every formula not found, with their characters')
  .option('--network', 'measure the speed-up of a document on 1 and 4 nodes instead')
  .option('--doc-pages <n>', 'pages of the document --network submits', v => Number(v), 24)
  .option('--modelled <p50,p95>', 'modelled recognition for --network (ms)', '400,600')
  .parse().opts<{ dir: string, count: number, pages: number, seed: number, read: boolean, scans?: boolean, misses?: boolean, network?: boolean, docPages: number, modelled: string }>()

if (opts.network === true) {
  const modelled = opts.modelled.split(',').map(Number) as [number, number]
  const dir = await mkdtemp(join(tmpdir(), 'texmesh-docs-net-'))
  try {
    await generateDocuments(dir, 1, opts.docPages, 27)
    const pdf = await readFile(join(dir, 'doc-00.pdf'))
    const runs: Array<{ nodes: number, seconds: number, formulas: number }> = []
    for (const nodes of [1, 4]) {
      const cluster = await Cluster.start(join(dir, `cluster-${nodes}`), Array.from({ length: nodes }, (_, i) => ({ slowdown: 1, workers: 1, leaseMs: 30_000, modelled, seed: i + 1 })))
      try {
        if (!await cluster.meshed(60_000)) throw new Error(`the ${nodes} nodes did not all meet`)
        const client = cluster.nodes[0]!.client!
        const t0 = performance.now()
        let doc = await client.postBytes<DocumentView>('/v1/documents?name=bench.pdf', pdf, 'application/pdf')
        while (doc.state !== 'done') {
          await new Promise(resolve => setTimeout(resolve, 200))
          doc = await client.get<DocumentView>(`/v1/documents/${doc.id}`)
        }
        runs.push({ nodes, seconds: (performance.now() - t0) / 1000, formulas: doc.formulas.length })
        console.log(`${nodes} node${nodes > 1 ? 's' : ''}: ${doc.pages.length} pages, ${doc.formulas.length} formulas in ${runs.at(-1)!.seconds.toFixed(1)} s (${(doc.pages.length / runs.at(-1)!.seconds).toFixed(2)} pages/s)`)
      } finally {
        await cluster.stop()
      }
    }
    const speedup = runs[0]!.seconds / runs[1]!.seconds
    console.log(`speed-up on 4 nodes: ${speedup.toFixed(2)}x (goal 3.5: ratio ${(speedup / 3.5).toFixed(2)}); recognition modelled at ${modelled.join('/')} ms p50/p95`)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
  process.exit(0)
}

const truthFile = join(opts.dir, 'truth.jsonl')
const docs: DocumentTruth[] = await stat(truthFile).then(
  async () => (await readFile(truthFile, 'utf8')).trim().split('\n').map(l => JSON.parse(l) as DocumentTruth),
  async () => await generateDocuments(opts.dir, opts.count, opts.pages, opts.seed))
const pipeline = opts.read ? await OcrPipeline.load() : undefined
const classifier = opts.scans === true ? await WordClassifier.load() : undefined

interface Tally { truth: number, found: number, clean: number, displayRight: number, read: number, exact: number }
const tally = (): Tally => ({ truth: 0, found: 0, clean: 0, displayRight: 0, read: 0, exact: 0 })
const byKind = new Map<string, Tally>()
const all = tally()
let pages = 0
const t0 = performance.now()
for (const d of docs) {
  const doc = PdfDocument.open(await readFile(join(opts.dir, d.file)), d.file)
  const kinds = [`${d.font}, ${d.columns} column${d.columns === 1 ? '' : 's'}`]
  try {
    for (let p = 0; p < doc.pages; p++) {
      pages++
      const { chars, rules } = doc.text(p)
      // The truth: each formula's characters, by colour.
      const idOf = chars.map(c => c.c.trim() === '' ? 0 : formulaOfColour(c.color))
      const truthChars = new Map<number, number>()
      for (const id of idOf) if (id > 0) truthChars.set(id, (truthChars.get(id) ?? 0) + 1)
      let rendering: GrayPage | undefined
      let body: number
      let formulas: Array<{ box: PtBox, display: boolean, foreign: PtBox[], chars: number[] }>
      if (classifier == null) {
        ({ body, formulas } = findFormulas(chars, rules))
        rendering = pipeline != null && formulas.length > 0 ? doc.render(p, RENDER_DPI) : undefined
      } else {
        // The page as a scanner gives it back; the characters a detection holds are those whose centres it holds.
        rendering = await scanLike(doc.render(p, RENDER_DPI), pages * 7919)
        const scanned = await findScannedFormulas(rendering, classifier)
        body = scanned.body
        const inside = (b: PtBox, c: PtBox): boolean => c.x + c.width / 2 >= b.x && c.x + c.width / 2 <= b.x + b.width && c.y + c.height / 2 >= b.y && c.y + c.height / 2 <= b.y + b.height
        formulas = scanned.formulas.map(f => ({ ...f, chars: chars.flatMap((c, i) => c.c.trim() !== '' && inside(f.box, c.box) ? [i] : []) }))
      }
      const t: Tally = tally()
      t.truth = truthChars.size
      t.found = formulas.length
      const text = (is: number[]): string => JSON.stringify(is.map(i => chars[i]!.c).join(''))
      const found = new Set<number>()
      for (const f of formulas) {
        const ids = new Map<number, number>()
        for (const i of f.chars) ids.set(idOf[i]!, (ids.get(idOf[i]!) ?? 0) + 1)
        const [id, n] = [...ids].filter(([k]) => k > 0).sort((a, b) => b[1] - a[1])[0] ?? [0, 0]
        if (id === 0 || n < CLEAN * f.chars.length || n < CLEAN * truthChars.get(id)!) {
          if (opts.misses === true) {
            const what = id === 0 ? 'not a formula' : `not clean (${n} of its ${f.chars.length} characters are ${n < CLEAN * truthChars.get(id)! ? 'part' : 'all'} of one formula)`
            console.log(`${d.file} page ${p + 1}: ${what} (${f.display ? 'display' : 'inline'}): ${text(f.chars)}`)
          }
          continue
        }
        found.add(id)
        t.clean++
        const truth = d.formulas.find(x => x.id === id)!
        if (truth.display === f.display) t.displayRight++
        if (pipeline != null && rendering != null) {
          const r = await pipeline.recognize(await cropFormula(rendering, f.box, f.foreign, body), `${d.file}#${id}`)
          t.read++
          if (canonicalOrSelf(r.latex) === canonicalOrSelf(truth.latex)) t.exact++
        }
      }
      if (opts.misses === true) {
        for (const id of truthChars.keys()) {
          if (!found.has(id)) console.log(`${d.file} page ${p + 1}: missed ${d.formulas.find(x => x.id === id)!.display ? 'display' : 'inline'} ${text(idOf.flatMap((x, i) => x === id ? [i] : []))}`)
        }
      }
      for (const into of [all, ...kinds.map(k => byKind.get(k) ?? (byKind.set(k, tally()).get(k)!))]) {
        for (const key of Object.keys(t) as Array<keyof Tally>) into[key] += t[key]
      }
    }
  } finally { doc.close() }
}
const seconds = (performance.now() - t0) / 1000
await pipeline?.release()
await classifier?.release()

const pct = (a: number, b: number): string => b === 0 ? '-' : `${(100 * a / b).toFixed(1)} %`
console.log(`${docs.length} documents, ${pages} pages, ${all.truth} formulas (${opts.dir})\n`)
console.log('| documents | formulas | precision | recall | display/inline right | exact match of those found |')
console.log('| --- | --- | --- | --- | --- | --- |')
for (const [k, t] of [...byKind, ['all', all] as const]) {
  console.log(`| ${k} | ${t.truth} | ${pct(t.clean, t.found)} | ${pct(t.clean, t.truth)} | ${pct(t.displayRight, t.clean)} | ${pipeline != null ? pct(t.exact, t.read) : '-'} |`)
}
const precision = all.clean / Math.max(1, all.found)
const recall = all.clean / Math.max(1, all.truth)
const goal = classifier == null ? GOAL : SCAN_GOAL
console.log(`\nprecision ${precision.toFixed(3)} (goal ${goal}: ratio ${(precision / goal).toFixed(2)}), recall ${recall.toFixed(3)} (ratio ${(recall / goal).toFixed(2)}) on ${classifier == null ? 'born-digital pages' : 'scans'}`)
console.log(`${(pages / seconds).toFixed(2)} pages/s on one core (${opts.read ? 'finding and reading' : 'finding only'}; ${seconds.toFixed(1)} s)`)
