/**
 * Topic formulas, the family that mix 'v3' adds (grammar.ts): formulas of the
 * kinds printed in textbooks and papers of eleven topics (calculus, series,
 * probability, linear algebra without matrices, mechanics, electromagnetism,
 * quantum mechanics, thermodynamics, chemistry, number theory, machine
 * learning), rich in the notation the other productions rarely write:
 * \langle \rangle and bra-kets, \iint with dA or dx\,dy, \dim \ker \Pr \sup
 * and the other named functions, inline fractions a/b, square brackets
 * (E[X], [A, B], [a, b], [H^+]), fractions in big parentheses, sums beside Σ.
 *
 * Every template draws its letters, indices, limits and optional pieces, so
 * none copies a formula; none is a held-out C formula (datasets/heldout-c),
 * and templates are shaped to stay clear of them. Their writing style is in
 * topic-style.ts; the templates, by topic, in topics-analysis.ts,
 * topics-algebra.ts, topics-stats.ts, topics-physics.ts and topics-thermo.ts.
 */
import { singleSpaced } from './expressions.js'
import { TopicStyle } from './topic-style.js'
import { calculus, series } from './topics-analysis.js'
import { linearAlgebra, numberTheory } from './topics-algebra.js'
import { machineLearning, probability } from './topics-stats.js'
import { electromagnetism, mechanics, quantum } from './topics-physics.js'
import { chemistry, thermodynamics } from './topics-thermo.js'
import { notation } from './topics-notation.js'

export const TOPICS = {
  calculus,
  series,
  probability,
  'linear-algebra': linearAlgebra,
  mechanics,
  electromagnetism,
  quantum,
  thermodynamics,
  chemistry,
  'number-theory': numberTheory,
  'machine-learning': machineLearning,
} as const
export type Topic = keyof typeof TOPICS

/** Each topic's weight: calculus, probability and machine learning a little more than the rest. */
const WEIGHTS: readonly (readonly [number, Topic])[] = [
  [1.3, 'calculus'], [1, 'series'], [1.2, 'probability'], [1, 'linear-algebra'], [1, 'mechanics'], [1, 'electromagnetism'],
  [1, 'quantum'], [1, 'thermodynamics'], [1, 'chemistry'], [1, 'number-theory'], [1.2, 'machine-learning'],
]

export class TopicWriter extends TopicStyle {
  /** A topic formula: of the topic given, or of one drawn by weight. */
  topicFormula (topic?: Topic): string {
    const t = topic ?? this.weighted(WEIGHTS)
    return singleSpaced(TOPICS[t](this))
  }

  /** A notation formula (mix 'v4', topics-notation.ts). */
  notationFormula (): string {
    return singleSpaced(notation(this))
  }
}
