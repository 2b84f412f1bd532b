/**
 * How likely the model finds a given LaTeX on an encoded image: one teacher-forced pass of the
 * decoder (each step fed the given token rather than a searched one), cheaper than a beam search.
 * Formula memory uses it to check a remembered answer on a new image before reusing it.
 */
import { canonicalTokens, LatexSyntaxError } from './latex/canonical.js'
import type { Encoded, Recognizer } from './recognizer.js'

export interface ForcedScore {
  /** The sequence's log-probability, end token included. */
  logprob: number
  /** The least likely token's log-probability (the end token included). */
  worst: number
  /** Tokens scored, the end token included. */
  length: number
}

/** The LaTeX's canonical tokens as vocabulary ids, or undefined when it does not parse or holds a token the model does not know. */
export function tokenIds (recognizer: Recognizer, latex: string): number[] | undefined {
  let tokens: string[]
  try {
    tokens = canonicalTokens(latex)
  } catch (err) {
    if (err instanceof LatexSyntaxError) return undefined
    throw err
  }
  const index = new Map(recognizer.vocab.map((t, i) => [t, i]))
  const ids = tokens.map(t => index.get(t))
  if (ids.length === 0 || ids.some(i => i == null) || ids.length + 1 > recognizer.manifest.maxLength - 1) return undefined
  return ids as number[]
}

/** The model's score of `ids` (then the end token) on an encoded image. */
export async function forcedScore (recognizer: Recognizer, image: Encoded, ids: readonly number[]): Promise<ForcedScore> {
  const { bos, eos } = recognizer.manifest.specialTokens
  const cache = recognizer.emptyCache(1, ids.length + 2)
  const targets = [...ids, eos]
  let fed = bos
  let logprob = 0
  let worst = 0
  for (const next of targets) {
    const [lp] = await recognizer.step(image, [fed], cache)
    const p = lp![next]!
    logprob += p
    worst = Math.min(worst, p)
    fed = next
  }
  return { logprob, worst, length: targets.length }
}
