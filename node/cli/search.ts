/** `texmesh search "LATEX"`: formulas like this one, among everything the network has read. */
import type { Command } from 'commander'
import type { FormulaHit } from '../daemon/memory.js'
import { ApiClient } from './client.js'
import { dataDirOf, parsePositive, print, withDataDir, withJson, type CommonOptions } from './options.js'
import { printable } from './terminal.js'

function formatHits (r: { formulas: number, hits: FormulaHit[] }): string {
  if (r.hits.length === 0) return `nothing found (the network's memory holds ${r.formulas} formulas)`
  const lines = r.hits.map((h, i) => {
    const kinds = new Set(h.sources.map(s => s.kind))
    const tags = [kinds.has('correction') ? 'a correction' : '', kinds.has('confirmation') ? 'confirmed' : '', h.sources.some(s => s.certified) ? 'certified' : ''].filter(t => t !== '').join(', ')
    const latest = h.sources[0]
    const where = latest != null ? printable(`${latest.kind} of image ${latest.hash.slice(0, 12)}…${latest.task != null ? ` (task ${latest.task})` : ''} by …${latest.by.slice(-8)}, ${latest.time.slice(0, 10)}`) : ''
    return `${String(i + 1).padStart(2)}. ${h.score.toFixed(3)}  ${printable(h.latex)}\n      ${h.sourceCount} source${h.sourceCount === 1 ? '' : 's'}${tags !== '' ? ` (${tags})` : ''}; latest: ${where}`
  })
  return [...lines, `(${r.formulas} formulas in the network's memory)`].join('\n')
}

export function addSearchCommand (program: Command): void {
  withJson(withDataDir(program.command('search')))
    .description('find formulas like this one among everything the network has read (results and corrections)')
    .argument('<latex>', 'a formula in LaTeX (put it after -- if it starts with -)')
    .option('--k <n>', 'how many formulas (default 10, at most 100)', parsePositive('--k', 100))
    .addHelpText('after', `
Similarity is structural (cosine of hashed token and subtree features of the canonical form): a
formula sharing structure and symbols ranks high, 1.000 is the same features. Formulas equal in
canonical form are one hit, with every image and node they came from.`)
    .action(async (latex: string, opts: CommonOptions & { k?: number }) => {
      const client = await ApiClient.forDataDir(dataDirOf(opts))
      const r = await client.get<{ formulas: number, hits: FormulaHit[] }>(`/v1/search?latex=${encodeURIComponent(latex)}&k=${opts.k ?? 10}`)
      print(opts.json, r, () => formatHits(r))
    })
}
