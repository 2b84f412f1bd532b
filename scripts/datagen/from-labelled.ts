/**
 * node dist/scripts/datagen/from-labelled.js DIR --out SHARDS [--allow-heldout-c]
 *
 * A labelled folder (images and a truth.jsonl: `texmesh corrections export`, or any set `npm run
 * eval` reads) as a shard of the v2 trainer's clean crops (OUT/clean-0000.bin + .jsonl: each image's
 * ink, cropped and scaled so that its typical glyph is STORE_GLYPH px; the trainer degrades them
 * further, a new way each time). This is the way from people's corrections to the next model
 * (`scripts/train/run2.sh finetune`).
 *
 * Formulas of held-out C are left out (the model must never train on them) unless
 * --allow-heldout-c says that the shards are for a measurement that will not ship
 * (`npm run bench:learning -- --fine-tuned`).
 */
import { Command } from 'commander'
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { canonicalTokens } from '../../pipeline/latex/canonical.js'
import { readTruth } from '../eval.js'
import { cleanCrop, MAX_TOKENS } from './build.js'
import { isHeldoutC } from './heldout-c-guard.js'

export interface Converted { images: number, written: number, heldoutC: number, unreadable: number, tooLong: number }

export async function labelledToShard (dir: string, out: string, allowHeldoutC = false): Promise<Converted> {
  const truth = await readTruth(dir)
  const parts: Uint8Array[] = []
  const lines: string[] = []
  const counts: Converted = { images: truth.length, written: 0, heldoutC: 0, unreadable: 0, tooLong: 0 }
  let offset = 0
  for (const t of truth) {
    let tokens: string[]
    try {
      tokens = canonicalTokens(t.latex)
    } catch {
      counts.unreadable++
      continue
    }
    if (tokens.length > MAX_TOKENS) { counts.tooLong++; continue }
    if (!allowHeldoutC && isHeldoutC(tokens)) { counts.heldoutC++; continue }
    const crop = await cleanCrop(await readFile(join(dir, t.file))).catch(() => null)
    if (crop == null) { counts.unreadable++; continue }
    parts.push(crop.data)
    lines.push(JSON.stringify({ latex: t.latex, tokens: tokens.join(' '), renderer: `labelled:${t.file}`, w: crop.w, h: crop.h, glyph: crop.glyph, offset }))
    offset += crop.data.length
    counts.written++
  }
  if (counts.written === 0) {
    throw new Error(counts.heldoutC === counts.images
      ? `${dir}: every formula is one of held-out C's, which the model must never train on (--allow-heldout-c only for a measurement that does not ship)`
      : `${dir}: no image could be used (${counts.heldoutC} held-out C formulas, ${counts.unreadable} unreadable, ${counts.tooLong} too long)`)
  }
  await mkdir(out, { recursive: true })
  // The .bin first, then the .jsonl: a shard counts as done when its .jsonl exists.
  await writeFile(join(out, 'clean-0000.bin.tmp'), Buffer.concat(parts))
  await rename(join(out, 'clean-0000.bin.tmp'), join(out, 'clean-0000.bin'))
  await writeFile(join(out, 'clean-0000.jsonl.tmp'), lines.join('\n') + '\n')
  await rename(join(out, 'clean-0000.jsonl.tmp'), join(out, 'clean-0000.jsonl'))
  return counts
}

async function main (): Promise<void> {
  const cmd = new Command('from-labelled')
    .description('a labelled folder (images and truth.jsonl) as a shard of the v2 trainer\'s clean crops')
    .argument('<dir>', 'a labelled folder: images and truth.jsonl ({"file", "latex"} per line)')
    .requiredOption('--out <dir>', 'where to write clean-0000.bin and clean-0000.jsonl')
    .option('--allow-heldout-c', 'keep formulas of held-out C (only for a measurement that does not ship)')
    .parse()
  const o = cmd.opts<{ out: string, allowHeldoutC?: boolean }>()
  const c = await labelledToShard(cmd.processedArgs[0] as string, o.out, o.allowHeldoutC === true)
  console.log(`${c.written} of ${c.images} images written to ${o.out}` +
    (c.heldoutC > 0 ? `; ${c.heldoutC} left out as held-out C formulas` : '') +
    (c.unreadable > 0 ? `; ${c.unreadable} without ink or LaTeX the tokenizer takes` : '') +
    (c.tooLong > 0 ? `; ${c.tooLong} longer than ${MAX_TOKENS} tokens` : ''))
}

if (process.argv[1] != null && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err)
    process.exit(1)
  })
}
