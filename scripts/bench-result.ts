/** The result entries bench:crdt writes: sized and shaped as the pipeline writes them. */
import { createHash } from 'node:crypto'
import type { ResultEntry } from '../crdt/schemas.js'

/**
 * An image hash (SHA-256, as the pipeline names images) for result i: a node's formula and image
 * memories take only results under such hashes, so a bench that writes them measures what a node
 * does with every result it holds, not only what its store does.
 */
export function benchImageHash (i: number): string {
  return createHash('sha256').update(`bench image ${i}`).digest('hex')
}

/**
 * A result as the pipeline writes one: LaTeX, three alternatives (beam 4), the task, the time the
 * reading took, and an image embedding (128 int8, base64) for a one-formula image; one image in
 * eight holds three formulas, each a region with its box.
 */
export function benchResult (i: number): ResultEntry {
  const latex = `\\frac{\\partial^{2} u_{${i % 13}}}{\\partial x^{2}}+\\lambda_{${i % 97}} u=${i}`
  const base = {
    latex,
    confidence: 0.9,
    alternatives: [{ latex: `${latex}'`, score: -3.2 }, { latex: latex.replace('lambda', 'Lambda'), score: -5.1 }, { latex: latex.replace('u=', 'v='), score: -6.4 }],
    model: 'texmesh-v2+91b1048ca4c91657',
    time: 1_790_000_000_000 + i,
    task: `12D3KooWBenchmarkTaskOrigin${(i % 7).toString()}:${i.toString(36)}`,
    ms: 20 + (i % 30)
  }
  if (i % 8 === 7) {
    return { ...base, regions: [0, 1, 2].map(r => ({ bbox: { x: 12, y: 40 * r + 8, width: 300, height: 32 }, latex: `${latex}+${r}`, confidence: 0.8 })) }
  }
  return { ...base, embedding: Buffer.from(Array.from({ length: 128 }, (_, k) => (i * 31 + k * 7) % 256)).toString('base64') }
}
