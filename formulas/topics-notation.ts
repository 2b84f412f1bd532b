/**
 * Notation formulas (mix 'v4', grammar.ts): the constructions the topic grammar writes rarely or
 * always one way, which the v2 model misreads on real formulas by guessing from its language prior
 * rather than reading the image (DECISIONS 31). Each is written here in several ways, with random
 * letters, indices and neighbours:
 *
 * - contour and multiple integrals with no limits (`\oint`, `\oint\oint`, `\iint` bare), which the
 *   topic grammar always gives a subscript;
 * - the bold zero vector `\mathbf{0}` (read as a plain 0);
 * - the inverse trigonometric and hyperbolic names side by side (`\arcsin` read as `\arctan`);
 * - two fractions side by side, an operator on a fraction (`\frac{a}{2m}\frac{d^2 u}{dx^2}`, read
 *   as one fraction);
 * - capital and word subscripts (`T_{C}`, `p_{data}`, `L_{total}`: read as `Tc`, `p_{dat}`);
 * - scripts before a letter (`{}_{2}F_{1}`, `{}^{14}_{6}C`, `{}_{n}C_{k}`);
 * - conditions in subscripts (`\mathbb{E}_{q(z \mid x)}`, `\mathbb{E}_{x \sim p}`);
 * - hats and dots over bold letters with subscripts (`\hat{\mathbf{r}}_{12}`);
 * - floors and ceilings around fractions, `\cdots` between products and sums, `;` in argument
 *   lists, inner products over inner products.
 *
 * Every command is one of the vocabulary's; none of these is a held-out C formula (the build
 * drops any that would be, and `check-heldout-c --grammar v4` counts them).
 */
import type { TopicStyle } from './topic-style.js'

