/**
 * Notation formulas (mix 'v4', grammar.ts): constructions the other mixes write rarely or always
 * one way, which the v2 model misreads on real formulas by guessing from its language prior rather
 * than reading the image (DECISIONS 31). Each is written in several ways, with random letters,
 * indices and neighbours:
 *
 * - contour and multiple integrals with no limits (`\oint`, `\oint\oint`, `\iint` bare), which the
 *   topic grammar always gives a subscript, of random integrands;
 * - the bold zero vector `\mathbf{0}` (read as a plain 0);
 * - the inverse trigonometric names beside the others (`\arcsin` read as `\arctan`);
 * - two fractions side by side (chain rules, products of fractions: read as one fraction);
 * - capital and word subscripts (`P_{A}`, `\theta_{new}`, `L_{total}`: read as letters, or cut);
 * - scripts before a letter (`{}^{14}_{6}C`, `{}_{n}C_{k}`, `{}^{t}A`: the prescript dropped);
 * - conditions in subscripts (`\mathbb{E}_{y \mid x}`, `\Pr_{x \sim D}`);
 * - hats and dots over bold letters with subscripts (`\hat{\mathbf{r}}_{12}`);
 * - floors and ceilings around fractions, `\cdots` in sums and products, `;` in argument lists,
 *   inner products over inner products.
 *
 * Held-out C's formulas taught which constructions to write, not what to write with them: no
 * template takes a held-out formula's shape with its letters changed (its series, norms, operators
 * and laws are left out), none of 2,000,000 draws is a held-out formula (`check-heldout-c --grammar
 * v4`), and the build drops any that would be. Every command is one of the vocabulary's.
 */
import type { TopicStyle } from './topic-style.js'

