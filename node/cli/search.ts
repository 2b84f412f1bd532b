/** `texmesh search "LATEX"`: formulas like this one, among everything the network has read. */
import type { Command } from 'commander'
import { readFile } from 'node:fs/promises'
import type { FormulaHit } from '../daemon/memory.js'
import { ApiClient } from './client.js'
import { TexmeshError } from '../errors.js'
import { dataDirOf, parsePositive, print, withDataDir, withJson, type CommonOptions } from './options.js'
import { printable } from './terminal.js'

function formatHits (r: { formulas: number, hits: FormulaHit[] }, what: 'formulas' | 'images'): string {
  if (r.hits.length === 0) return `nothing found (the network's memory holds ${r.formulas} ${what})`
  const lines = r.hits.map((h, i) => {
    const kinds = new Set(h.sources.map(s => s.kind))
    const tags = [kinds.has('correction') ? 'a correction' : '', kinds.has('confirmation') ? 'confirmed' : '', h.sources.some(s => s.certified) ? 'certified' : ''].filter(t => t !== '').join(', ')
    const latest = h.sources[0]
    const where = latest != null ? printable(`${latest.kind} of image ${latest.hash.slice(0, 12)}…${latest.task != null ? ` (task ${latest.task})` : ''} by …${latest.by.slice(-8)}, ${latest.time.slice(0, 10)}`) : ''
    return `${String(i + 1).padStart(2)}. ${h.score.toFixed(3)}  ${printable(h.latex)}\n      ${h.sourceCount} source${h.sourceCount === 1 ? '' : 's'}${tags !== '' ? ` (${tags})` : ''}; latest: ${where}`
  })
  return [...lines, `(${r.formulas} ${what} in the network's memory)`].join('\n')
}

export function addSearchCommand (program: Command): void {
  withJson(withDataDir(program.command('search')))
    .description('find formulas like this one among everything the network has read (results and corrections), by LaTeX or by image')
    .argument('[latex]', 'a formula in LaTeX (put it after -- if it starts with -)')
    .option('--image <file>', 'search by an image of one formula instead: the formulas of the most similar images read before')
    .option('--k <n>', 'how many formulas (default 10, at most 100)', parsePositive('--k', 100))
    .addHelpText('after', `
Similarity is structural (cosine of hashed token and subtree features of the canonical form): a
formula sharing structure and symbols ranks high, 1.000 is the same features. Formulas equal in
canonical form are one hit, with every image and node they came from.

With --image, the node reads the image, and similarity is the cosine of what the model's encoder
made of it and of each image read before (by the same model version): a re-scan of an image the
network has read scores about 0.95 to 1. Each hit is the answer served for those images.`)
    .action(async (latex: string | undefined, opts: CommonOptions & { k?: number, image?: string }, cmd: Command) => {
      if ((latex == null) === (opts.image == null)) cmd.error('give a formula in LaTeX, or --image FILE (one of the two)')
      const client = await ApiClient.forDataDir(dataDirOf(opts))
      if (opts.image != null) {
        const bytes = await readFile(opts.image).catch((err: Error) => { throw new TexmeshError(`--image ${opts.image}: cannot read it (${err.message})`) })
        const r = await client.postBytes<{ images: number, hits: FormulaHit[] }>(`/v1/search/image?k=${opts.k ?? 10}`, bytes)
        print(opts.json, r, () => formatHits({ formulas: r.images, hits: r.hits }, 'images'))
        return
      }
      const r = await client.get<{ formulas: number, hits: FormulaHit[] }>(`/v1/search?latex=${encodeURIComponent(latex!)}&k=${opts.k ?? 10}`)
      print(opts.json, r, () => formatHits(r, 'formulas'))
    })
}
