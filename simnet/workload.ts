import { readFile } from 'node:fs/promises'
import { basename } from 'node:path'
import sharp from 'sharp'
import { expandInputs } from '../node/cli/ocr.js'
import { SimnetError } from './cluster.js'
import { FormulaGenerator } from '../formulas/grammar.js'
import { Rng } from '../formulas/rng.js'

/**
 * simnet's workload: `count` distinct images, from a folder (cycled, each
 * repeat given a white border of its own so its bytes, and so its task, are
 * new) or formulas made on the fly by the data generator's grammar and
 * MathJax, from a seed.
 */
export interface WorkItem { name: string, bytes: Buffer }

export async function imagesFromFolder (dir: string, count: number): Promise<WorkItem[]> {
  const found = await expandInputs([dir])
  const files = found.filter(f => f.error == null)
  if (files.length === 0) throw new SimnetError(`--images ${dir}: ${found[0]?.error ?? 'no images there'}`)
  const originals = await Promise.all(files.map(async f => ({ name: basename(f.file), bytes: await readFile(f.file) })))
  // Every image must decode: a repeat is re-encoded with a border, and a node would refuse a bad one anyway.
  for (const o of originals) {
    try {
      await sharp(o.bytes).metadata()
    } catch (err) {
      throw new SimnetError(`--images: ${o.name} is not an image sharp can read (${(err as Error).message})`)
    }
  }
  const out: WorkItem[] = []
  for (let i = 0; i < count; i++) {
    const o = originals[i % originals.length]!
    const round = Math.floor(i / originals.length)
    out.push(round === 0
      ? o
      : { name: `${o.name}#${round}`, bytes: await sharp(o.bytes).extend({ top: round, bottom: round, left: round, right: round, background: '#ffffff' }).png().toBuffer() })
  }
  return out
}

export async function generatedImages (count: number, seed: number): Promise<WorkItem[]> {
  // MathJax loads here, not with the command: it takes 0.1 s, which every other command would pay.
  const { renderMathjax } = await import('../formulas/render-mathjax.js')
  const rng = new Rng(seed)
  const gen = new FormulaGenerator(rng)
  const seen = new Set<string>()
  const out: WorkItem[] = []
  for (let tries = 0; out.length < count && tries < count * 20; tries++) {
    const latex = gen.formula()
    if (seen.has(latex)) continue
    seen.add(latex)
    try {
      out.push({ name: `formula-${String(out.length).padStart(5, '0')}.png`, bytes: await renderMathjax(latex, rng.range(6, 9)) })
    } catch {
      // a formula MathJax cannot typeset: draw another
    }
  }
  if (out.length < count) throw new SimnetError(`could only make ${out.length} of ${count} distinct formula images`)
  return out
}