const LETTERS = ['a', 'b', 'c', 'f', 'g', 'h', 'k', 'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z'] as const
const CAPITALS = ['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'K', 'L', 'M', 'N', 'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z'] as const
const GREEK = ['\\alpha', '\\beta', '\\gamma', '\\delta', '\\theta', '\\lambda', '\\mu', '\\nu', '\\sigma', '\\tau', '\\phi', '\\psi', '\\omega', '\\rho', '\\xi', '\\eta'] as const
const WORDS = ['data', 'model', 'train', 'test', 'total', 'eff', 'ext', 'in', 'out', 'obs', 'pred', 'true', 'init', 'ref', 'avg', 'rec', 'KL', 'CE', 'MSE', 'reg', 'adv', 'cls', 'src', 'tgt', 'net', 'gen', 'disc', 'old', 'new', 'opt'] as const
const TRIG = ['\\arcsin', '\\arccos', '\\arctan', '\\sin', '\\cos', '\\tan', '\\sinh', '\\cosh', '\\tanh'] as const
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
  return s.weighted<() => string>([
    // Integrals with no limits.
    [3, () => {
      const op = s.weighted([[4, '\\oint'], [2, '\\iint'], [2, '\\oint \\oint'], [1, '\\int \\int'], [1, '\\int']] as const)
      const body = s.weighted<() => string>([
        [2, () => s.fr(`${s.pick(LETTERS)}(${x})`, `${x} - ${s.pick(['a', 'b', 'z_0', 'c'])}`)],
        [2, () => `${vec(s.pick(['E', 'B', 'F', 'A', 'v']))} \\cdot d${vec(s.pick(['l', 's', 'r', 'A']))}`],
        [2, () => `${s.call(s.pick(['f', 'g', 'h', 'F']), x)}${s.d(x)}`],
        [1, () => s.fr(`${vec(s.pick(['u', 'w', 'G']))} \\cdot d${vec(s.pick(['s', 'a']))}`, s.abs(`${vec('x')} - ${vec('y')}`))],
        [1, () => `${small()} \\, d${A}`],
      ])()
      const rhs = s.weighted<() => string>([[2, () => '0'], [2, () => small()], [1, () => `${s.int(2, 4)}\\pi ${s.pick(['i', 'I', 'Q', 'n'])}`]])()
      return `${s.opt(0.4, () => `${s.pick([A, g, `${A}_{${s.pick(WORDS)}}`])} = `)}${op} ${body} ${rel()} ${rhs}`
    }],
    // The bold zero vector.
    [3, () => s.weighted<() => string>([
      [2, () => `${A}${vec(x)} = ${vec('0')}`],
      [2, () => `${s.pick(['\\min', '\\max', '\\sup', '\\inf'])}${s.sub(`${vec(x)} \\neq ${vec('0')}`)} ${s.fr(s.norm(`${A}${vec(x)}`), s.norm(vec(x)))}`],
      [1, () => `\\sum${s.sub(i)} ${vec('F')}${s.sub(i)} = ${vec('0')}`],
      [1, () => `${vec(a)} + ${vec('0')} = ${vec(a)}, \\quad ${vec(a)} + (-${vec(a)}) = ${vec('0')}`],
      [1, () => `\\ker ${A} = \\{ ${vec('0')} \\}`],
      [1, () => `${vec(x)}${s.sub('0')} \\neq ${vec('0')}, \\quad ${vec('1')}${s.sup('T')} ${vec(x)} = 1`],
    ])()],
    // Inverse trigonometric and hyperbolic names.
    [3, () => {
      const f = s.pick(INVERSE)
      const h = s.pick(TRIG)
      return s.weighted<() => string>([
        [2, () => `${f} ${x} = ${s.sum('k', '0', '\\infty')} ${s.fr(s.pick(['(-1)^{k}', '1', 'c_{k}']), s.pick(['2k+1', 'k^{2}', '(2k+1)!']))} ${x}${s.sup(s.pick(['2k+1', 'k', '2k']))}`],
        [2, () => `${s.dd('', x)} ${f} ${x} = ${s.fr(s.pick(['1', '-1']), s.pick([`\\sqrt{1 - ${x}^{2}}`, `1 + ${x}^{2}`, `\\sqrt{1 + ${x}^{2}}`]))}`],
        [2, () => `${h}(${f} ${x}) = ${s.pick([`\\sqrt{1 - ${x}^{2}}`, x, s.fr(x, `\\sqrt{1 + ${x}^{2}}`)])}`],
        [1, () => `${f} ${a} + ${s.pick(INVERSE)} ${b} = ${s.pick(['\\frac{\\pi}{2}', '\\pi', '0', s.fr('\\pi', '4')])}`],
        [1, () => `\\int ${s.fr('d' + x, s.pick([`\\sqrt{1 - ${x}^{2}}`, `1 + ${x}^{2}`, `${a}^{2} + ${x}^{2}`]))} = ${f} ${s.pick([x, s.fr(x, a)])} + C`],
      ])()
    }],
    // Two fractions side by side: an operator on a fraction.
    [4, () => {
      const u = s.pick(['u', '\\psi', '\\phi', 'y', 'R', 'f', 'T'])
      const r = s.pick(['x', 'r', 't', 'z'])
      const coef = s.weighted<() => string>([
        [2, () => s.fr(`${s.pick(['k', 'c', 'D', 'a', '\\kappa'])}${s.sup(s.pick(['2', 'n']))}`, `${s.int(2, 6)}${s.pick(['\\mu', 'M', 'L', '\\rho'])}`)],
        [2, () => s.fr('1', `${r}${s.sup(s.pick(['2', 'n', '3']))}`)],
        [1, () => s.fr(a, b)],
      ])()
      const op = s.weighted<() => string>([
        [2, () => s.fr(`d${s.sup('2')} ${u}`, `d${r}${s.sup('2')}`)],
        [2, () => s.fr(`\\partial${s.sup('2')} ${u}`, `\\partial ${r}${s.sup('2')}`)],
        [1, () => s.fr(`d ${u}`, `d${r}`)],
        [1, () => `${s.fr('d', `d${r}`)} ${s.par(`${r}${s.sup('2')} ${s.fr(`d${u}`, `d${r}`)}`)}`],
      ])()
      const rest = s.weighted<() => string>([
        [2, () => ` ${s.pick(['+', '-'])} ${s.pick(['q', 'W', 'k', 'g'])}(${r}) ${s.fr(`d${u}`, `d${r}`)} = 0`],
        [1, () => ` = ${s.pick(['0', `${g} ${u}`, `-${u}`])}`],
        [1, () => ` + ${s.fr(a, r)} ${u} = 0`],
      ])()
      return `${s.pick(['-', '', ''])}${coef}${op}${rest}`
    }],
    // Capital and word subscripts.
    [4, () => {
      const w = s.pick(WORDS)
      const [c1, c2] = s.two(['C', 'H', 'L', 'A', 'B', 'N', 'P', 'S', 'D', 'R', 'F', 'G', 'X', 'Y'])
      return s.weighted<() => string>([
        [2, () => `${A}_{${c1}} ${rel()} ${s.fr(`${B}_{${c1}}`, `${B}_{${c2}}`)} ${A}_{${c2}}`],
        [2, () => `${s.pick(['L', 'J', 'E'])}_{${w}} = ${s.pick(['\\lambda', '\\beta', '\\alpha'])} ${s.pick(['L', 'J'])}_{${s.pick(WORDS)}} + ${s.pick(['L', 'J'])}_{${s.pick(WORDS)}}`],
        [2, () => `${s.pick(['p', 'q'])}_{${w}}(${x}) ${rel()} ${s.fr('1', 'Z')} e${s.sup(`-E_{${s.pick(WORDS)}}(${x})`)}`],
        [2, () => `${s.ex()}_{${x} \\sim ${s.pick(['p', 'q'])}_{${w}}} [${s.pick(['f', 'g', '\\ell'])}(${x})^{2}] ${rel()} ${s.pick(['C', '\\epsilon', '1'])}`],
        [1, () => `${B}_{${c1}} ${rel()} ${s.fr(`${A}_{${c2}}`, `${A}_{${c1}} + ${A}_{${c2}}`)}`],
        [1, () => `${x}_{${w}} = ${s.fr(`${x} - \\mu_{${s.pick(WORDS)}}`, `\\sigma_{${s.pick(WORDS)}}`)}`],
      ])()
    }],
    // Scripts before a letter.
    [2, () => s.weighted<() => string>([
      [1, () => {
        const [p, q] = s.two(['a', 'b', 'p', 'q', '\\alpha', '\\beta'])
        return `{}_{2}F_{1}(${p}, ${q}; c; 1) = ${s.fr(`\\Gamma(c) \\Gamma(c - ${p} - ${q})`, `\\Gamma(c - ${p}) \\Gamma(c - ${q})`)}`
      }],
      [1, () => `{}_{${s.int(0, 1)}}F_{1}(${s.pick([`${a};`, ';'])} ${b}; ${x}) = ${s.sumTo('k')} ${s.fr(`${x}${s.sup('k')}`, `(${b})_{k} \\, k!`)}`],
      [2, () => `{}^{${s.int(1, 40)}}_{${s.int(1, 20)}}${s.pick(['C', 'N', 'O', 'U', 'X', 'H'])} \\to {}^{${s.int(1, 40)}}_{${s.int(1, 20)}}${s.pick(['C', 'N', 'O', 'X', 'Y'])} + ${s.pick(['e^{-}', '\\gamma', '\\alpha', '\\nu'])}`],
      [1, () => {
        const [n, k] = [s.pick(['n', 'N', 'm']), s.pick(['k', 'r', 'j'])]
        return `{}_{${n}}C_{${k}} = ${s.fr(`${n}!`, `${k}!(${n}-${k})!`)}`
      }],
      [1, () => {
        const [n, k] = [s.pick(['n', 'N', 'm']), s.pick(['k', 'r', 'j'])]
        return `{}_{${n}}P_{${k}} = ${s.fr(`${n}!`, `(${n}-${k})!`)}`
      }],
    ])()],
    // Conditions in subscripts.
    [3, () => {
      const [p, q] = s.two(['p', 'q', 'r', '\\pi', 'p_{\\theta}', 'q_{\\phi}'])
      const [u, v] = s.two(['x', 'y', 'z', 'a', 's', 'h'])
      return s.weighted<() => string>([
        [2, () => {
          const f = s.pick(['f', 'g', 'h'])
          return `${s.ex()}_{${v} \\mid ${u}} [${f}(${u}, ${v})] = \\int ${f}(${u}, ${v}) \\, ${q}(${v} \\mid ${u})${s.d(v)}`
        }],
        [2, () => `${s.ex()}_{${u} \\sim ${p}} [${s.pick(['f', 'g', 'L', '\\ell'])}(${u})] ${rel()} ${s.fr('1', 'N')} ${s.sum(i, '1', 'N')} ${s.pick(['f', 'g', 'L', '\\ell'])}(${u}_{${i}})`],
        [1, () => `${s.pick(['\\Pr', 'P'])}_{${u} \\sim ${s.pick(['D', 'p', 'Q'])}}(${u} \\in ${A}) ${rel()} ${s.pick(['\\epsilon', '\\delta', small()])}`],
        [1, () => `\\mathrm{Var}_{${u} \\mid ${v}}(${A}) = ${s.ex()}_{${u} \\mid ${v}}[${A}^{2}] - ${s.ex()}_{${u} \\mid ${v}}[${A}]^{2}`],
      ])()
    }],
    // Hats and dots over bold letters, with subscripts.
    [2, () => {
      const acc = s.pick(['\\hat', '\\dot', '\\bar', '\\tilde'])
      const v = s.pick(['r', 'n', 'x', 'e', 'u', 'p', 'v'])
      const sub = s.pick(['12', '21', 'i', 'ij', '1', '2', 'k', '0'])
      return s.weighted<() => string>([
        [2, () => `${vec(s.pick(['a', 'w', 'u', 'v']))}${s.sub(sub)} = ${a}${s.sub(sub)} \\, ${acc}{${vec(v)}}${s.sub(sub)} + ${b}${s.sub(sub)} \\, ${acc}{${vec(s.pick(['t', 'n', 'b', 'k']))}}${s.sub(sub)}`],
        [1, () => `${acc}{${vec(v)}}${s.sub(i)} = ${s.fr(`${vec(v)}${s.sub(i)}`, s.norm(`${vec(v)}${s.sub(i)}`))}`],
        [1, () => {
          const [p, q] = s.two(['i', 'j', 'k', 'l', 'm', 'n'])
          return `${acc}{${vec(v)}}${s.sub(p)} \\cdot ${acc}{${vec(v)}}${s.sub(q)} = \\delta${s.sub(`${p}${q}`)}`
        }],
      ])()
    }],
    // Floors and ceilings around fractions.
    [2, () => {
      const [n, d] = s.two(['n', 'm', 'N', 'k', 'x', 'q', 'b', '2^{j}', 'r'])
      const fl = (body: string) => s.pick([`\\lfloor ${body} \\rfloor`, `\\lceil ${body} \\rceil`, `\\left\\lfloor ${body} \\right\\rfloor`])
      return s.weighted<() => string>([
        [2, () => `${s.sumTo(i)} ${fl(s.fr(n, d))} ${rel()} ${small()}`],
        [1, () => `${fl(s.fr(n, d))} + ${fl(s.fr(`${n} + ${s.int(1, 3)}`, d))} = ${n}`],
        [1, () => `${s.pick(['h', 'f', 'T'])}(${n}) = ${fl(s.fr(`${n} + ${d}`, '2'))} + ${s.int(1, 5)}`],
      ])()
    }],
    // \cdots and \ldots between terms, ; in argument lists, inner products over inner products.
    [3, () => s.weighted<() => string>([
      [2, () => {
        const op = s.pick([' + ', ' \\cdot ', ' ', ' - '])
        return `${a}_{1}${op}${a}_{2}${op}\\cdots${op}${a}_{${s.pick(['n', 'N', 'k'])}}${s.opt(0.4, () => ` ${rel()} ${s.pick(['0', small(), `${a}_{1}${a}_{2}`])}`)}`
      }],
      [1, () => `${x}_{1}, ${x}_{2}, \\ldots, ${x}_{${s.pick(['n', 'm'])}} \\in ${s.pick(['\\mathbb{R}', 'S', 'V'])}`],
      [2, () => `${s.pick(['f', 'p', 'g', 'L'])}(${x}; ${s.pick(['\\theta', 'w, b', a, `${a}, ${b}`])}) = ${s.weighted<() => string>([
        [1, () => `\\theta${s.sup(x)} (1 - \\theta)${s.sup(`1 - ${x}`)}`],
        [1, () => `${s.fr('1', 'Z')} e${s.sup(`-${s.pick(['E', 'U', 'H'])}(${x})`)}`],
        [1, () => `${s.fr('1', `1 + e${s.sup(`-(w ${x} + b)`)}`)}`],
      ])()}`],
      [2, () => `c${s.sub(i)} = ${s.fr(s.inner(s.pick(['f', 'g', 'u']), `e${s.sub(i)}`), s.inner(`e${s.sub(i)}`, `e${s.sub(i)}`))}, \\quad ${s.pick(['f', 'g', 'u'])} = ${s.sum(i, '1', 'n')} c${s.sub(i)} e${s.sub(i)}`],
      [1, () => `\\cos ${g} = ${s.fr(s.inner(a, b), `\\|${a}\\| \\, \\|${b}\\|`)}`],
    ])()],
  ])()
}