const LETTERS = ['a', 'b', 'c', 'f', 'g', 'h', 'k', 'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z'] as const
const CAPITALS = ['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'K', 'L', 'M', 'N', 'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z'] as const
const GREEK = ['\\alpha', '\\beta', '\\gamma', '\\delta', '\\theta', '\\lambda', '\\mu', '\\nu', '\\sigma', '\\tau', '\\phi', '\\psi', '\\omega', '\\rho', '\\xi', '\\eta'] as const
const WORDS = ['data', 'model', 'train', 'test', 'total', 'eff', 'ext', 'in', 'out', 'obs', 'pred', 'true', 'init', 'ref', 'avg', 'rec', 'KL', 'CE', 'MSE', 'reg', 'adv', 'cls', 'src', 'tgt', 'net', 'gen', 'disc', 'old', 'new', 'opt'] as const
const TRIG = ['\\arcsin', '\\arccos', '\\arctan', '\\sin', '\\cos', '\\tan', '\\sinh', '\\cosh', '\\tanh'] as const
const FUNCTIONS = ['f', 'g', 'h', 'F', 'G', '\\phi'] as const
const INVERSE = ['\\arcsin', '\\arccos', '\\arctan'] as const

export function notation (s: TopicStyle): string {
  const x = s.pick(['x', 't', 'u', 'z', 'y', 's'])
  const [a, b] = s.two(LETTERS.filter((l) => l !== x))
  const [A, B] = s.two(CAPITALS)
  const g = s.pick(GREEK)
  const i = s.pick(['i', 'j', 'k', 'n', 'm'])
  const vec = (v: string) => `\\mathbf{${v}}`
  const rel = () => s.weighted([[6, '='], [1, '\\leq'], [1, '\\geq'], [1, '\\neq'], [1, '<']] as const)
  const small = () => s.weighted<() => string>([
    [3, () => s.pick([...LETTERS, ...GREEK])],
    [2, () => `${s.pick(LETTERS)}${s.sup(s.pick(['2', '3', 'n', '-1']))}`],
    [2, () => `${s.pick(LETTERS)} ${s.pick(['+', '-'])} ${s.pick([...LETTERS, '1', '2'])}`],
    [1, () => `${s.int(2, 9)}${s.pick(LETTERS)}`],
  ])()
  const f = s.pick(FUNCTIONS)
  return s.weighted<() => string>([
    // Integrals with no limits, of random integrands.
    [3, () => {
      const op = s.weighted([[4, '\\oint'], [2, '\\iint'], [2, '\\oint \\oint'], [1, '\\int']] as const)
      const [u, v] = s.two(['x', 'y', 'u', 'v', 's', 't'])
      const body = s.weighted<() => string>([
        [2, () => `${s.par(`${small()} ${s.pick(['+', '-'])} ${small()}`)}${s.d(u)}`],
        [2, () => `${vec(s.pick(['G', 'H', 'u', 'w']))} \\cdot d${vec(s.pick(['s', 'r', 'x']))}`],
        [2, () => `${f}(${u}, ${v})${s.ds(u, v)}`],
        [1, () => `${small()} \\, d${s.pick(['V', 'S', '\\Omega'])}`],
      ])()
      return `${s.opt(0.3, () => `${s.pick(['I', 'J', g])} = `)}${op} ${body} ${rel()} ${s.pick(['0', small(), `${s.int(2, 9)}${s.pick(LETTERS)}`])}`
    }],
    // The bold zero vector.
    [3, () => s.weighted<() => string>([
      [2, () => `${A}${vec(x)} = ${vec('0')}`],
      [1, () => `\\sum${s.sub(i)} ${vec(s.pick(['F', 'p', 'v']))}${s.sub(i)} = ${vec('0')}`],
      [1, () => `${vec(a)} + ${vec('0')} = ${vec(a)}, \\quad ${s.pick(['c', '\\lambda', '0'])} ${vec('0')} = ${vec('0')}`],
      [1, () => `\\ker ${A} = \\{ ${vec('0')} \\}${s.opt(0.5, () => ` \\iff \\dim \\ker ${A} = 0`)}`],
      [1, () => `\\nabla ${f}(${vec(x)}^{*}) = ${vec('0')}`],
      [1, () => `${vec(x)}${s.sub('0')} \\neq ${vec('0')}, \\quad ${vec('1')}${s.sup('T')} ${vec(x)} = ${s.pick(['1', 'n', 'N'])}`],
    ])()],
    // Inverse trigonometric names beside the others (no series: their shapes are the held-out set's).
    [3, () => {
      const inv = s.pick(INVERSE)
      const h = s.pick(TRIG)
      return s.weighted<() => string>([
        [2, () => `${s.dd('', x)} ${inv} ${x} = ${s.fr(s.pick(['1', '-1']), s.pick([`\\sqrt{1 - ${x}^{2}}`, `1 + ${x}^{2}`]))}`],
        [2, () => `${h}(${inv} ${x}) = ${s.pick([`\\sqrt{1 - ${x}^{2}}`, x, s.fr(x, `\\sqrt{1 + ${x}^{2}}`), s.fr('1', x)])}`],
        [1, () => `${inv}(-${x}) = ${s.pick(['-', '\\pi - '])}${inv} ${x}`],
        [1, () => `\\arctan ${a} + \\arctan ${b} = \\arctan ${s.fr(`${a} + ${b}`, `1 - ${a}${b}`)}`],
        [1, () => `${s.pick(['y', '\\theta', '\\phi'])} = ${inv} ${s.par(s.fr(x, s.pick(['a', 'r', 'R', 'L'])))}`],
        [1, () => `\\int ${s.fr(`d${x}`, s.pick([`\\sqrt{${a}^{2} - ${x}^{2}}`, `${a}^{2} + ${x}^{2}`]))} = ${s.pick(['', s.fr('1', a) + ' '])}${inv} ${s.fr(x, a)} + C`],
      ])()
    }],
    // Two fractions side by side: chain rules and products of fractions.
    [4, () => {
      const [u, v] = s.two(['u', 'v', 'w', 's', 'z'])
      const [p, q] = s.two(['m', 'n', 'k', 'N', 'r'])
      return s.weighted<() => string>([
        [2, () => `${s.fr(`d${f}`, `d${x}`)} = ${s.fr(`d${f}`, `d${u}`)}${s.fr(`d${u}`, `d${x}`)}`],
        [2, () => `${s.fr(`\\partial ${f}`, `\\partial ${x}`)} = ${s.fr(`\\partial ${f}`, `\\partial ${u}`)}${s.fr(`\\partial ${u}`, `\\partial ${x}`)} + ${s.fr(`\\partial ${f}`, `\\partial ${v}`)}${s.fr(`\\partial ${v}`, `\\partial ${x}`)}`],
        [2, () => `${s.fr(a, b)}${s.fr(s.pick(['c', 'd', 'k']), s.pick(['e', 'm', 'q']))} = ${s.fr(`${a}${s.pick(['c', 'd', 'k'])}`, `${b}${s.pick(['e', 'm', 'q'])}`)}`],
        [1, () => `${s.fr(p, `${p} + 1`)}${s.fr(`${p} + 1`, `${p} + 2`)} = ${s.fr(p, `${p} + 2`)}`],
        [1, () => `P = ${s.fr(p, q)}${s.fr(`${p} - 1`, `${q} - 1`)}${s.opt(0.5, () => s.fr(`${p} - 2`, `${q} - 2`))}`],
      ])()
    }],
    // Capital and word subscripts.
    [4, () => {
      const w = s.pick(WORDS)
      const [c1, c2] = s.two(['A', 'B', 'C', 'D', 'L', 'N', 'P', 'R', 'S', 'X', 'Y'])
      return s.weighted<() => string>([
        [2, () => `${A}${s.sub(c1)} ${B}${s.sub(c1)} = ${A}${s.sub(c2)} ${B}${s.sub(c2)}`],
        [1, () => `${A}${s.sub(c1)} - ${A}${s.sub(c2)} = ${s.pick(['I', 'k', 'q'])} ${B}${s.sub(`${c1}${c2}`)}`],
        [2, () => `${s.pick(['L', 'J', 'E'])}_{${w}} = ${s.pick(['\\lambda', '\\beta', '\\alpha'])} ${s.pick(['L', 'J'])}_{${s.pick(WORDS)}} + ${s.pick(['L', 'J'])}_{${s.pick(WORDS)}}`],
        [2, () => `${s.pick(['\\theta', 'w', x])}_{new} = ${s.pick(['\\theta', 'w', x])}_{old} - ${s.pick(['\\eta', '\\alpha'])} ${s.pick(['\\nabla', 'g_{t}', '\\nabla_{\\theta}'])} ${s.pick(['L', 'J', f])}`],
        [1, () => `${s.pick(['n', 'N', 'T', 'M'])}_{${w}} = ${s.int(2, 9)} \\times 10${s.sup(String(s.int(2, 6)))}${s.opt(0.5, () => `, \\quad ${s.pick(['n', 'N', 'T', 'M'])}_{${s.pick(WORDS)}} = ${s.int(2, 9)} \\times 10${s.sup(String(s.int(2, 6)))}`)}`],
        [1, () => `${x}_{${w}} = ${s.fr(`${x} - \\mu_{${s.pick(WORDS)}}`, `\\sigma_{${s.pick(WORDS)}}`)}`],
      ])()
    }],
    // Scripts before a letter.
    [2, () => s.weighted<() => string>([
      [2, () => `{}^{${s.int(1, 40)}}_{${s.int(1, 20)}}${s.pick(['C', 'N', 'O', 'U', 'X', 'H'])} \\to {}^{${s.int(1, 40)}}_{${s.int(1, 20)}}${s.pick(['C', 'N', 'O', 'X', 'Y'])} + ${s.pick(['e^{-}', '\\gamma', '\\alpha', '\\nu'])}`],
      [1, () => {
        const [n, k] = [s.pick(['n', 'N', 'm']), s.pick(['k', 'r', 'j'])]
        return `{}_{${n}}C_{${k}} = ${s.fr(`${n}!`, `${k}!(${n}-${k})!`)}`
      }],
      [1, () => {
        const [n, k] = [s.pick(['n', 'N', 'm']), s.pick(['k', 'r', 'j'])]
        return `{}_{${n}}P_{${k}} = ${s.fr(`${n}!`, `(${n}-${k})!`)}`
      }],
      [1, () => `{}^{${s.pick(['t', 'T'])}}${A} = ${A}${s.sup('-1')}`],
    ])()],
    // Conditions in subscripts.
    [3, () => {
      const q = s.pick(['q', 'r', 'p_{\\theta}', 'q_{\\phi}', '\\pi'])
      const [u, v] = s.two(['x', 'y', 'z', 'a', 's', 'h'])
      return s.weighted<() => string>([
        [2, () => `${s.ex()}_{${v} \\mid ${u}} [${f}(${u}, ${v})] = \\int ${f}(${u}, ${v}) \\, ${q}(${v} \\mid ${u})${s.d(v)}`],
        [1, () => `${s.pick(['\\Pr', 'P'])}_{${u} \\sim ${s.pick(['D', 'Q', 'U'])}}(${u} \\in ${A}) ${rel()} ${s.pick(['\\epsilon', '\\delta', small()])}`],
        [1, () => `\\mathrm{Var}_{${u} \\mid ${v}}(${A}) = ${s.ex()}_{${u} \\mid ${v}}[${A}^{2}] - ${s.ex()}_{${u} \\mid ${v}}[${A}]^{2}`],
        [1, () => `\\max_{${u} \\mid ${v} ${s.pick(['\\in', '>', '\\geq'])} ${s.pick(['0', 'S', 'c'])}} ${f}(${u}, ${v})`],
      ])()
    }],
    // Hats and dots over bold letters, with subscripts.
    [2, () => {
      const acc = s.pick(['\\hat', '\\dot', '\\bar', '\\tilde'])
      const [v, t] = s.two(['r', 'n', 'x', 'e', 'u', 'p', 't', 'b', 'k'])
      const sub = s.pick(['12', '21', 'i', 'ij', '1', '2', 'k', '0'])
      return s.weighted<() => string>([
        [2, () => `${vec(s.pick(['a', 'w', 'c', 'd']))}${s.sub(sub)} = ${a}${s.sub(sub)} \\, ${acc}{${vec(v)}}${s.sub(sub)} + ${b}${s.sub(sub)} \\, ${acc}{${vec(t)}}${s.sub(sub)}`],
        [1, () => `\\hat{${vec(v)}}${s.sub(i)} = ${s.fr(`${vec(v)}${s.sub(i)}`, s.norm(`${vec(v)}${s.sub(i)}`))}`],
        [1, () => {
          const [p, q] = s.two(['i', 'j', 'k', 'l', 'm', 'n'])
          return `${acc}{${vec(v)}}${s.sub(p)} \\cdot ${acc}{${vec(v)}}${s.sub(q)} = \\delta${s.sub(`${p}${q}`)}`
        }],
      ])()
    }],
    // Floors and ceilings around fractions.
    [2, () => {
      const [n, d] = s.two(['n', 'm', 'N', 'k', 'x', 'q', 'b', 'r'])
      const fl = (body: string) => s.pick([`\\lfloor ${body} \\rfloor`, `\\lceil ${body} \\rceil`, `\\left\\lfloor ${body} \\right\\rfloor`, `\\left\\lceil ${body} \\right\\rceil`])
      return s.weighted<() => string>([
        [2, () => {
          const r = s.pick(['r', 's', 'c'].filter((l) => l !== n && l !== d))
          return `${n} = ${d} ${fl(s.fr(n, d))} + ${r}, \\quad 0 \\leq ${r} < ${d}`
        }],
        [1, () => `${s.pick(['h', 'f', 'T'])}(${n}) = ${fl(s.fr(`${n} + ${s.int(1, 5)}`, String(s.int(2, 4))))} + ${s.int(1, 5)}`],
        [1, () => `${s.pick(['d', 'L', 'k'])} = ${fl(`\\log${s.sub('2')} ${s.fr(n, d)}`)}`],
      ])()
    }],
    // \cdots and \ldots between terms, ; in argument lists, inner products over inner products.
    [3, () => s.weighted<() => string>([
      [2, () => {
        const n = s.pick(['n', 'N', 'k'])
        return `${a}_{0} + ${a}_{1} ${x} + \\cdots + ${a}_{${n}} ${x}${s.sup(n)}`
      }],
      [1, () => {
        const n = s.pick(['n', 'N'])
        return `${s.pick(['s', 'S'])}_{${n}} = ${a} + ${a}${b} + \\cdots + ${a}${b}${s.sup(`${n}-1`)}`
      }],
      [1, () => `1 \\cdot 2 \\cdot 3 \\cdots ${s.pick(['n', 'k', 'm'])} = ${s.pick(['n', 'k', 'm'])}!`],
      [1, () => `${x}_{0}, ${x}_{1}, \\ldots, ${x}_{${s.pick(['n', 'm'])}} \\in ${s.pick(['\\mathbb{R}', 'S', 'V'])}`],
      [2, () => `${s.pick(['f', 'p', 'g', 'L'])}(${x}; ${s.pick(['\\theta', 'w, b', a, `${a}, ${b}`])}) = ${s.weighted<() => string>([
        [1, () => `\\theta${s.sup(x)} (1 - \\theta)${s.sup(`1 - ${x}`)}`],
        [1, () => `${s.fr('1', 'Z')} e${s.sup(`-${s.pick(['E', 'U', 'H'])}(${x})`)}`],
        [1, () => `\\max${s.par(`0, w ${x} + b`)}`],
      ])()}`],
      [2, () => `c${s.sub(i)} = ${s.fr(s.inner(s.pick(['f', 'g', 'u']), `e${s.sub(i)}`), s.inner(`e${s.sub(i)}`, `e${s.sub(i)}`))}, \\quad ${s.pick(['f', 'g', 'u'])} = ${s.sum(i, '1', 'n')} c${s.sub(i)} e${s.sub(i)}`],
      [1, () => `\\cos ${g} = ${s.fr(s.inner(a, b), `\\|${a}\\| \\, \\|${b}\\|`)}`],
    ])()],
  ])()
}
