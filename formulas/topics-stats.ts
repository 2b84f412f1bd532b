/**
 * Topic formulas (mix 'v3') of probability and statistics (expectations in
 * square brackets, variances, distributions, bounds, estimators, sums beside
 * a covariance Σ) and of machine learning (softmax, cross-entropy, gradient
 * steps, norms and regularisers, attention, activations, divergences).
 * Templates with random letters, indices and optional pieces.
 */
import type { TopicStyle } from './topic-style.js'

export function probability (s: TopicStyle): string {
  const [X, Y] = s.two(['X', 'Y', 'Z', 'W', 'S', 'T'] as const)
  const E = s.ex()
  const Var = s.pick(['\\mathrm{Var}', '\\mathrm{Var}', '\\mathrm{var}', 'V', 'D'])
  const P = s.pick(['P', 'P', '\\Pr', 'p'])
  const i = s.pick(['i', 'j', 'k'])
  const n = s.pick(['n', 'N', 'm'])
  const x = X.toLowerCase()
  const ev = (z: string) => `${E}${s.brk(z)}`
  return s.weighted<() => string>([
    // Expectations and variances.
    [3.5, () => s.weighted<() => string>([
      [2, () => `${Var}(${X}) = ${ev(`${X}${s.sup('2')}`)} - ${s.par(ev(X))}${s.sup('2')}`],
      [2, () => {
        const [a, b] = s.pick([['a', 'b'], ['c', 'd'], ['\\alpha ', '\\beta '], ['2', '3']] as const)
        return `${ev(`${a}${X} + ${b}${Y}`)} = ${a}${ev(X)} + ${b}${ev(Y)}`
      }],
      [1, () => {
        const [a, b] = s.pick([['a', 'b'], ['c', 'd'], ['a', 'c']] as const)
        return `${Var}(${a}${X} + ${b}) = ${a}${s.sup('2')} ${Var}(${X})`
      }],
      [2, () => `\\mathrm{Cov}(${X}, ${Y}) = ${ev(`${X}${Y}`)} - ${ev(X)} ${ev(Y)}`],
      [1, () => `\\rho${s.sub(`${X}${Y}`)} = ${s.fr(`\\mathrm{Cov}(${X}, ${Y})`, `\\sigma_{${X}} \\sigma_{${Y}}`)}`],
      [2, () => `${ev(X)} = \\int${s.sub('-\\infty')}${s.sup('\\infty')} ${x} \\, ${s.call(s.pick(['f', 'p', `f_{${X}}`]), x)}${s.d(x)}`],
      [2, () => {
        const v0 = s.pick(['g', 'h', 'f'])
        return `${ev(`${v0}(${X})`)} = \\sum${s.sub(x)} ${s.call(v0, x)} \\, ${s.call(s.pick(['p', 'p_X', 'P']), x)}`
      }],
      [2, () => `${ev(ev(`${X} \\mid ${Y}`))} = ${ev(X)}`],
      [1, () => `${Var}(${X}) = ${ev(`${Var}(${X} \\mid ${Y})`)} + ${Var}(${ev(`${X} \\mid ${Y}`)})`],
      [1, () => `M${s.sub(X)}(t) = ${ev(`e^{t${X}}`)}, \\quad \\varphi${s.sub(X)}(t) = ${ev(`e^{it${X}}`)}`],
    ])()],
    // Probabilities and bounds.
    [2.5, () => {
      const t = s.pick(['t', 'a', '\\varepsilon', 'c', '\\lambda'])
      return s.weighted<() => string>([
        [2, () => {
          const v0 = s.pick(['t', 'u', 's'])
          return `${P}(${X} \\leq ${x}) = F(${x}) = \\int${s.sub('-\\infty')}${s.sup(x)} ${s.call(s.pick(['f', 'p']), v0)}${s.d(v0)}`
        }],
        [1, () => `${P}(a < ${X} \\leq b) = F(b) - F(a)`],
        [2, () => `${P}(${X} \\geq ${t}) \\leq ${s.sl(ev(X), t)}`],
        [2, () => `${P}(|${X} - \\mu| \\geq ${t}) \\leq ${s.pick([s.sl('\\sigma^2', `${t}^2`), s.fr('\\sigma^2', `${t}^2`), s.fr(`${Var}(${X})`, `${t}^2`)])}`],
        [1, () => `${P}(A${s.sub('1')} \\cup \\cdots \\cup A${s.sub(n)}) \\leq \\sum${s.sub(`${i}=1`)}${s.sup(n)} ${P}(A${s.sub(i)})`],
        [2, () => {
          const [H, D] = s.pick([['H', 'E'], ['C', 'X'], ['\\theta', 'D'], ['Y', 'X'], ['M', 'D']] as const)
          const j = i === 'j' ? 'k' : 'j'
          return `${P}(${H}${s.sub(i)} \\mid ${D}) = ${s.fr(`${P}(${D} \\mid ${H}_{${i}}) \\, ${P}(${H}_{${i}})`, `\\sum${s.sub(j)} ${P}(${D} \\mid ${H}_{${j}}) \\, ${P}(${H}_{${j}})`)}`
        }],
        [1, () => `${P}(A \\cup B) = ${P}(A) + ${P}(B) - ${P}(A \\cap B)`],
      ])()
    }],
    // Distributions.
    [3, () => {
      const k = s.pick(['k', 'j', 'm', 'x'])
      const N = s.pick(['N', 'Y', 'K', 'S'])
      return s.weighted<() => string>([
        [2, () => {
          const mu = s.pick(['\\mu', '\\theta', '\\nu'])
          return `${P}(${N} = ${k}) = ${s.fr(`${mu}^{${k}} e^{-${mu}}`, `${k}!`)}`
        }],
        [2, () => {
          const [m, q] = [s.pick(['n', 'N', 'm']), s.pick(['p', '\\theta', 'q'])]
          return `${P}(${N} = ${k}) = \\binom{${m}}{${k}} ${q}${s.sup(k)} (1 - ${q})${s.sup(`${m} - ${k}`)}`
        }],
        [1, () => `${P}(${X} = ${k}) = (1 - p)${s.sup(`${k} - 1`)} p, \\quad ${k} = 1, 2, \\ldots`],
        [2, () => {
          const l = s.pick(['\\lambda', '\\theta', '\\beta'])
          return `${s.call('f', x)} = ${l} e${s.sup(`-${l} ${x}`)}, \\quad ${x} \\geq 0`
        }],
        [2, () => {
          const [al, be] = [s.pick(['\\alpha', 'a']), s.pick(['\\beta', 'b', 's'])]
          return `${s.call('f', x)} = ${s.fr(`${x}^{${al} - 1} e^{-${x}/${be}}`, `\\Gamma(${al}) ${be}^{${al}}`)}`
        }],
        [1, () => `${s.call('f', x)} = ${s.sl('1', 'b - a')}, \\quad ${x} \\in [a, b]`],
        [3, () => `${s.call(s.pick(['f', 'p', '\\phi']), x)} = ${s.fr('1', s.pick(['\\sigma \\sqrt{2\\pi}', '\\sqrt{2\\pi} \\, \\sigma', '\\sqrt{2 \\pi \\sigma^2}']))} \\exp${s.par(`-${s.half(0.7)} ${s.fracPow(`${x} - \\mu`, '\\sigma', '2')}`)}`],
        [2, () => {
          const v = s.pick(['\\mathbf{x}', 'x', '\\mathbf{y}'])
          return `${s.call('p', v)} = ${s.fr('1', `(2\\pi)^{${s.pick(['d', 'n', 'p'])}/2} |\\Sigma|^{1/2}`)} \\exp${s.par(`-${s.half(0.7)} (${v} - \\mu)^{T} \\Sigma^{-1} (${v} - \\mu)`)}`
        }],
        [2, () => `\\hat{\\Sigma} = ${s.fr('1', `${n} - 1`)} \\sum${s.sub(`${i}=1`)}${s.sup(n)} (x${s.sub(i)} - \\bar{x})(x${s.sub(i)} - \\bar{x})${s.sup('T')}`],
        [1, () => `${X} \\sim ${s.pick(['N', '\\mathrm{Bin}', 'B', '\\mathrm{Exp}', 'U'])}(${s.pick(['\\mu, \\sigma^2', 'n, p', '\\lambda', 'a, b', '0, 1'])})${s.opt(0.5, () => ` \\Rightarrow ${ev(X)} = ${s.pick(['\\mu', 'np', '1/\\lambda', '(a + b)/2'])}`)}`],
      ])()
    }],
    // Sample statistics, tests, intervals.
    [2.5, () => s.weighted<() => string>([
      [2, () => `\\bar{${X}}${s.sub(n)} = ${s.fr('1', n)} \\sum${s.sub(`${i}=1`)}${s.sup(n)} ${X}${s.sub(i)} \\to ${s.pick(['\\mu', ev(X)])}`],
      [2, () => `\\bar{${x}} \\pm z${s.sub('\\alpha/2')} ${s.pick([s.fr(s.pick(['s', '\\sigma']), `\\sqrt{${n}}`), s.sl(s.pick(['s', '\\sigma']), `\\sqrt{${n}}`)])}`],
      [2, () => `${s.pick(['t', 'T', 'Z'])} = ${s.fr(`\\bar{${x}} - \\mu${s.sub('0')}`, `${s.pick(['s', '\\sigma', 'S'])} / \\sqrt{${n}}`)}`],
      [1, () => `\\sqrt{${n}} \\, (\\bar{${X}}${s.sub(n)} - \\mu) ${s.pick(['\\to', '\\sim'])} N(0, \\sigma${s.sup('2')})`],
      [1, () => `\\chi${s.sup('2')} = \\sum${s.sub(i)} ${s.fr(`(O_{${i}} - E_{${i}})^2`, `E_{${i}}`)}`],
      [1, () => `R${s.sup('2')} = 1 - ${s.fr(`\\sum_{${i}} (y_{${i}} - \\hat{y}_{${i}})^2`, `\\sum_{${i}} (y_{${i}} - \\bar{y})^2`)}`],
      [1, () => `y${s.sub(i)} = \\beta${s.sub('0')} + \\beta${s.sub('1')} x${s.sub(i)} + \\varepsilon${s.sub(i)}, \\quad \\varepsilon${s.sub(i)} \\sim N(0, \\sigma${s.sup('2')})`],
    ])()],
    // Likelihood and estimators.
    [2.5, () => {
      const th = s.pick(['\\theta', '\\lambda', '\\mu', '\\beta'])
      return s.weighted<() => string>([
        [2, () => `L(${th}) = \\prod${s.sub(`${i}=1`)}${s.sup(n)} ${s.call(s.pick(['f', 'p']), `x_{${i}} ${s.pick(['\\mid', ';'])} ${th}`)}`],
        [2, () => `\\hat{${th}} = \\arg\\max${s.sub(th)} \\sum${s.sub(`${i}=1`)}${s.sup(n)} \\log ${s.call(s.pick(['f', 'p']), `x_{${i}} ${s.pick(['\\mid', ';'])} ${th}`)}`],
        [1, () => `I(${th}) = -${ev(`${s.fr(`\\partial${s.sup('2')}`, `\\partial ${th}${s.sup('2')}`)} \\log ${s.call('f', `${X}; ${th}`)}`)}`],
        [2, () => `${Var}(\\hat{${th}}) \\geq ${s.sl('1', `${s.pick(['', 'n'])}I(${th})`)}`],
        [1, () => `\\mathrm{MSE}(\\hat{${th}}) = ${Var}(\\hat{${th}}) + ${s.par(`${ev(`\\hat{${th}}`)} - ${th}`)}${s.sup('2')}`],
        [1, () => `H(${X}) = -\\sum${s.sub(x)} ${s.call('p', x)} \\log${s.sub(s.pick(['2', '2', 'b']))} ${s.call('p', x)}`],
      ])()
    }],
  ])()
}

