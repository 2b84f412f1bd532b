/**
 * Training words for the scanned-page word classifier (documents/word-classifier.ts): documents
 * typeset like bench:documents' (documents.ts) but with the grammar's formulas, never held-out C's;
 * each page rendered at two densities (150-300 dpi) and made scan-like (scan.ts); cut into lines
 * and words as a scan is (documents/layout.ts); each word labelled by the text layer of its PDF
 * (the characters whose centres it holds): a number when they are digits (with brackets, points,
 * commas, %), which look the same in prose and in formulas; mathematics when most are a formula's
 * (by colour); prose otherwise.
 *
 *   node dist/scripts/datagen/words.js --out DIR [--docs N] [--seed S]
 *
 * Writes DIR/crops.u8 (CROP_HEIGHT x CROP_WIDTH bytes a word, ink 0-255), DIR/labels.u8 (0 prose,
 * 1 mathematics, 2 a number) and DIR/meta.json.
 */
import { Command } from 'commander'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { FormulaGenerator } from '../../formulas/grammar.js'
import { Rng } from '../../formulas/rng.js'
import { layout } from '../../documents/layout.js'
import { PdfDocument } from '../../documents/pdf.js'
import { CROP_HEIGHT, CROP_WIDTH, NUMBER, WordKind, wordCrop } from '../../documents/word-classifier.js'
import { formulaOfColour, generateDocuments } from './documents.js'
import { scanLike } from './scan.js'

const opts = new Command('words')
  .description('labelled word crops from generated scan-like pages, to train the word classifier on')
  .requiredOption('--out <dir>', 'output folder')
  .option('--docs <n>', 'documents (two pages each)', v => Number(v), 36)
  .option('--seed <n>', 'seed', v => Number(v), 2600)
  .parse().opts<{ out: string, docs: number, seed: number }>()

await mkdir(opts.out, { recursive: true })
const gen = new FormulaGenerator(new Rng(opts.seed), 'v3')
const formulas = Array.from({ length: 4000 }, () => ({ latex: gen.formula() }))
const docsDir = join(opts.out, 'docs')
const truth = await generateDocuments(docsDir, opts.docs, 2, opts.seed, formulas)
const rng = new Rng(opts.seed + 1)
const crops: Uint8Array[] = []
const labels: number[] = []
for (const d of truth) {
  const doc = PdfDocument.open(await readFile(join(docsDir, d.file)), d.file)
  try {
    for (let p = 0; p < doc.pages; p++) {
      const chars = doc.text(p).chars.filter(c => c.c.trim() !== '')
      for (let k = 0; k < 2; k++) {
        const dpi = Math.round(150 + 150 * rng.next())
        const page = await scanLike(doc.render(p, dpi), Math.floor(rng.next() * 2 ** 31))
        const scale = page.dpi / 72
        const centres = chars.map(c => ({ c: c.c, x: (c.box.x + c.box.width / 2) * scale, y: (c.box.y + c.box.height / 2) * scale, math: formulaOfColour(c.color) > 0 }))
        const l = layout(page)
        for (const line of l.lines) {
          for (const w of line.words) {
            const inside = centres.filter(c => c.x >= w.left - 1 && c.x <= w.right + 1 && c.y >= line.top - 1 && c.y <= line.bottom + 1)
            if (inside.length === 0) continue
            const math = inside.filter(c => c.math).length / inside.length
            const crop = wordCrop(page, line, w, l.xHeight)
            crops.push(Uint8Array.from(crop, v => Math.round(v * 255)))
            labels.push(NUMBER.test(inside.map(c => c.c).join('')) ? WordKind.number : math >= 0.5 ? WordKind.math : WordKind.prose)
          }
        }
      }
    }
  } finally { doc.close() }
}
const all = new Uint8Array(crops.length * CROP_HEIGHT * CROP_WIDTH)
crops.forEach((c, i) => { all.set(c, i * CROP_HEIGHT * CROP_WIDTH) })
await writeFile(join(opts.out, 'crops.u8'), all)
await writeFile(join(opts.out, 'labels.u8'), Uint8Array.from(labels))
await writeFile(join(opts.out, 'meta.json'), JSON.stringify({ count: labels.length, height: CROP_HEIGHT, width: CROP_WIDTH, math: labels.filter(x => x === WordKind.math).length, numbers: labels.filter(x => x === WordKind.number).length, classes: 3, docs: opts.docs, seed: opts.seed }))
await rm(docsDir, { recursive: true, force: true })
console.log(`${labels.length} words (${labels.filter(x => x === 1).length} mathematics) in ${opts.out}`)
