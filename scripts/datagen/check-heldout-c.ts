/**
 * Does the grammar ever write a held-out C formula? Draws formulas exactly as build.ts does for its
 * shards (an Rng seeded seed * 100003 + shard per shard, the profile's grammar mix, the same length
 * filter, but without the held-out C filter) and reports every canonical form that is also in
 * datasets/heldout-c.
 *
 *   node dist/scripts/datagen/check-heldout-c.js [--count 1000000] [--seed 1,2,3,4,5] [--grammar v1,v2,v3,v4] [--shard-size 2000]
 *
 * --count is the number of formulas for each grammar mix, shared evenly among the seeds (v1: the
 * printed kinds, every profile before clean2; v2: clean2's, with random and long formulas besides;
 * v3: clean3's, with topic formulas; v4: clean-v4's, with notation formulas).
 * Exits 1 when any coincide.
 */
import { Command, InvalidArgumentError } from 'commander'
import { pathToFileURL } from 'node:url'
import { canonicalTokens } from '../../pipeline/latex/canonical.js'
import { MAX_TOKENS } from './build.js'
import { FormulaGenerator, type GrammarMix } from '../../formulas/grammar.js'
import { HELDOUT_C_SOURCE, readHeldoutC } from './heldout-c-guard.js'
import { Rng } from '../../formulas/rng.js'

export type { GrammarMix }
const MIXES: readonly GrammarMix[] = ['v1', 'v2', 'v3', 'v4']

export interface GrammarMatch {
  mix: GrammarMix;
  seed: number;
  shard: number;
  /** The grammar's LaTeX, and the held-out C formula it coincides with. */
  latex: string;
  id: string;
}

export interface GrammarScan {
  /** Formulas checked (those build.ts would keep: 1 to MAX_TOKENS canonical tokens). */
  checked: number;
  /** Formulas drawn, including the ones build.ts drops for their length. */
  drawn: number;
  matches: GrammarMatch[];
}

/**
 * Draw `count` formulas for one dataset seed as build.ts does, shard after shard (each shard's first
 * `shardSize` kept formulas are that shard's training formulas), and look each up in `heldout`
 * (canonical form -> held-out C id).
 */
export function scanGrammar (
  heldout: ReadonlyMap<string, string>,
  seed: number,
  count: number,
  opts: { mix?: GrammarMix; shardSize?: number } = {}
): GrammarScan {
  const mix = opts.mix ?? 'v1'
  const shardSize = opts.shardSize ?? 2000
  const scan: GrammarScan = { checked: 0, drawn: 0, matches: [] }
  for (let shard = 0; scan.checked < count; shard++) {
    const gen = new FormulaGenerator(new Rng(seed * 100003 + shard), mix)
    const n = Math.min(shardSize, count - scan.checked)
    for (let kept = 0; kept < n;) {
      const latex = gen.formula()
      const tokens = canonicalTokens(latex)
      scan.drawn++
      if (tokens.length === 0 || tokens.length > MAX_TOKENS) continue
      kept++
      scan.checked++
      const id = heldout.get(tokens.join(' '))
      if (id !== undefined) scan.matches.push({ mix, seed, shard, latex, id })
    }
  }
  return scan
}

function positiveInt (v: string): number {
  const n = Number(v.replace(/[_,]/g, ''))
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer')
  return n
}

function seedList (v: string): number[] {
  const seeds = v.split(',').map((s) => Number(s.trim()))
  if (seeds.length === 0 || seeds.some((s) => !Number.isInteger(s) || s < 0)) {
    throw new InvalidArgumentError('must be a comma-separated list of integers >= 0')
  }
  return seeds
}

function mixList (v: string): GrammarMix[] {
  const mixes = v.split(',').map((s) => s.trim())
  if (mixes.length === 0 || mixes.some((m) => !MIXES.includes(m as GrammarMix))) throw new InvalidArgumentError(`must be a comma-separated list of ${MIXES.join(', ')}`)
  return mixes as GrammarMix[]
}

async function main (): Promise<void> {
  const cmd = new Command('check-heldout-c')
    .description('count the grammar formulas whose canonical form is a held-out C formula')
    .option('--count <n>', 'formulas for each grammar mix, shared evenly among the seeds', positiveInt, 1_000_000)
    .option('--seed <list>', 'dataset seeds, as build.ts --seed', seedList, [1, 2, 3, 4, 5])
    .option('--grammar <list>', "grammar mixes (build.ts profiles: v1, clean2's v2, clean3's v3, clean-v4's v4)", mixList, [...MIXES])
    .option('--shard-size <n>', 'formulas per shard (build.ts --count)', positiveInt, 2000)
    .option('--source <file>', 'held-out C source', HELDOUT_C_SOURCE)
    .parse()
  const o = cmd.opts<{ count: number; seed: number[]; grammar: GrammarMix[]; shardSize: number; source: string }>()
  const formulas = readHeldoutC(o.source)
  const heldout = new Map(formulas.map((f) => [f.tokens.join(' '), f.id] as const))
  console.log(`held-out C: ${formulas.length} formulas (${o.source})`)
  const t0 = performance.now()
  let checked = 0
  let drawn = 0
  const matches: GrammarMatch[] = []
  for (const mix of o.grammar) {
    o.seed.forEach((seed, k) => {
      const count = Math.floor(o.count / o.seed.length) + (k < o.count % o.seed.length ? 1 : 0)
      if (count === 0) return
      const t = performance.now()
      const s = scanGrammar(heldout, seed, count, { mix, shardSize: o.shardSize })
      checked += s.checked
      drawn += s.drawn
      matches.push(...s.matches)
      const shards = Math.ceil(count / o.shardSize)
      console.log(
        `grammar ${mix}, seed ${seed}: ${s.checked} formulas (shards 0-${shards - 1}, ${s.drawn - s.checked} more drawn and dropped for length), ` +
          `${s.matches.length} in held-out C, ${((performance.now() - t) / 1000).toFixed(1)} s`
      )
    })
  }
  console.log(`${checked} grammar formulas checked (${drawn} drawn) in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${matches.length} coincide with held-out C`)
  const latexOf = new Map(formulas.map((f) => [f.id, f.latex] as const))
  for (const m of matches) console.log(`  grammar ${m.mix}, seed ${m.seed}, shard ${m.shard}: ${m.latex}  ==  ${m.id}: ${latexOf.get(m.id)}`)
  if (matches.length > 0) process.exitCode = 1
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(`check-heldout-c: ${err instanceof Error ? err.message : String(err)}`)
    process.exit(1)
  })
}