export function machineLearning (s: TopicStyle): string {
  const V = s.vecStyle()
  const i = s.pick(['i', 'n', 't'])
  const j = s.pick(['j', 'l', 'm'])
  const N = s.pick(['N', 'n', 'B', 'M'].filter((x) => x !== i))
  const K = s.pick(['K', 'C', 'V'])
  const th = s.pick(['\\theta', 'w', '\\mathbf{w}', 'W'])
  const lr = s.pick(['\\eta', '\\alpha', '\\gamma'])
  const t = s.pick(['t', 'k', 'n'])
  const E = s.ex()
  const name = (x: string) => (s.chance(0.4) ? `\\mathrm{${x}}` : x)
  const yhat = s.pick(['\\hat{y}', 'p', '\\hat{p}'])
  return s.weighted<() => string>([
    // Softmax.
    [2.5, () => {
      const z = s.pick(['z', 'x', 'a', 's'])
      const T = s.opt(0.3, () => `/${s.pick(['T', '\\tau'])}`)
      return `${name(s.pick(['softmax', 'softmax', 'p', 'y']))}${s.par(V(z))}${s.sub(i)} = ${s.fr(`e^{${z}_{${i}}${T}}`, `\\sum${s.sub(`${j}=1`)}${s.sup(K)} e^{${z}_{${j}}${T}}`)}`
    }],
    // Cross-entropy and other losses.
    [3, () => {
      const L = s.pick(['J(\\theta)', '\\ell', `L(${th})`, 'L_{CE}', 'E'])
      return s.weighted<() => string>([
        [2, () => `${L} = -\\sum${s.sub(`${i}=1`)}${s.sup(s.pick([N, K]))} y${s.sub(i)} \\log ${yhat}${s.sub(i)}`],
        [2, () => `${L} = -${s.fr('1', N)} \\sum${s.sub(`${i}=1`)}${s.sup(N)} ${s.brk(`y${s.sub(i)} \\log ${yhat}${s.sub(i)} + (1 - y${s.sub(i)}) \\log(1 - ${yhat}${s.sub(i)})`)}`],
        [2, () => `${s.pick(['\\mathrm{MSE}', 'L', 'J(\\theta)'])} = ${s.fr('1', N)} \\sum${s.sub(`${i}=1`)}${s.sup(N)} (y${s.sub(i)} - \\hat{y}${s.sub(i)})${s.sup('2')}`],
        [1, () => `H(p, q) = -\\sum${s.sub('x')} p(x) \\log q(x) = H(p) + D${s.sub('KL')}(p \\| q)`],
        [1, () => {
          const v0 = s.pick(['f(x)', '\\hat{y}', 's'])
          return `\\ell(y, ${v0}) = \\max(0, 1 - y ${v0})`
        }],
      ])()
    }],
    // Gradient steps.
    [3, () => s.weighted<() => string>([
      [3, () => `${th}${s.sub(`${t}+1`)} = ${th}${s.sub(t)} - ${lr} \\nabla${s.sub(th)} ${s.pick(['L', 'J', 'f', '\\ell'])}(${th}${s.sub(t)})`],
      [2, () => `${th} \\leftarrow ${th} - ${lr} ${s.pd(s.pick(['L', 'J', '\\ell']), th)}`],
      [1, () => `${th} \\leftarrow ${th} - ${s.fr(lr, '|B|')} \\sum${s.sub('i \\in B')} \\nabla${s.sub(th)} \\ell(x${s.sub('i')}, y${s.sub('i')}; ${th})`],
      [2, () => {
        const [v0, v1] = s.pick([['+', '-'], ['-', '+']] as const)
        return `v${s.sub(`${t}+1`)} = ${s.pick(['\\mu', '\\beta'])} v${s.sub(t)} ${v0} ${lr} \\nabla ${s.call(s.pick(['f', 'L']), `${th}_{${t}}`)}, \\quad ${th}${s.sub(`${t}+1`)} = ${th}${s.sub(t)} ${v1} v${s.sub(`${t}+1`)}`
      }],
      [2, () => `\\hat{m}${s.sub(t)} = ${s.sl(`m_{${t}}`, `1 - \\beta_1^{${t}}`)}, \\quad \\hat{v}${s.sub(t)} = ${s.sl(`v_{${t}}`, `1 - \\beta_2^{${t}}`)}`],
      [1, () => `${th}${s.sub(`${t}+1`)} = ${th}${s.sub(t)} - ${lr} ${s.sl(`\\hat{m}_{${t}}`, `\\sqrt{\\hat{v}_{${t}}} + \\epsilon`)}`],
      [1, () => `g${s.sub(t)} = \\nabla${s.sub(th)} ${s.call(s.pick(['L', 'f']), `${th}_{${t}-1}`)}, \\quad m${s.sub(t)} = \\beta${s.sub('1')} m${s.sub(`${t}-1`)} + (1 - \\beta${s.sub('1')}) g${s.sub(t)}`],
    ])()],
    // Norms and regularisers.
    [2.5, () => {
      const w = V(s.pick(['w', '\\beta', '\\theta']))
      return s.weighted<() => string>([
        [2, () => {
          const p = s.pick(['1', '2'])
          return `\\min${s.sub(w)} ${s.norm(`${V('y')} - ${s.pick(['X', 'A', '\\Phi'])} ${w}`, '2')}${s.sup('2')} + \\lambda ${s.norm(w, p)}${p === '2' ? s.sup('2') : ''}`
        }],
        [2, () => `\\min${s.sub(`${w}, b`)} ${s.half()} ${s.norm(w)}${s.sup('2')} + C \\sum${s.sub(`${i}=1`)}${s.sup(N)} \\max(0, 1 - y${s.sub(i)} (${w}${s.sup('T')} ${V('x')}${s.sub(i)} + b))`],
        [1, () => `${s.norm(V('x'), '1')} = \\sum${s.sub(i)} |x${s.sub(i)}|, \\quad ${s.norm(V('x'), '2')} = ${s.par(`\\sum${s.sub(i)} x${s.sub(i)}${s.sup('2')}`)}${s.sup('1/2')}`],
        [2, () => `${s.pick(['\\cos \\theta', 'sim(u, v)', 'S_C'])} = ${s.fr(s.inner(V('u'), V('v')), `${s.norm(V('u'))} \\, ${s.norm(V('v'))}`)}`],
        [2, () => `k(${V('x')}, ${V('x')}') = \\exp${s.par(`-${s.norm(`${V('x')} - ${V('x')}'`)}^2 / 2${s.pick(['\\sigma', '\\ell'])}^2`)} = ${s.inner(`\\phi(${V('x')})`, `\\phi(${V('x')}')`)}`],
      ])()
    }],
    // Attention.
    [2, () => s.weighted<() => string>([
      [2, () => `${name(s.pick(['Attn', 'head', 'A']))}(Q, K, V) = ${name('softmax')}${s.par(s.fr(`Q K${s.sup('T')}`, `\\sqrt{d${s.sub(s.pick(['k', 'h']))}}`))} V`],
      [2, () => {
        const l = j === 'l' ? 'k' : 'l'
        return `\\alpha${s.sub(`${i}${j}`)} = ${s.fr(`\\exp(e_{${i}${j}})`, `\\sum${s.sub(l)} \\exp(e_{${i}${l}})`)}, \\quad e${s.sub(`${i}${j}`)} = ${s.sl(`q_{${i}} \\cdot k_{${j}}`, '\\sqrt{d}')}`
      }],
      [1, () => `q${s.sub(i)} = W${s.sub('Q')} x${s.sub(i)}, \\quad k${s.sub(i)} = W${s.sub('K')} x${s.sub(i)}, \\quad v${s.sub(i)} = W${s.sub('V')} x${s.sub(i)}`],
      [1, () => `${V('o')}${s.sub(i)} = \\sum${s.sub(j)} \\alpha${s.sub(`${i}${j}`)} ${V('v')}${s.sub(j)}`],
    ])()],
    // Layers and activations.
    [2.5, () => {
      const z = s.pick(['z', 't', 'a', 'u'])
      return s.weighted<() => string>([
        [2, () => `\\sigma(${z}) = ${s.pick([s.sl('1', `1 + e^{-${z}}`), s.fr('1', `1 + e^{-${z}}`), s.fr(`e^{${z}}`, `1 + e^{${z}}`)])}${s.opt(0.3, () => `, \\quad \\sigma'(${z}) = \\sigma(${z})(1 - \\sigma(${z}))`)}`],
        [2, () => `${V('h')}${s.sup('(l)')} = ${s.pick(['\\sigma', '\\phi', 'f', '\\tanh'])}${s.par(`W${s.sup('(l)')} ${V('h')}${s.sup('(l-1)')} + ${V('b')}${s.sup('(l)')}`)}`],
        [1, () => `${name('ReLU')}(${z}) = \\max(0, ${z})`],
        [2, () => `\\hat{x}${s.sub(i)} = ${s.fr(`x_{${i}} - \\mu`, '\\sqrt{\\sigma^2 + \\epsilon}')}, \\quad \\mu = ${s.fr('1', 'H')} \\sum${s.sub(`${i}=1`)}${s.sup('H')} x${s.sub(i)}`],
        [2, () => `${s.pd('L', `w_{${i}${j}}`)} = ${s.pd('L', `z_{${j}}`)} ${s.pd(`z_{${j}}`, `w_{${i}${j}}`)} = \\delta${s.sub(j)} a${s.sub(i)}`],
      ])()
    }],
    // Divergences and expectations over data.
    [2, () => s.weighted<() => string>([
      [2, () => {
        const [a, b] = s.pick([['p', 'q'], ['q', 'p'], ['p', 'p_{\\theta}'], ['q_{\\phi}', 'p']] as const)
        const sum = s.chance(0.5)
        return `D${s.sub('KL')}(${a} \\| ${b}) = ${sum ? '\\sum_{x}' : '\\int'} ${a}(x) \\log ${s.fr(`${a}(x)`, `${b}(x)`)}${sum ? '' : s.d('x')}`
      }],
      [2, () => `R(${s.pick(['f', 'h', '\\theta'])}) = ${E}${s.sub(`(x, y) \\sim ${s.pick(['D', 'P', 'p'])}`)}${s.brk(`\\ell(${s.pick(['f(x)', 'h(x)', 'f_{\\theta}(x)'])}, y)`)}`],
      [1, () => `\\hat{R}(f) = ${s.fr('1', N)} \\sum${s.sub(`${i}=1`)}${s.sup(N)} \\ell(f(x${s.sub(i)}), y${s.sub(i)})`],
      [1, () => `\\log p(x) \\geq ${E}${s.sub('q(z)')}${s.brk('\\log p(x, z) - \\log q(z)')}`],
    ])()],
  ])()
}
