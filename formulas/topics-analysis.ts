/**
 * Topic formulas (mix 'v3') of calculus and analysis, and of series: multiple
 * integrals with dA, dV or dx\,dy, evaluated brackets, limits, intervals with
 * sup and inf, the named functions in use, inline fractions, vector calculus,
 * Taylor and Fourier expansions, tests of convergence. Templates with random
 * letters, limits and optional pieces, in the notation of textbooks.
 */
import { FUNCTION_LETTERS, type TopicStyle } from './topic-style.js'

const VARS = ['x', 't', 'u', 's', 'y', 'z', 'r'] as const
const REGIONS = ['D', 'R', 'S', '\\Omega', 'E', 'A', 'T', 'M'] as const
const PAIRS = [['x', 'y'], ['u', 'v'], ['s', 't'], ['x', 'z'], ['y', 'z']] as const

/** A small expression in these variables: one to three monomials, maybe inside a function. */
export function inVars (s: TopicStyle, vars: readonly string[]): string {
  const mono = (): string => {
    const c = s.chance(0.35) ? String(s.int(2, 9)) : ''
    let fac = vars.filter(() => s.chance(0.55))
    if (fac.length === 0) fac = [s.pick(vars)]
    return c + fac.map((v) => (s.chance(0.4) ? `${v}${s.sup(s.pick(['2', '2', '3', 'n', 'k']))}` : v)).join(s.pick(['', ' ']))
  }
  const n = s.weighted([[3, 1], [3, 2], [1, 3]] as const)
  const sum = Array.from({ length: n }, mono).map((m, k) => (k === 0 ? m : ` ${s.pick(['+', '-'])} ${m}`)).join('')
  return s.weighted<() => string>([
    [6, () => sum],
    [1, () => `${s.pick(['\\sin', '\\cos', '\\ln', '\\sinh', '\\cosh'])}${s.par(sum)}`],
    [1, () => `e${s.sup(`-${sum.startsWith('-') ? sum.slice(1) : sum}`)}`],
    [1, () => s.call(s.pick(['f', 'g', 'h', '\\rho', 'F']), ...vars)],
  ])()
}

function limit (s: TopicStyle, v: string, to: string): string {
  return `\\lim${s.sub(`${v} ${s.chance(0.85) ? '\\to' : '\\rightarrow'} ${to}`)}`
}

