/**
 * Topic formulas (mix 'v3') of linear algebra (vectors, inner products,
 * norms, kernels and dimensions, determinants and eigenvalues; no matrices)
 * and of number theory (congruences, gcd, Euler's function, floors, Legendre
 * symbols in big parentheses, divisor sums, primes). Templates with random
 * letters, moduli and optional pieces.
 */
import type { TopicStyle } from './topic-style.js'

export function linearAlgebra (s: TopicStyle): string {
  const V = s.vecStyle()
  const [u, v] = s.two(['u', 'v', 'w', 'x', 'y', 'a', 'b', 'z'] as const)
  const [U, W] = [V(u), V(v)]
  const [A, B] = s.two(['A', 'B', 'M', 'T', 'L', 'P', 'Q', 'S'] as const)
  const i = s.pick(['i', 'j', 'k'])
  const n = s.pick(['n', 'm', 'N', 'd'])
  const lam = s.pick(['\\lambda', '\\mu', '\\sigma'])
  return s.weighted<() => string>([
    // Inner products.
    [3, () => s.weighted<() => string>([
      [2, () => `${s.inner(U, W)} = \\sum${s.sub(`${i}=1`)}${s.sup(n)} ${u}${s.sub(i)} ${v}${s.sub(i)}${s.opt(0.3, () => ` = ${u}_1 ${v}_1 + \\cdots + ${u}_${n} ${v}_${n}`)}`],
      [2, () => {
        const [v0, v1] = [s.pick(['\\alpha', 'a', 'c']), s.pick(['\\beta', 'b', 'd'])]
        return `${s.inner(`${v0} ${U} + ${v1} ${W}`, V('z'))} = ${v0} ${s.inner(U, V('z'))} + ${v1} ${s.inner(W, V('z'))}`
      }],
      [2, () => s.chance(0.5)
        ? `${s.abs(s.inner(U, W))}${s.sup('2')} \\leq ${s.inner(U, U)} \\, ${s.inner(W, W)}`
        : `${s.abs(s.inner(U, W))} \\leq ${s.norm(U)} \\, ${s.norm(W)}, \\quad ${s.inner(U, W)} = ${s.norm(U)} ${s.norm(W)} \\cos \\theta`],
      [2, () => `${s.inner(U, `${A} ${W}`)} = ${s.inner(`${A}${s.sup(s.pick(['T', '*']))} ${U}`, W)}`],
      [1, () => `${s.inner('f', 'g')} = \\int${s.sub(s.pick(['a', '0', '-1']))}${s.sup(s.pick(['b', '1', '2\\pi']))} ${s.call('f', 'x')} ${s.call('g', 'x')}${s.opt(0.4, () => ` ${s.call('w', 'x')}`)}${s.d('x')}`],
      [1, () => {
        const j = i === 'j' ? 'l' : s.pick(['j', 'l'])
        return `${s.inner(`${V('e')}_${i}`, `${V('e')}_${j}`)} = \\delta${s.sub(`${i}${j}`)}`
      }],
      [1, () => `${V('x')} = \\sum${s.sub(i)} ${s.inner(V('x'), `${V('e')}_${i}`)} \\, ${V('e')}_${i}`],
    ])()],
    // Norms.
    [2.5, () => s.weighted<() => string>([
      [2, () => {
        const p = s.pick(['p', 'q', 'r'])
        const [y, Y] = u === 'x' ? ['w', V('w')] : [u, U]
        return `${s.norm(Y, p)} = ${s.par(`\\sum${s.sub(`${i}=1`)}${s.sup(n)} |${y}${s.sub(i)}|${s.sup(p)}`)}${s.sup(`1/${p}`)}`
      }],
      [1, () => `${s.norm(U, '2')} = \\sqrt{${s.inner(U, U)}}`],
      [1, () => `${s.norm(U, '\\infty')} = \\max${s.sub(i)} |${u}${s.sub(i)}|`],
      [2, () => `${s.norm(`${U} + ${W}`)}${s.sup('2')} = ${s.norm(U)}${s.sup('2')} + 2 ${s.inner(U, W)} + ${s.norm(W)}${s.sup('2')}`],
      [1, () => `${s.norm(`${A} ${U}`)} \\leq ${s.norm(A)} \\, ${s.norm(U)}`],
      [1, () => `${s.norm(A)} = \\sup${s.sub(`${s.norm(U)} = 1`)} ${s.norm(`${A} ${U}`)}`],
      [1, () => `${s.norm(`${U} - ${W}`)} \\leq ${s.norm(`${U} - ${V('z')}`)} + ${s.norm(`${V('z')} - ${W}`)}`],
    ])()],
    // Projections and orthogonalisation.
    [1.5, () => s.weighted<() => string>([
      [2, () => `\\mathrm{proj}${s.sub(W)} ${U} = ${s.fr(s.inner(U, W), s.pick([s.inner(W, W), `${s.norm(W)}^2`]))} ${W}`],
      [1, () => `${V('e')}${s.sub('k')} = ${s.sl(`${V('w')}_k`, `${s.norm(`${V('w')}_k`)}`)}, \\quad ${V('w')}${s.sub('k')} = ${V('v')}${s.sub('k')} - \\sum${s.sub('j < k')} ${s.inner(`${V('v')}_k`, `${V('e')}_j`)} ${V('e')}${s.sub('j')}`],
      [1, () => `${U} \\perp ${W} \\iff ${s.inner(U, W)} = 0`],
    ])()],
    // Kernels, images, dimensions.
    [2, () => s.weighted<() => string>([
      [2, () => `\\dim \\ker ${A} + \\dim \\mathrm{im} \\, ${A} = \\dim ${s.pick(['V', 'U', `\\mathbb{R}^{${n}}`])}`],
      [2, () => `\\ker ${A} = \\{ ${U} \\in ${s.pick([`\\mathbb{R}^{${n}}`, 'V', `\\mathbb{C}^${n}`])} ${s.pick([':', '\\mid'])} ${A}${U} = ${V('0')} \\}`],
      [1, () => '\\dim(U + W) = \\dim U + \\dim W - \\dim(U \\cap W)'.replace(/U/g, s.pick(['U', 'X', 'V_1'])).replace(/W/g, s.pick(['W', 'Y', 'V_2']))],
      [1, () => `\\mathrm{rank}(${A}) = ${n} - \\dim \\ker ${A}`],
      [1, () => `\\dim \\ker(${A} - ${lam} I) ${s.pick(['\\leq', '\\geq', '='])} ${s.pick(['m', 'k', '1'])}`],
    ])()],
    // Determinants, traces, eigenvalues.
    [3, () => s.weighted<() => string>([
      [2, () => `${A} ${U}${s.sub(i)} = ${lam}${s.sub(i)} ${U}${s.sub(i)}${s.opt(0.4, () => `, \\quad ${s.norm(`${U}_${i}`)} = 1`)}`],
      [1, () => `\\det(${A}^{-1}) = ${s.sl('1', `\\det ${A}`)}`],
      [1, () => {
        const v0 = s.pick(['c', '\\alpha', 'k'])
        return `\\det(${v0} ${A}) = ${v0}${s.sup(n)} \\det ${A}`
      }],
      [1, () => s.pick([`\\det(${A}${B}C) = \\det ${A} \\det ${B} \\det C`, `\\det(${A}${B}^{-1}) = \\det ${A} / \\det ${B}`, `\\det(${A}^{T}${B}) = \\det ${A} \\, \\det ${B}`])],
      [2, () => `\\det ${A} = \\prod${s.sub(`${i}=1`)}${s.sup(n)} ${lam}${s.sub(i)}, \\quad \\mathrm{tr} \\, ${A} = \\sum${s.sub(`${i}=1`)}${s.sup(n)} ${lam}${s.sub(i)}`],
      [1, () => `${A} = \\sum${s.sub(`${i}=1`)}${s.sup(n)} ${lam}${s.sub(i)} ${U}${s.sub(i)} ${U}${s.sub(i)}${s.sup('T')}`],
      [2, () => `${lam}${s.sub('\\min')} \\leq ${s.fr(`${U}^{T} ${A} ${U}`, `${U}^{T} ${U}`)} \\leq ${lam}${s.sub('\\max')}`],
      [1, () => `\\mathrm{tr}(${A}${B}) = \\mathrm{tr}(${B}${A})`],
    ])()],
    // Transposes, inverses, commutators, coordinates.
    [2, () => s.weighted<() => string>([
      [2, () => {
        const t = s.pick(['T', '-1', '*'])
        return `(${A}${B})${s.sup(t)} = ${B}${s.sup(t)}${A}${s.sup(t)}`
      }],
      [2, () => `[${A}, ${B}] = ${A}${B} - ${B}${A}`],
      [1, () => `[${A}, [${B}, C]] + [${B}, [C, ${A}]] + [C, [${A}, ${B}]] = 0`],
      [1, () => `[${A}, ${B}C] = [${A}, ${B}]C + ${B}[${A}, C]`],
      [1, () => {
        const v0 = s.pick(['B', '\\beta', 'E'])
        return `[${A} ${U}]${s.sub(v0)} = [${A}]${s.sub(v0)} [${U}]${s.sub(v0)}`
      }],
    ])()],
    // Cross and dot products.
    [1.5, () => s.weighted<() => string>([
      [2, () => `${U} \\cdot ${W} = \\sum${s.sub(i)} ${u}${s.sub(i)} ${v}${s.sub(i)} = |${U}| |${W}| \\cos \\theta`],
      [1, () => `|${U} \\times ${W}| = |${U}| \\, |${W}| \\sin \\theta`],
      [1, () => `${U} \\times ${W} = -${W} \\times ${U}`],
      [1, () => `${U} \\cdot (${W} \\times ${V('c')}) = \\det[${U}, ${W}, ${V('c')}]`],
      [1, () => `${V('x')} = \\sum${s.sub(`${i}=1`)}${s.sup(n)} c${s.sub(i)} ${V('e')}${s.sub(i)}, \\quad c${s.sub(i)} \\in \\mathbb{${s.pick(['R', 'C'])}}`],
    ])()],
  ])()
}

