/**
 * The model's token vocabulary: every canonical token the grammar emits
 * (counted over many seeded formulas) plus the known symbols, after four
 * special tokens. Written once, before training, and shipped with the model.
 */
import { writeFileSync } from 'node:fs'
import { canonicalTokens, SYMBOLS } from '../../pipeline/latex/canonical.js'
import { FormulaGenerator } from '../../formulas/grammar.js'
import { Rng } from '../../formulas/rng.js'

export const SPECIAL_TOKENS = ['<pad>', '<bos>', '<eos>', '<unk>'] as const

export function buildVocab (samples = 200_000): string[] {
  const seen = new Set<string>()
  const gen = new FormulaGenerator(new Rng(424242))
  for (let i = 0; i < samples; i++) for (const t of canonicalTokens(gen.formula())) seen.add(t)
  const chars = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+-=<>()[]|,;:.!\'*/{}^_'
  for (const c of chars) seen.add(c)
  for (const s of SYMBOLS) seen.add(s)
  for (const c of ['\\frac', '\\binom', '\\sqrt', '\\hat', '\\bar', '\\vec', '\\dot', '\\tilde', '\\mathbb', '\\mathbf', '\\mathrm', '\\pmod']) seen.add(c)
  return [...SPECIAL_TOKENS, ...[...seen].sort()]
}

const out = process.argv[2]
if (out) {
  const vocab = buildVocab()
  writeFileSync(out, JSON.stringify(vocab, null, 0) + '\n')
  console.log(`${vocab.length} tokens -> ${out}`)
}