export function calculus (s: TopicStyle): string {
  const f = s.pick(FUNCTION_LETTERS)
  const x = s.pick(VARS)
  const [a, b] = s.pick([['a', 'b'], ['0', '1'], ['0', 'T'], ['-1', '1'], ['0', '\\infty'], ['-\\infty', '\\infty'], ['x_0', 'x_1'], ['0', '\\pi']] as const)
  return s.weighted<() => string>([
    // Double and iterated integrals over a region.
    [3, () => {
      const R = s.pick(REGIONS)
      const [u, v] = s.pick(PAIRS)
      const g = inVars(s, [u, v])
      const region = s.weighted([[5, R], [1, `${u}${s.sup('2')} + ${v}${s.sup('2')} \\leq ${s.pick(['1', 'R^2', 'a^2', '4'])}`]] as const)
      const dd = s.weighted([[3, s.d('A')], [3, s.ds(u, v)], [1, s.ds(v, u)], [1, s.d('S')]] as const)
      const lhs = `\\iint${s.chance(0.06) ? '\\limits' : ''}${s.sub(region)} ${g}${dd}`
      return s.weighted<() => string>([
        [3, () => `${lhs} = \\int${s.sub(a)}${s.sup(b)} \\int${s.sub(s.pick(['0', 'c', `${s.pick(['g', 'h', '\\phi'])}_1(${u})`]))}${s.sup(s.pick(['1', 'd', u, `${s.pick(['g', 'h', '\\phi'])}_2(${u})`]))} ${g}${s.ds(v, u)}`],
        [2, () => `${lhs} = ${s.pick([s.fr(s.pick(['\\pi', '1', '2', '\\pi R^2']), s.pick(['2', '3', '4', '8'])), s.number(), s.sl(s.pick(['\\pi', '1']), s.pick(['2', '4']))])}`],
        [2, () => `${lhs} ${s.pick(['\\leq', '=', '\\geq'])} ${s.expr(0)}`],
        [1, () => lhs],
      ])()
    }],
    // Polar, cylindrical, spherical coordinates; triple integrals written out.
    [2, () => s.weighted<() => string>([
      [2, () => {
        const v0 = s.pick(['f', 'g'])
        return `\\iint${s.sub(s.pick(REGIONS))} ${s.call(v0, 'x', 'y')}${s.ds('x', 'y')} = \\int${s.sub('0')}${s.sup(s.pick(['2\\pi', '\\pi', '\\pi/2', '\\alpha']))} \\int${s.sub('0')}${s.sup(s.pick(['R', 'a', '1', 'r_0']))} ${s.call(v0, 'r\\cos\\theta', 'r\\sin\\theta')} \\, r${s.ds('r', '\\theta')}`
      }],
      [2, () => `\\int${s.sub('0')}${s.sup(s.pick(['1', 'a', 'c']))} \\int${s.sub('0')}${s.sup(s.pick(['1', 'b', 'x']))} \\int${s.sub('0')}${s.sup(s.pick(['1', 'c', 'x + y', 'xy']))} ${inVars(s, ['x', 'y', 'z'])}${s.ds(...s.pick([['z', 'y', 'x'], ['x', 'y', 'z']] as const))} = ${s.pick([s.fr('1', String(s.int(2, 60))), s.sl('1', String(s.int(2, 60))), s.number()])}`],
      [2, () => `${s.pick(['V', 'M', 'Q', 'I'])} = \\int${s.sub(s.pick(['V', 'E', '\\Omega', 'B']))} ${s.pick(['\\rho', '1', `\\rho(${s.pick(['\\mathbf{r}', 'x, y, z', 'r'])})`, 'r^2 \\rho'])}${s.d(s.pick(['V', 'V', '\\tau', `${s.sup('3')}r`]))}`],
      [1, () => `\\int${s.sub('0')}${s.sup('2\\pi')} \\int${s.sub('0')}${s.sup('\\pi')} \\int${s.sub('0')}${s.sup('R')} ${s.call('f', 'r', '\\theta', '\\phi')} \\, r${s.sup('2')} \\sin\\theta${s.ds('r', '\\theta', '\\phi')}`],
      [1, () => `${s.ds('x', 'y')} = ${s.abs(s.fr('\\partial(x, y)', '\\partial(u, v)'))}${s.ds('u', 'v')} = r${s.ds('r', '\\theta')}`.trim()],
    ])()],
    // Antiderivatives evaluated at the limits; integration by parts.
    [2, () => {
      const n = s.int(2, 6)
      const c = s.pick(['', '2', '3', 'a', 'k'])
      const F = s.fr(`${c}${x}${s.sup(String(n + 1))}`, String(n + 1))
      return s.weighted<() => string>([
        [3, () => `\\int${s.sub(a)}${s.sup(b)} ${c}${x}${s.sup(String(n))}${s.d(x)} = ${s.brk(F)}${s.sub(a)}${s.sup(b)}`],
        [2, () => `\\int ${c}${x}${s.sup(String(n))}${s.d(x)} = ${F} + C`],
        [2, () => {
          const g = s.pick(['g', 'v', 'G'])
          return `\\int ${f} ${g}'${s.d(x)} = ${f} ${g} - \\int ${f}' ${g}${s.d(x)}`
        }],
        [2, () => `\\int${s.sub(a)}${s.sup(b)} ${s.call(`${f}'`, x)}${s.d(x)} = \\left. ${s.call(f, x)} \\right|${s.sub(a)}${s.sup(b)}`],
        [1, () => `\\int ${s.pick(['\\sec^2', '\\cos', '\\sin', '\\sinh', '\\cosh'])} ${x}${s.d(x)} = ${s.pick(['\\tan', '\\sin', '-\\cos', '\\cosh', '\\sinh'])} ${x} + C`],
      ])()
    }],
    // Derivatives as limits; limits with inline fractions.
    [1.5, () => {
      // (f, x, h) would be held-out C's definition of the derivative, as written there.
      const h = s.pick([f === 'f' ? 't' : 'h', '\\epsilon', '\\delta', 'k', `\\Delta ${x}`])
      const lhs = s.pick([`${f}'(${x})`, s.dd(f, x), `${f}'(${x})`])
      return s.weighted<() => string>([
        [3, () => `${lhs} = ${limit(s, h, '0')} ${s.fr(`${s.call(f, `${x} + ${h}`)} - ${s.call(f, x)}`, h)}`],
        [1, () => `${lhs} = ${limit(s, h, '0')} ${s.fr(`${s.call(f, `${x} + ${h}`)} - ${s.call(f, `${x} - ${h}`)}`, `2${h}`)}`],
        [2, () => {
          const v0 = s.pick(['0', 'a', '\\infty', 'c'])
          return `${limit(s, x, v0)} ${s.sl(s.call(f, x), s.call('g', x))} = ${limit(s, x, v0)} ${s.sl(s.call(`${f}'`, x), s.call("g'", x))}`
        }],
        [2, () => {
          const v0 = s.pick(['a', 'k', '2', '3'])
          return `${limit(s, x, '0')} ${s.sl(`${s.pick(['\\sin', '\\tan', '\\sinh', '\\arcsin'])}(${v0}${x})`, x)} = ${v0}`
        }],
        [1, () => `${limit(s, x, '\\infty')} ${s.fracPow(`${x} + ${s.pick(['1', 'a', 'k'])}`, `${x} - ${s.pick(['1', 'b', 'k'])}`, x)} = e${s.sup(s.pick(['2', 'a + b', '2k']))}`],
      ])()
    }],
    // Epsilon-delta definitions.
    [1, () => {
      const [e, dl] = [s.pick(['\\epsilon', '\\varepsilon']), s.pick(['\\delta', '\\eta'])]
      const imp = s.pick(['\\implies', '\\Rightarrow'])
      const sep = s.pick([':', ',', '\\quad', '\\;'])
      return s.weighted<() => string>([
        [2, () => `\\forall ${e} > 0 \\; \\exists ${dl} > 0 ${sep} ${s.opt(0.5, () => '0 < ')}|${x} - ${s.pick(['c', 'x_0', 'p'])}| < ${dl} ${imp} |${s.call(f, x)} - ${s.pick(['\\ell', 'A', s.call(f, s.pick(['c', 'x_0', 'p']))])}| < ${e}`],
        [2, () => `\\forall ${e} > 0 \\; \\exists N ${s.opt(0.6, () => '\\in \\mathbb{N} ')}${sep} ${s.pick(['n', 'm, n'])} ${s.pick(['\\geq', '>'])} N ${imp} |${s.pick(['a_n', 'x_n', 's_n'])} - ${s.pick(['L', 'a', 'x'])}| < ${e}`],
        [1, () => `|${s.call(f, x)} - ${s.call(f, 'y')}| \\leq ${s.pick(['L', 'M', 'C'])} |${x} - y|${s.sup(s.pick(['\\alpha', '2', '1/2', '\\gamma']))}`],
      ])()
    }],
    // Intervals, suprema and infima.
    [1.5, () => {
      const I = s.pick([`[${a}, ${b}]`, '[0, 1]', '(0, 1]', '[0, \\infty)', `(${a}, ${b})`, '[-1, 1]'])
      return s.weighted<() => string>([
        [2, () => `${f} : ${I} \\to \\mathbb{R}${s.opt(0.5, () => `, \\quad ${s.call(f, x)} = ${inVars(s, [x])}`)}`],
        [2, () => `${s.norm(f, '\\infty')} = \\sup${s.sub(`${x} \\in ${I}`)} |${s.call(f, x)}|`],
        [2, () => `\\${s.pick(['max', 'min', 'sup', 'inf'])}${s.sub(`${x} \\in ${I}`)} ${s.abs(inVars(s, [x]))} ${s.pick(['\\leq', '=', '<', '\\geq'])} ${s.pick(['M', '1', s.fr('1', '2'), 'C'])}`],
        [1, () => `\\sup${s.sub(`${x} \\in ${I}`)} |${s.call(`${f}_n`, x)} - ${s.call(f, x)}| \\to 0`],
        [1, () => {
          const v0 = s.pick(['a_n', 'x_n'])
          return `\\liminf${s.sub('n \\to \\infty')} ${v0} \\leq \\limsup${s.sub('n \\to \\infty')} ${v0}`
        }],
        [1, () => `${x} \\in ${I} \\Rightarrow ${s.call(f, x)} ${s.pick(['\\geq', '\\leq', '>'])} ${s.pick(['0', s.call(f, a), 'm'])}`],
      ])()
    }],
    // The named functions in use.
    [1.5, () => {
      const t = s.pick(['x', 't', '\\theta', 'u', '\\alpha'])
      return s.weighted<() => string>([
        [1, () => `\\cosh${s.sup('2')} ${t} - \\sinh${s.sup('2')} ${t} = 1`],
        [2, () => s.pick([
          () => `${s.dd('', t)} \\arcsin ${t} = ${s.fr('1', `\\sqrt{1 - ${t}^2}`)}`,
          () => `${s.dd('', t)} \\arccos ${t} = -${s.fr('1', `\\sqrt{1 - ${t}^2}`)}`,
          () => `${s.dd('', t)} \\arctan ${t} = ${s.pick([s.sl('1', `1 + ${t}^2`), s.fr('1', `1 + ${t}^2`)])}`,
        ])()],
        [1, () => `\\tanh ${t} = ${s.fr(`\\sinh ${t}`, `\\cosh ${t}`)} = ${s.fr(`e^{${t}} - e^{-${t}}`, `e^{${t}} + e^{-${t}}`)}`],
        [1, () => `1 + \\${s.pick(['tan^2', 'cot^2'])} ${t} = \\${s.pick(['sec^2', 'csc^2'])} ${t}`],
        [1, () => {
          const v0 = s.pick(['\\beta', 'y', 'v'])
          return s.chance(0.5)
            ? `\\sin(${t} \\pm ${v0}) = \\sin ${t} \\cos ${v0} \\pm \\cos ${t} \\sin ${v0}`
            : `\\cos(${t} \\pm ${v0}) = \\cos ${t} \\cos ${v0} \\mp \\sin ${t} \\sin ${v0}`
        }],
        [1, () => {
          const v0 = s.pick(['b', 'a', '2', '10'])
          return `\\log${s.sub(v0)} ${t} = ${s.sl(`\\ln ${t}`, `\\ln ${v0}`)}`
        }],
        [1, () => `${s.dd('', t)} \\ln|${t}| = ${s.sl('1', t)}`],
        [1, () => `\\cot ${t} = ${s.sl('1', `\\tan ${t}`)}, \\quad \\sec ${t} = ${s.sl('1', `\\cos ${t}`)}`],
        [1, () => `\\deg(${s.pick(['pq', 'fg', 'PQ'])}) = \\deg ${s.pick(['p', 'f', 'P'])} + \\deg ${s.pick(['q', 'g', 'Q'])}`],
      ])()
    }],
    // Inline fractions in functions and derivatives.
    [1.5, () => s.weighted<() => string>([
      [2, () => `${s.call(f, x)} = ${s.sl(inVars(s, [x]), inVars(s, [x]))}`],
      [2, () => {
        const y = x === 'y' ? 'v' : s.pick(['y', 'v', 'w'])
        return `d${y}/d${x} = ${s.pick(['-', ''])}${s.sl(s.pick([x, `${x}^2`, `2${x}`]), y)}`
      }],
      [1, () => {
        const v0 = s.pick(['n', 'k', '3'])
        return `\\sqrt[${v0}]{${x}} = ${x}${s.sup(`1/${v0}`)}`
      }],
      [1, () => {
        const [a, b] = s.pick([['a', 'b'], ['x', 'y'], ['p', 'q']] as const)
        return `\\ln(${s.sl(a, b)}) = \\ln ${a} - \\ln ${b}`
      }],
      [1, () => `${s.call('F', 's')} = \\int${s.sub('0')}${s.sup('\\infty')} ${s.call(f, 't')} e${s.sup('-st')}${s.d('t')} = ${s.sl(s.pick(['1', 'a', '\\omega', 'k']), s.pick(['s - a', 's', 's^2 + \\omega^2', 's + k']))}`],
      [1, () => `${s.call(f, x)} = ${x}${s.sup(`${s.int(1, 5)}/${s.int(2, 7)}`)} ${s.pick(['+', '-'])} ${s.coef()} ${x}${s.sup(`-1/${s.int(2, 5)}`)}`],
    ])()],
    // Vector calculus and its theorems.
    [1.5, () => {
      const V = s.vecStyle()
      const F = V(s.pick(['F', 'G', 'A', 'v', 'u']))
      const Sf = s.pick(['S', '\\Sigma', 'M'])
      const C = Sf === 'S' ? s.pick(['C', '\\gamma']) : s.pick(['C', `\\partial ${Sf}`, '\\gamma'])
      return s.weighted<() => string>([
        [2, () => `\\nabla ${f} = ${s.par(`${s.pd(f, 'x')}, ${s.pd(f, 'y')}${s.opt(0.6, () => `, ${s.pd(f, 'z')}`)}`)}`],
        [2, () => `\\nabla \\cdot ${F} = ${['x', 'y', 'z'].map((c) => s.pd(`${s.pick(['F', 'P'])}_${c}`, c)).join(' + ')}`],
        [1, () => `D${s.sub(V('u'))} ${f} = \\nabla ${f} \\cdot ${V('u')}`],
        [2, () => `\\iint${s.sub(Sf)} ${s.par(`\\nabla \\times ${F}`)} \\cdot ${s.pick([`d${V('S')}`, `${V('n')} \\, dA`, `\\hat{${s.pick(['n', '\\mathbf{n}'])}} \\, dS`])} = \\oint${s.sub(C)} ${F} \\cdot d${V(s.pick(['r', 'l', 's']))}`],
        [2, () => `\\oint${s.sub(s.pick(['\\partial V', 'S', '\\partial \\Omega']))} ${F} \\cdot ${s.pick([`\\hat{${s.pick(['n', '\\mathbf{n}'])}} \\, dS`, `d${V('A')}`])} = \\int${s.sub(s.pick(['V', '\\Omega']))} \\nabla \\cdot ${F}${s.d('V')}`],
        [1, () => {
          const [v0, v1] = [s.pick(['Q', 'N']), s.pick(['P', 'M'])]
          return `\\oint${s.sub(s.pick(['C', '\\partial D', '\\gamma']))} ${s.par(`${v1}\\,dx + ${v0}\\,dy`)} = \\iint${s.sub('D')} ${s.par(`${s.pd(v0, 'x')} - ${s.pd(v1, 'y')}`)}${s.d('A')}`
        }],
      ])()
    }],
    // Taylor, mean value, quadrature.
    [1, () => {
      const i = s.pick(['k', 'j', 'i'])
      return s.weighted<() => string>([
        [2, () => {
          const a = s.pick(['a', 'x_0', 'c'])
          return `${s.call(f, x)} ${s.pick(['=', '\\approx'])} \\sum${s.sub(`${i}=0`)}${s.sup(s.pick(['n', 'N', 'm']))} ${s.fr(`${f}^{(${i})}(${a})`, `${i}!`)} (${x} - ${a})${s.sup(i)}`
        }],
        [2, () => `${s.call(f, `${x} + h`)} = ${s.call(f, x)} + h ${s.call(`${f}'`, x)} + ${s.fr('h^2', '2')} ${s.call(`${f}''`, x)} + O(h${s.sup('3')})`],
        [2, () => `${s.call(f, 'b')} - ${s.call(f, 'a')} = ${s.call(`${f}'`, s.pick(['c', '\\xi']))}(b - a)`],
        [1, () => `\\int${s.sub('a')}${s.sup('b')} ${s.call(f, x)}${s.d(x)} \\approx ${s.fr('h', s.pick(['2', '3']))} ${s.brk(`${s.call(f, `${x}_0`)} + 2 \\sum${s.sub(`${i}=1`)}${s.sup('n-1')} ${s.call(f, `${x}_${i}`)} + ${s.call(f, `${x}_n`)}`)}`],
      ])()
    }],
    // Integral inequalities.
    [1, () => s.weighted<() => string>([
      [2, () => `${s.abs(`\\int${s.sub(a)}${s.sup(b)} ${s.call(f, x)}${s.d(x)}`)} \\leq \\int${s.sub(a)}${s.sup(b)} |${s.call(f, x)}|${s.d(x)}`],
      [2, () => {
        const v0 = s.pick(['\\mu', 'x'])
        return `\\int ${s.abs(`${f} g`)}${s.d(v0)} \\leq ${s.par(`\\int |${f}|^{p}${s.d(v0)}`)}${s.sup('1/p')} ${s.par(`\\int |g|^{q}${s.d(v0)}`)}${s.sup('1/q')}`
      }],
      [1, () => `${s.sl('1', 'p')} + ${s.sl('1', 'q')} = 1`],
    ])()],
    // Differential equations.
    [1.5, () => {
      const y = s.pick(['y', 'u', 'x', 'z'])
      const t = y === 'x' ? 't' : s.pick(['x', 't'])
      return s.weighted<() => string>([
        [2, () => `${y}' + ${s.call(s.pick(['p', 'a', 'P']), t)} ${y} = ${s.call(s.pick(['q', 'b', 'Q']), t)}`],
        [2, () => `${s.dd(y, t)} = ${s.coef()} ${y}${s.opt(0.4, () => ` ${s.pick(['+', '-'])} ${s.coef()}`)} \\Rightarrow ${s.call(y, t)} = ${s.pick(['C', 'y_0', 'A'])} e${s.sup(`${s.pick(['k', '\\lambda', 'r', 'a'])} ${t}`)}`],
        [2, () => `${s.dd(y, t, 2)} + ${s.coef()} ${s.dd(y, t)} + ${s.coef()} ${y} = ${s.pick(['0', s.call(f, t), `\\cos(\\omega ${t})`])}`],
        [1, () => `${s.call(y, t)} = c_1 e${s.sup(`r_1 ${t}`)} + c_2 e${s.sup(`r_2 ${t}`)}, \\quad r${s.sub('1,2')} = ${s.fr('-b \\pm \\sqrt{b^2 - 4ac}', '2a')}`],
        [1, () => `\\int ${s.fr(`d${y}`, s.call(s.pick(['g', 'h']), y))} = \\int ${s.call(f, t)}${s.d(t)}`],
      ])()
    }],
  ])()
}

export function series (s: TopicStyle): string {
  const x = s.pick(['x', 'z', 't', 'q', 'r'])
  const n = s.pick(['n', 'k', 'm', 'j'])
  const S = () => s.sumTo(n)
  return s.weighted<() => string>([
    // Power series with coefficients.
    [3, () => {
      const a = s.pick(['0', 'a', 'x_0', 'c', '1'])
      const shift = a === '0' ? x : `(${x} - ${a})`
      const g = s.pick(['g', 'F', 'h', 'u', 'S'])
      const c = s.pick([s.ix('a', n), s.ix('c', n), s.fr(`${g}^{(${n})}(${a})`, `${n}!`), s.fr(`(-1)^{${n}}`, `${n}!`), s.fr('1', `${s.pick(['2', '3', 'k'])}^{${n}}`), s.fr(n, `${s.pick(['2', '3'])}^{${n}}`), s.fr(`(${s.pick(['2', 'a'])}${n})!`, `(${n}!)^{2}`)])
      return `${s.call(g, x)} = \\sum${s.sub(`${n}=0`)}${s.sup('\\infty')} ${c} ${shift}${s.sup(n)}`
    }],
    // Expansions written out.
    [2.5, () => {
      const k = s.int(2, 4)
      return s.weighted<() => string>([
        [1, () => `e${s.sup(x)} = 1 + ${x} + ${Array.from({ length: k }, (_, i) => s.fr(`${x}${s.sup(String(i + 2))}`, `${i + 2}!`)).join(' + ')} + \\cdots`],
        [1, () => {
          const [f, sign] = s.pick([['\\cos', '-'], ['\\cosh', '+']] as const)
          return `${f} ${x} = 1 ${sign} ${s.fr(`${x}^2`, '2!')} + ${s.fr(`${x}^4`, '4!')} ${sign} \\cdots`
        }],
        [1, () => `${s.fr('1', `1 - ${x}`)} = \\sum${s.sub(`${n}=0`)}${s.sup('\\infty')} ${x}${s.sup(n)} = 1 + ${x} + ${x}${s.sup('2')} + \\cdots, \\quad |${x}| < 1`],
        [1, () => `\\ln(1 ${s.pick(['+', '-'])} ${x}) = ${s.pick(['', '-'])}${x} ${s.pick(['-', '+'])} ${s.fr(`${x}^2`, '2')} + ${s.fr(`${x}^3`, '3')} - \\cdots`],
        [1, () => {
          const [e, c] = s.pick([['p/q', '\\frac{p}{q}'], ['1/2', '\\frac{1}{2}'], ['-1/2', '-\\frac{1}{2}'], ['r', 'r'], ['\\alpha', '\\alpha']] as const)
          return `(1 + ${x})${s.sup(e)} = 1 + ${c} ${x} + O(${x}${s.sup('2')})`
        }],
        [1, () => `\\arctan ${x} = ${x} - ${s.sl(`${x}^3`, '3')} + ${s.sl(`${x}^5`, '5')} - \\cdots`],
      ])()
    }],
    // Geometric and finite sums.
    [2, () => {
      const r = s.pick(['q', 'r', 'x', 'z', '\\rho'])
      return s.weighted<() => string>([
        [2, () => `\\sum${s.sub(`${n}=0`)}${s.sup(s.pick(['N', 'N-1', 'n-1', 'M']))} ${r}${s.sup(n)} = ${s.pick([s.fr(`1 - ${r}^{${s.pick(['N+1', 'N', 'n', 'M+1'])}}`, `1 - ${r}`), s.sl(`1 - ${r}^{${s.pick(['N+1', 'N', 'n'])}}`, `1 - ${r}`)])}`],
        [1, () => `\\sum${s.sub(`${n}=${s.pick(['0', '1'])}`)}${s.sup('\\infty')} ${s.coef()} ${r}${s.sup(n)} = ${s.sl(s.pick(['a', 'ar', 'c']), `1 - ${r}`)}`],
        [2, () => `\\sum${s.sub(`${n}=1`)}${s.sup('N')} ${n}${s.sup('2')} = ${s.fr('N(N+1)(2N+1)', '6')}`],
        [1, () => `\\sum${s.sub(`${n}=1`)}${s.sup('N')} ${n} = N(N+1)/2`],
        [1, () => `\\sum${s.sub(`${n}=1`)}${s.sup('N')} ${n}${s.sup('3')} = ${s.fracPow('N(N+1)', '2', '2')}`],
        [1, () => `\\sum${s.sub(`${n}=1`)}${s.sup('N')} ${s.fr('1', `${n}(${n}+1)`)} = 1 - ${s.sl('1', 'N+1')}`],
      ])()
    }],
    // Tests of convergence.
    [2, () => s.weighted<() => string>([
      [2, () => `\\lim${s.sub(`${n} \\to \\infty`)} ${s.abs(s.fr(`a_{${n}+1}`, `a_{${n}}`))} = L ${s.pick(['< 1', '> 1', '= 1'])}`],
      [2, () => `R = ${s.sl('1', `\\limsup_{${n} \\to \\infty} |a_{${n}}|^{1/${n}}`)}`],
      [1, () => `\\limsup${s.sub(`${n} \\to \\infty`)} \\sqrt[${n}]{|a_{${n}}|} < 1`],
      [2, () => {
        const p = s.pick(['p', 's', '\\alpha'])
        return `\\sum${s.sub(`${n}=1`)}${s.sup('\\infty')} ${s.fr('1', `${n}^{${p}}`)} < \\infty \\iff ${p} > 1`
      }],
      [1, () => `\\sum${s.sub(n)} |a_{${n}}| < \\infty \\Rightarrow \\sum${s.sub(n)} a_{${n}} ${s.pick(['b_n', ''])} < \\infty`],
      [1, () => `0 \\leq a_{${n}} \\leq b_{${n}}, \\quad \\sum${s.sub(n)} b_{${n}} < \\infty`],
    ])()],
    // Known sums and products.
    [2, () => s.weighted<() => string>([
      [1, () => `\\sum${s.sub(`${n}=1`)}${s.sup('\\infty')} ${s.fr('1', `${n}^4`)} = ${s.fr('\\pi^4', '90')}`],
      [1, () => `\\sum${s.sub(`${n}=1`)}${s.sup('\\infty')} ${s.fr(`(-1)^{${n}+1}`, n)} = \\ln 2`],
      [1, () => `\\sum${s.sub(`${n}=0`)}${s.sup('\\infty')} ${s.fr(`(-1)^{${n}}`, `2${n}+1`)} = ${s.pick([s.fr('\\pi', '4'), s.sl('\\pi', '4')])}`],
      [1, () => `\\sum${s.sub(`${n}=1`)}${s.sup('\\infty')} ${s.fr('1', `(2${n}-1)^2`)} = ${s.fr('\\pi^2', '8')}`],
      [1, () => `H${s.sub('N')} = \\sum${s.sub(`${n}=1`)}${s.sup('N')} ${s.sl('1', n)} = \\ln N + \\gamma + O(${s.sl('1', 'N')})`],
      [2, () => {
        const a = s.pick(['x', 'a', '1', 'r'])
        return `\\lim${s.sub('N \\to \\infty')} ${s.par(`1 + ${s.fr(a, 'N')}`)}${s.sup('N')} = ${a === '1' ? 'e' : `e${s.sup(a)}`}`
      }],
      [1, () => `${s.call(s.pick(['\\sin', '\\sinh']), `\\pi ${x}`)} = \\pi ${x} \\prod${s.sub(`${n}=1`)}${s.sup('\\infty')} ${s.par(`1 ${s.pick(['-', '+'])} ${s.fr(`${x}^2`, `${n}^2`)}`)}`],
    ])()],
    // Fourier series and coefficients.
    [2, () => {
      const L = s.pick(['L', '\\pi', 'T', 'l'])
      const trig = s.pick(['\\cos', '\\sin'])
      const arg = L === '\\pi' ? `${n}${x}` : s.pick([s.fr(`${n}\\pi ${x}`, L), `(${n}\\pi ${x}/${L})`, `${n}\\omega ${x}`])
      return s.weighted<() => string>([
        [2, () => `${s.ix(trig === '\\cos' ? 'a' : 'b', n)} = ${s.fr(s.pick(['1', '2']), L)} \\int${s.sub(s.pick(['-' + L, '0']))}${s.sup(L)} ${s.call(s.pick(['f', 'g']), x)} ${trig} ${arg}${s.d(x)}`],
        [2, () => `${s.call(s.pick(['g', 'u', 'S', 'F']), x)} = ${s.fr('a_0', '2')} + ${S()} ${s.par(`a_{${n}} \\cos ${arg} + b_{${n}} \\sin ${arg}`)}`],
        [1, () => `${s.call(s.pick(['f', 'g']), x)} ${s.pick(['=', '\\sim'])} \\sum${s.sub(`${n}=-\\infty`)}${s.sup('\\infty')} c_{${n}} e${s.sup(`i${n}${x}`)}`],
        [1, () => `${s.fr('1', L)} \\int${s.sub('-' + L)}${s.sup(L)} |${s.call('f', x)}|${s.sup('2')}${s.d(x)} = \\sum${s.sub(n)} |c_{${n}}|${s.sup('2')}`],
      ])()
    }],
    // Partial sums, products of series, asymptotics.
    [1.5, () => s.weighted<() => string>([
      [2, () => `S${s.sub('N')} = \\sum${s.sub(`${n}=1`)}${s.sup('N')} ${s.fr(s.pick(['1', `(-1)^{${n}}`, n]), `${n}${s.sup(s.pick(['2', '3', 'p']))} ${s.pick(['+', '-'])} ${s.int(1, 9)}`)}`],
      [1, () => {
        const v0 = s.pick(['i', 'l'])
        return `${s.par(`\\sum${s.sub(n)} a${s.sub(n)}`)} ${s.par(`\\sum${s.sub(n)} b${s.sub(n)}`)} = \\sum${s.sub(n)} c${s.sub(n)}, \\quad c${s.sub(n)} = \\sum${s.sub(`${v0}=0`)}${s.sup(n)} a${s.sub(v0)} b${s.sub(`${n}-${v0}`)}`
      }],
      [2, () => `\\sum${s.sub(`${n}=1`)}${s.sup('N')} ${s.call('f', n)} = \\int${s.sub('1')}${s.sup('N')} ${s.call('f', x)}${s.d(x)} + O(${s.pick(['1', '\\ln N', 'N^{-1}'])})`],
      [1, () => `a${s.sub(n)} = ${s.sl(s.pick(['1', `(-1)^${n}`, '2']), `${n}${s.sup(s.pick(['2', 'p', '3/2']))}`)} \\to 0`],
    ])()],
  ])()
}