export function numberTheory (s: TopicStyle): string {
  const [a, b] = s.two(['a', 'b', 'x', 'y', 'c', 'k', 'g'] as const)
  const m = s.pick(['m', 'n', 'N', 'p', 'q', String(s.int(2, 97))])
  const n = s.pick(['m', 'N', 'k', 'r'])
  const mod = (x: string) => s.weighted([[6, `\\pmod${s.arg(x)}`], [1, `\\; (\\bmod ${x})`], [1, `\\pmod ${x}`]] as const)
  return s.weighted<() => string>([
    // Congruences and systems of them.
    [3, () => s.weighted<() => string>([
      [2, () => `${a}${s.sup(s.pick(['k', 'e', String(s.int(2, 99)), '\\varphi(m)', 'p', 'q-1']))} \\equiv ${s.pick(['1', b, '-1', String(s.int(2, 50))])} ${mod(m)}`],
      [2, () => {
        const [r, q] = [s.pick(['b', 'r', 'c']), s.pick(['m', 'q'])]
        const x = s.pick(['x', 'y', 'z'])
        return Array.from({ length: s.int(2, 3) }, (_, k) => `${x} \\equiv ${s.pick([`${r}_${k + 1}`, String(s.int(0, 9))])} ${mod(s.pick([`${q}_${k + 1}`, String(s.int(2, 13))]))}`).join(s.pick([', \\quad ', ',\\; ', ', ']))
      }],
      [2, () => {
        const c = s.pick(['c', ' + c', '^k', ' - d'])
        return `${a} \\equiv ${b} ${mod(m)} \\Rightarrow ${a}${c} \\equiv ${b}${c} ${mod(m)}`
      }],
      [1, () => `${a}${b} \\equiv 1 ${mod(m)} \\iff \\gcd(${a}, ${m}) = 1`],
      [1, () => `(${a} + ${b})${s.sup('p')} \\equiv ${a}${s.sup('p')} + ${b}${s.sup('p')} ${mod('p')}`],
      [1, () => {
        const v0 = s.pick(['k', 'j', 'i'])
        return `\\binom{p}{${v0}} \\equiv 0 ${mod('p')}, \\quad 0 < ${v0} < p`
      }],
    ])()],
    // gcd, lcm, Bezout, Euclid.
    [2, () => s.weighted<() => string>([
      [2, () => `\\gcd(${a}, ${b}) \\cdot \\mathrm{lcm}(${a}, ${b}) = |${a}${b}|`],
      [2, () => `${a} ${s.pick(['s', 'u', 'x'])} + ${b} ${s.pick(['t', 'v', 'y'])} = \\gcd(${a}, ${b})`],
      [2, () => `\\gcd(${a}, ${b}) = \\gcd(${b}, ${a} \\bmod ${b})`],
      [1, () => {
        const [op, q] = [s.pick(['+', '\\cdot', '-']), s.pick(['m', 'N', 'p', 'q', String(s.int(2, 97))])]
        return `(${a} ${op} ${b}) \\bmod ${q} = ${s.par(`(${a} \\bmod ${q}) ${op} (${b} \\bmod ${q})`)} \\bmod ${q}`
      }],
      [1, () => `${a} = q ${b} + r, \\quad 0 \\leq r < ${b}`],
    ])()],
    // Euler's function and multiplicative functions.
    [2.5, () => s.weighted<() => string>([
      [2, () => `\\varphi(${n}) = ${n} \\prod${s.sub(`p \\mid ${n}`)} ${s.pick([s.par(`1 - ${s.sl('1', 'p')}`), s.par(`1 - ${s.fr('1', 'p')}`)])}`],
      [1, () => `\\sum${s.sub(`d \\mid ${n}`)} \\varphi(d) = ${n}`],
      [1, () => `\\varphi(p${s.sup('k')}) = p${s.sup('k')} - p${s.sup('k-1')}`],
      [1, () => `\\sigma${s.sub('k')}(${n}) = \\sum${s.sub(`d \\mid ${n}`)} d${s.sup('k')}`],
      [1, () => `${n} = p${s.sub('1')}${s.sup('e_1')} p${s.sub('2')}${s.sup('e_2')} \\cdots p${s.sub('r')}${s.sup('e_r')}, \\quad \\tau(${n}) = \\prod${s.sub('i=1')}${s.sup('r')} (e${s.sub('i')} + 1)`],
      [1, () => `\\sum${s.sub(`d \\mid ${n}`)} \\mu(d) = [${n} = 1]`],
      [2, () => `(f * g)(${n}) = \\sum${s.sub(`d \\mid ${n}`)} f(d) \\, g(${s.sl(n, 'd')})`],
    ])()],
    // Floors and ceilings.
    [2, () => s.weighted<() => string>([
      [2, () => `\\sum${s.sub('i \\geq 1')} ${s.delim(s.sl(n, 'p^i'), '\\lfloor', '\\rfloor', 0.3, 0.3)}`],
      [1, () => {
        const d = s.pick(['k', 'd', 'q'])
        return `${s.delim(s.fr(n, d), '\\lceil', '\\rceil', 0.9, 0.2)} = ${s.delim(s.fr(`${n} + ${d} - 1`, d), '\\lfloor', '\\rfloor', 0.9, 0.2)}`
      }],
      [1, () => 'x - 1 < \\lfloor x \\rfloor \\leq x, \\quad \\lceil x \\rceil - \\lfloor x \\rfloor \\leq 1'],
      [1, () => {
        const v0 = s.pick(['2', 'k', 'd'])
        return `${s.delim(s.sl(n, v0), '\\lfloor', '\\rfloor', 0.3, 0.3)} + ${s.delim(s.sl(n, v0), '\\lceil', '\\rceil', 0.3, 0.3)} = ${n}`
      }],
    ])()],
    // Legendre symbols: fractions in big parentheses.
    [2.5, () => s.weighted<() => string>([
      [2, () => `${s.fracPow(a, 'p')} \\equiv ${a}${s.sup('(p-1)/2')} ${mod('p')}`],
      [2, () => `${s.fracPow(`${a}${b}`, 'p')} = ${s.fracPow(a, 'p')} ${s.fracPow(b, 'p')}`],
      [1, () => `${s.fracPow('-1', 'p')} = (-1)${s.sup('(p-1)/2')}`],
      [1, () => `${s.fracPow('2', 'p')} = (-1)${s.sup(s.pick(['(p^2-1)/8', '\\frac{p^2-1}{8}']))}`],
      [1, () => `${s.fracPow(a, 'p')} = ${s.pick(['1', '-1', '\\pm 1', '0'])}`],
    ])()],
    // Primes and their counts.
    [2, () => s.weighted<() => string>([
      [2, () => `\\pi(x) \\sim ${s.pick([s.sl('x', '\\ln x'), s.fr('x', '\\ln x'), '\\int_{2}^{x} \\frac{dt}{\\ln t}'])}`],
      [1, () => `p${s.sub(n)} \\sim ${n} \\ln ${n}`],
      [1, () => `\\sum${s.sub('p \\leq x')} ${s.pick(['\\ln p', '\\frac{\\ln p}{p}'])} = ${s.pick(['x', '\\ln x'])} + O(${s.pick(['1', 'x / \\ln x', '\\sqrt{x}'])})`],
      [2, () => `\\sum${s.sub(`${n}=1`)}${s.sup('\\infty')} ${s.fr(s.pick(['\\mu(n)', '\\varphi(n)', '1', 'd(n)']).replace(/n/g, n), `${n}${s.sup('s')}`)} = ${s.pick(['\\prod_{p} (1 - p^{-s})^{-1}', '\\frac{1}{\\zeta(s)}', '\\zeta(s)^2'])}`],
    ])()],
    // Diophantine equations.
    [1, () => s.weighted<() => string>([
      [2, () => `x${s.sup('2')} - ${s.pick(['d', '2', '3', '5', 'D'])} y${s.sup('2')} = ${s.pick(['1', '-1', 'N'])}`],
      [2, () => `${s.int(2, 99)}x + ${s.int(2, 99)}y = ${s.pick(['1', 'c', String(s.int(1, 999))])}`],
      [1, () => `x${s.sup('n')} + y${s.sup('n')} = z${s.sup('n')}, \\quad n ${s.pick(['> 2', '\\geq 3'])}`],
    ])()],
  ])()
}
