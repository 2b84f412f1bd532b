/**
 * Random formulas (mix 'v2'): symbols and structures of the vocabulary in no
 * learned order, so that the decoder reads the image rather than guessing from
 * its language prior.
 */
import type { Rng } from './rng.js'
import { singleSpaced } from './expressions.js'
import {
  ACCENTS, GREEK, GREEK_UP, LATIN, LATIN_UP, RANDOM_ARROWS, RANDOM_BINARY, RANDOM_DELIMITERS, RANDOM_FUNCS, RANDOM_MISC, RANDOM_RELATIONS,
} from './vocabulary.js'

/** Symbols and structures in no learned order, each the vocabulary's, 3 to 40 items long. */
export function randomSymbols (r: Rng): string {
  const n = r.weighted([[4, () => r.int(3, 12)], [4, () => r.int(12, 25)], [2, () => r.int(25, 40)]])()
  const out: string[] = []
  for (let i = 0; i < n; i++) out.push(randomItem(r, 2))
  return singleSpaced(out.join(' '))
}

function randomBase (r: Rng): string {
  return r.weighted<() => string>([
    [6, () => r.pick(LATIN)],
    [3, () => r.pick(LATIN_UP)],
    [3, () => r.pick([...GREEK, ...GREEK_UP, '\\vartheta', '\\Upsilon'])],
    [3, () => String(r.int(0, r.pick([9, 99, 9999])))],
    [1, () => r.pick(RANDOM_MISC)],
  ])()
}

function randomItem (r: Rng, depth: number): string {
  const inner = (): string => {
    const m = r.int(1, depth > 1 ? 5 : 3)
    return Array.from({ length: m }, () => randomItem(r, depth - 1)).join(' ')
  }
  const deep = depth > 0
  return r.weighted<() => string>([
    [12, () => randomBase(r)],
    [4, () => r.pick(RANDOM_BINARY)],
    [3, () => r.pick(RANDOM_RELATIONS)],
    [1.5, () => r.pick(RANDOM_ARROWS)],
    [1.5, () => r.pick([',', ';', ':', '.', '!', '|', '/', '*', '\\ldots', '\\cdots'])],
    [2, () => `${r.pick(RANDOM_FUNCS)} ${randomBase(r)}`],
    [deep ? 4 : 0, () => `${randomBase(r)}^{${inner()}}`],
    [deep ? 3 : 0, () => `${randomBase(r)}_{${inner()}}`],
    [deep ? 2 : 0, () => `${randomBase(r)}_{${inner()}}^{${inner()}}`],
    [1, () => `${r.pick(LATIN)}${r.pick(["'", "''", '^{\\prime}', '^{*}'])}`],
    [deep ? 2 : 0, () => `\\frac{${inner()}}{${inner()}}`],
    [deep ? 1 : 0, () => (r.chance(0.7) ? `\\sqrt{${inner()}}` : `\\sqrt[${r.pick(['3', 'n', 'k'])}]{${inner()}}`)],
    [deep ? 0.5 : 0, () => `\\binom{${inner()}}{${inner()}}`],
    [1, () => `${r.pick(ACCENTS)}{${r.pick([...LATIN, ...LATIN_UP, ...GREEK])}}`],
    [0.7, () => `${r.pick(['\\mathbb', '\\mathbf', '\\mathrm'])}{${r.pick(LATIN_UP)}}`],
    [deep ? 2.5 : 0, () => {
      const [o, c] = r.pick(RANDOM_DELIMITERS)
      return r.chance(0.3) ? `\\left${o} ${inner()} \\right${c}` : `${o} ${inner()} ${c}`
    }],
    [deep ? 1 : 0, () => `${r.pick(['\\sum', '\\prod', '\\int', '\\oint', '\\iint', '\\lim', '\\max', '\\min', '\\sup', '\\inf'])}_{${inner()}}${r.chance(0.5) ? `^{${inner()}}` : ''}`],
    [0.4, () => `${r.pick(LATIN)} \\bmod ${r.pick(LATIN)}`],
    [0.4, () => `\\pmod{${r.pick(LATIN)}}`],
  ])()
}
