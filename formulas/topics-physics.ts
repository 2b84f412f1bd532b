/**
 * Topic formulas (mix 'v3') of mechanics, electromagnetism and quantum
 * mechanics: vectors in bold or with arrows, line and surface integrals with
 * d\mathbf{l} and d\mathbf{A}, inline fractions (\hbar/2, \sqrt{k/m}, \rho/\varepsilon_0),
 * bra-kets and commutators, time averages in \langle \rangle. Templates with
 * random letters, indices and optional pieces.
 */
import type { TopicStyle } from './topic-style.js'

/** The quantities of each topic's laws (TopicStyle.laws). */
const MECHANICS = ['m', 'M', 'v', 'a', 'g', 'k', 'r', 'R', 'L', 'I', '\\omega', '\\theta', 't', 'x', 'F', 'p', 'E', 'K', 'U', 'T', 'G', 'h', 'l', '\\rho', 'A', 'P', 'W', '\\tau', '\\mu', 'N', 'V', 'd']
const EM = ['q', 'Q', 'E', 'B', 'V', 'I', 'R', 'C', 'L', 'r', 'd', 'A', 'n', 'N', '\\varepsilon_0', '\\mu_0', '\\omega', 'c', '\\lambda', '\\sigma', '\\rho', 'k', 'P', 'U', 'Z', 'f', '\\Phi', 'e', 'm', 'v', 'l']
const QUANTUM = ['\\hbar', 'm', '\\omega', 'E', 'k', 'p', 'L', 'n', 'a', 'V', 'h', '\\nu', '\\lambda', 'c', 'e', 'a_0', 'Z', '\\mu', 'l', 'j', 's', 'g', 'B', 'x', '\\kappa', 'T']

export function mechanics (s: TopicStyle): string {
  const V = s.vecStyle()
  const [F, r, v, p, a] = ['F', 'r', 'v', 'p', 'a'].map(V) as [string, string, string, string, string]
  const t = s.pick(['t', 't', '\\tau'])
  const i = s.pick(['i', 'j', 'k'])
  const m = s.pick(['m', 'M', 'm_1', 'm_0'])
  return s.weighted<() => string>([
    // Laws among the quantities, of many shapes.
    [3, () => s.laws(MECHANICS)],
    // Newton's laws, momentum, kinematics.
    [2.5, () => s.weighted<() => string>([
      [2, () => `${F} = ${m} ${s.dd(r, t, 2)}${s.opt(0.4, () => ` = ${s.dd(p, t)}`)}`],
      [1, () => `\\sum${s.sub(i)} ${F}${s.sub(i)} = ${m} ${a}, \\quad ${F}${s.sub(`${i}j`)} = -${F}${s.sub(`j${i}`)}`],
      [2, () => `${v} = ${s.dd(r, t)}, \\quad ${a} = ${s.dd(v, t)} = ${s.dd(r, t, 2)}`],
      [2, () => `x(${t}) = x${s.sub('0')} + v${s.sub('0')} ${t} + ${s.half()} a ${t}${s.sup('2')}${s.opt(0.4, () => `, \\quad v${s.sup('2')} = v${s.sub('0')}${s.sup('2')} + 2a(x - x${s.sub('0')})`)}`],
      [1, () => `R = ${s.sl('v_0^2 \\sin(2\\theta)', 'g')}, \\quad h${s.sub('\\max')} = ${s.sl('v_0^2 \\sin^2\\theta', '2g')}`],
      [1, () => `a${s.sub('c')} = ${s.sl('v^2', 'r')} = \\omega${s.sup('2')} r`],
    ])()],
    // Work, energy, power.
    [2.5, () => s.weighted<() => string>([
      [2, () => `W = \\int${s.sub(s.pick(['C', '\\gamma', 'A']))}${s.opt(0.3, () => s.sup('B'))} ${F} \\cdot d${r}${s.opt(0.5, () => ` = K${s.sub('B')} - K${s.sub('A')}`)}`],
      [2, () => `E = ${s.half()} ${m} v${s.sup('2')} ${s.pick([`+ ${s.half()} k x^2`, `+ ${m} g h`, `+ U(${r})`, `- \\frac{G M ${m}}{r}`])}`],
      [1, () => `P = ${s.dd('W', t)} = ${F} \\cdot ${v}`],
      [1, () => `U(r) = -${s.fr(`G M ${m}`, 'r')}, \\quad ${F} = -\\nabla U`],
      [1, () => `v${s.sub('esc')} = \\sqrt{2GM/R}, \\quad g = ${s.sl('GM', 'R^2')}`],
    ])()],
    // Oscillations.
    [2, () => s.weighted<() => string>([
      [2, () => {
        const [a, b] = s.pick([['k', 'm'], ['g', 'L'], ['g', 'l'], ['k', 'M']] as const)
        return `\\omega = \\sqrt{${s.sl(a, b)}}, \\quad T = ${s.fr('2\\pi', '\\omega')}`
      }],
      [1, () => `T = 2\\pi \\sqrt{${s.sl('m', 'k')}}`],
      [2, () => `x(${t}) = A ${s.opt(0.4, () => `e${s.sup(`-\\gamma ${t}`)} `)}\\cos(\\omega ${t} + \\phi)`],
      [2, () => `${s.dd('x', t, 2)} + 2\\gamma ${s.dd('x', t)} + \\omega${s.sub('0')}${s.sup('2')} x = ${s.pick(['0', `${s.sl('F_0', 'm')} \\cos(\\omega ${t})`, `f(${t})`])}`],
      [1, () => `${m} ${s.dd('x', t, 2)} = -k x ${s.pick(['', '- b \\dot{x}', '+ F(t)'])}`],
    ])()],
    // Rotation and moments of inertia.
    [2.5, () => s.weighted<() => string>([
      [2, () => `${V('L')} = ${r} \\times ${p}, \\quad ${V('\\tau')} = ${r} \\times ${F} = ${s.dd(V('L'), t)}`],
      [2, () => `I = \\sum${s.sub(i)} m${s.sub(i)} r${s.sub(i)}${s.sup('2')} = \\int r${s.sup('2')}${s.d('m')}`],
      [2, () => `I${s.sub(s.pick(['z', 'O', 'x']))} = \\iint${s.sub(s.pick(['A', 'D', 'S']))} ${s.pick(['\\sigma', '\\rho', ''])}(x${s.sup('2')} + y${s.sup('2')})${s.d('A')}`],
      [1, () => `I = I${s.sub('cm')} + M d${s.sup('2')}`],
      [1, () => `K = ${s.half()} I \\omega${s.sup('2')}, \\quad L = I \\omega`],
      [1, () => `${V('R')} = ${s.fr('1', 'M')} \\int${s.sub('V')} \\rho \\, ${r}${s.d('V')}`],
    ])()],
    // Gravitation and orbits.
    [1.5, () => s.weighted<() => string>([
      [2, () => `${F} = -${s.fr(`G M ${m}`, `|${r}|^{2}`)} \\hat{${r}}`],
      [1, () => `T${s.sup('2')} = ${s.fr('4\\pi^2', 'GM')} a${s.sup('3')}`],
      [1, () => `r(\\theta) = ${s.fr(s.pick(['p', 'a(1 - e^2)', 'l']), '1 + e \\cos\\theta')}`],
    ])()],
    // Lagrangian and Hamiltonian mechanics.
    [2, () => {
      const q = s.pick(['q', 'x', '\\theta', 'r'])
      return s.weighted<() => string>([
        [2, () => `${s.dd('', t)} ${s.par(s.pd('L', `\\dot{${q}}_{${i}}`))} = ${s.pd('L', `${q}_{${i}}`)}`],
        [1, () => `L = T - V = ${s.half()} m \\dot{${q}}${s.sup('2')} - ${s.call('V', q)}`],
        [1, () => `H = \\sum${s.sub(i)} p${s.sub(i)} \\dot{q}${s.sub(i)} - L`],
        [2, () => `\\dot{q}${s.sub(i)} = \\partial H / \\partial p${s.sub(i)}, \\quad \\dot{p}${s.sub(i)} = -\\partial H / \\partial q${s.sub(i)}`],
        [1, () => `S = \\int${s.sub('t_1')}${s.sup('t_2')} ${s.call('L', `q, \\dot{q}, ${t}`)}${s.d(t)}, \\quad \\delta S = 0`],
        [1, () => `\\{ q${s.sub(i)}, p${s.sub('j')} \\} = \\delta${s.sub(`${i}j`)}, \\quad \\{ q${s.sub(i)}, q${s.sub('j')} \\} = 0`],
      ])()
    }],
    // Special relativity.
    [2, () => s.weighted<() => string>([
      [2, () => `\\gamma = ${s.sl('1', '\\sqrt{1 - v^2/c^2}')}`],
      [2, () => `${s.pick(["t'", "x'"])} = \\gamma ${s.par(s.pick([`t - ${s.sl('v x', 'c^2')}`, 'x - v t', `t - ${s.fr('vx', 'c^2')}`]))}`],
      [1, () => `E = \\gamma m c${s.sup('2')}, \\quad ${p} = \\gamma m ${v}`],
      [1, () => `E${s.sup('2')} = p${s.sup('2')} c${s.sup('2')} + m${s.sup('2')} c${s.sup('4')}`],
    ])()],
    // Fluids.
    [1.5, () => s.weighted<() => string>([
      [2, () => `${s.pd('\\rho', t)} + \\nabla \\cdot (\\rho ${V('u')}) = 0`],
      [1, () => `p + ${s.half()} \\rho v${s.sup('2')} + \\rho g z = ${s.pick(['\\mathrm{const}', 'C', 'p_0'])}`],
      [1, () => `p = p${s.sub('0')} + \\rho g h, \\quad F${s.sub('B')} = \\rho g V`],
    ])()],
  ])()
}

export function electromagnetism (s: TopicStyle): string {
  const V = s.vecStyle()
  const [E, B, J, A, D, H] = ['E', 'B', 'J', 'A', 'D', 'H'].map(V) as [string, string, string, string, string, string]
  const [r, l, v] = [V('r'), V(s.pick(['l', 's', '\\ell'])), V('v')]
  const eps = s.weighted([[4, '\\varepsilon_0'], [1, '\\epsilon_0'], [0.5, '\\varepsilon_{0}']] as const)
  const mu = '\\mu_0'
  const dt = (x: string) => s.pd(x, 't')
  return s.weighted<() => string>([
    [3, () => s.laws(EM)],
    // Maxwell's equations, two at a time.
    [3, () => {
      const eqs = [
        `\\nabla \\cdot ${E} = ${s.pick([s.sl('\\rho', eps), s.fr('\\rho', eps)])}`,
        `\\nabla \\cdot ${B} = 0`,
        `\\nabla \\times ${E} = -${dt(B)}`,
        `\\nabla \\times ${B} = ${mu} ${J} + ${mu} ${eps} ${dt(E)}`,
        `\\nabla \\cdot ${D} = \\rho${s.sub('f')}`,
        `\\nabla \\times ${H} = ${J}${s.sub('f')} + ${dt(D)}`,
      ]
      const [x, y] = s.two([0, 1, 2, 3, 4, 5])
      return `${eqs[x]!}${s.pick([', \\quad ', ',\\; ', ', \\qquad '])}${eqs[y]!}`
    }],
    // Integral forms.
    [3, () => s.weighted<() => string>([
      [2, () => {
        const emf = `\\oint${s.sub(s.pick(['\\partial S', '\\gamma', 'L']))} ${E} \\cdot d${l}`
        const flux = `\\iint${s.sub('S')} ${B} \\cdot d${A}`
        return s.chance(0.5) ? `${emf} = -${s.dd('', 't')} ${flux}` : `${emf} = -${s.dd('\\Phi_B', 't')}, \\quad \\Phi${s.sub('B')} = ${flux}`
      }],
      [2, () => `\\Phi${s.sub('E')} = ${s.pick(['\\oint', '\\iint'])}${s.sub('S')} ${E} \\cdot d${A} = ${s.sl(`Q${s.sub(s.pick(['enc', 'in']))}`, eps)}`],
      [2, () => `\\oint${s.sub(s.pick(['C', '\\gamma', '\\partial S']))} ${B} \\cdot d${l} = ${mu} I${s.sub(s.pick(['enc', 'C']))}${s.opt(0.5, () => ` + ${mu} ${eps} ${s.dd('\\Phi_E', 't')}`)}`],
      [1, () => `\\iint${s.sub('S')} ${B} \\cdot d${A} = 0`],
      [1, () => `\\Phi${s.sub('B')} = \\iint${s.sub(s.pick(['S', '\\Sigma']))} ${B} \\cdot ${V('n')} \\, dA`],
    ])()],
    // Charges, fields and potentials.
    [2.5, () => s.weighted<() => string>([
      [2, () => `${E}(${r}) = ${s.fr('q', `4\\pi ${eps}`)} ${s.fr(`${r} - ${r}'`, `|${r} - ${r}'|^{3}`)}`],
      [2, () => `${s.call('V', r)} = ${s.fr('1', `4\\pi ${eps}`)} \\int${s.sub(s.pick(['V', "V'"]))} ${s.fr(`\\rho(${r}')`, `|${r} - ${r}'|`)}${s.d(s.pick(["V'", "\\tau'", '^3 r\'']))}`],
      [2, () => `${E} = -\\nabla \\phi - ${dt(A)}, \\quad ${B} = \\nabla \\times ${A}`],
      [1, () => `F = k${s.sub('e')} ${s.fr('|q_1 q_2|', 'r^2')}, \\quad k${s.sub('e')} = ${s.sl('1', `4\\pi${eps}`)}`],
      [1, () => `V = ${s.fr('q', `4\\pi ${eps} r`)}, \\quad ${E} = -\\nabla V`],
    ])()],
    // Circuits.
    [2.5, () => s.weighted<() => string>([
      [2, () => `P = I V = I${s.sup('2')} R = ${s.sl('V^2', 'R')}`],
      [2, () => {
        const k = s.pick(['i', 'k', 'j'])
        return `${s.fr('1', `R${s.sub('eq')}`)} = \\sum${s.sub(k)} ${s.fr('1', `R_${k}`)}`
      }],
      [2, () => `q(t) = C V${s.sub('0')} ${s.par(`1 - e${s.sup(s.pick(['-t/RC', '-t/\\tau']))}`)}, \\quad I(t) = ${s.sl('V_0', 'R')} \\, e${s.sup('-t/RC')}`],
      [1, () => `\\omega${s.sub('0')} = ${s.sl('1', '\\sqrt{LC}')}, \\quad Z = R + i ${s.par(`\\omega L - ${s.sl('1', '\\omega C')}`)}`],
      [2, () => `L ${s.dd('I', 't')} + R I + ${s.fr('q', 'C')} = ${s.pick(['V(t)', '0', 'V_0 \\cos \\omega t'])}`],
      [1, () => `\\varepsilon = -${s.dd('\\Phi_B', 't')} = -N ${s.fr('d(B A \\cos\\theta)', 'dt')}`],
    ])()],
    // Energy, Poynting vector, averages.
    [2, () => s.weighted<() => string>([
      [2, () => `U = ${s.half()} C V${s.sup('2')} = ${s.fr('Q^2', '2C')}`],
      [2, () => `u = ${s.fr(eps, '2')} E${s.sup('2')} + ${s.fr('1', `2${mu}`)} B${s.sup('2')}`],
      [1, () => `U = ${s.fr(eps, '2')} \\int${s.sub('V')} |${E}|${s.sup('2')}${s.d('V')}`],
      [2, () => `${V('S')} = ${s.fr('1', mu)} ${E} \\times ${B}, \\quad ${s.delim('S', '\\langle', '\\rangle', 0, 0.1)} = ${s.half()} c ${eps} E${s.sub('0')}${s.sup('2')}`],
    ])()],
    // Magnetic fields and forces.
    [2.5, () => s.weighted<() => string>([
      [2, () => `d${B} = ${s.fr(mu, '4\\pi')} ${s.fr(`I \\, d${l} \\times \\hat{${r}}`, 'r^2')}`],
      [2, () => `B = ${s.pick([s.sl(`${mu} I`, '2\\pi r'), s.fr(`${mu} I`, '2 \\pi r'), `${mu} n I`])}`],
      [2, () => `${V('F')} = q ${E} + q ${v} \\times ${B}`],
      [2, () => `r = ${s.sl('m v', '|q| B')}, \\quad \\omega${s.sub('c')} = ${s.sl('|q| B', 'm')}`],
      [1, () => `${V('F')} = I \\int${s.sub('C')} d${l} \\times ${B}`],
    ])()],
    // Waves and optics.
    [2, () => s.weighted<() => string>([
      [2, () => `\\nabla${s.sup('2')} ${E} = ${mu} ${eps} ${s.pd(E, 't', 2)}, \\quad c = ${s.sl('1', `\\sqrt{${mu} ${eps}}`)}`],
      [2, () => `${E}(${r}, t) = ${E}${s.sub('0')} e${s.sup(`i(${V('k')} \\cdot ${r} - \\omega t)`)}`],
      [1, () => `n${s.sub('1')} \\sin \\theta${s.sub('1')} = n${s.sub('2')} \\sin \\theta${s.sub('2')}, \\quad n = ${s.sl('c', 'v')}`],
      [1, () => `I = I${s.sub('0')} \\cos${s.sup('2')} \\theta, \\quad d \\sin \\theta = m \\lambda`],
    ])()],
  ])()
}

export function quantum (s: TopicStyle): string {
  const psi = s.pick(['\\psi', '\\Psi', '\\phi', '\\chi'])
  const n = s.pick(['n', 'm', 'k', 'j'])
  const h = (x: string) => `\\hat{${x}}`
  const op = s.pick(['A', 'B', 'O', 'Q', 'H'])
  const ket = (x: string) => s.ket(x)
  return s.weighted<() => string>([
    [2.5, () => s.laws(QUANTUM)],
    // States, expansions, projections.
    [3.5, () => s.weighted<() => string>([
      [2, () => `${ket(psi)} = \\sum${s.sub(n)} c${s.sub(n)} ${ket(n)}, \\quad c${s.sub(n)} = ${s.braket(n, psi)}`],
      [2, () => `\\sum${s.sub(n)} |c${s.sub(n)}|${s.sup('2')} = 1, \\quad \\sum${s.sub(n)} ${ket(n)}${s.bra(n)} = ${s.pick(['I', '1'])}`],
      [2, () => {
        const k = n === 'm' ? 'i' : s.pick(['m', 'i'])
        return `${s.braket(`${psi}_${k}`, `${psi}_${n}`)} = \\delta${s.sub(`${k}${n}`)}`
      }],
      [2, () => `${ket(psi)} = \\alpha ${ket('0')} + \\beta ${ket('1')}, \\quad |\\alpha|${s.sup('2')} + |\\beta|${s.sup('2')} = 1`],
      [1, () => `${ket('\\pm')} = ${s.pick([s.fr('1', '\\sqrt{2}'), s.sl('1', '\\sqrt{2}')])} (${ket('0')} \\pm ${ket('1')})`],
      [2, () => {
        const v0 = s.pick(['a', 'E', '\\lambda'])
        return `P(${v0}${s.sub(n)}) = |${s.braket(`${v0}_${n}`, psi)}|${s.sup('2')}`
      }],
      [2, () => {
        const [k, w] = [s.pick(['k', 'j']), s.pick(['w', '\\lambda', 'q'])]
        return `\\rho = \\sum${s.sub(k)} ${w}${s.sub(k)} ${ket(`${psi}_${k}`)}${s.bra(`${psi}_${k}`)}, \\quad \\mathrm{Tr} \\, \\rho = 1`
      }],
    ])()],
    // Expectation values.
    [3, () => s.weighted<() => string>([
      [2, () => `${s.delim(h(op), '\\langle', '\\rangle', 0, 0.1)} = ${s.braket(psi, psi, h(op))}${s.opt(0.4, () => ` = \\mathrm{Tr}(\\rho ${h(op)})`)}`],
      [2, () => `${s.delim('x', '\\langle', '\\rangle', 0, 0.05)} = \\int${s.sub('-\\infty')}${s.sup('\\infty')} x \\, |${s.call(psi, 'x')}|${s.sup('2')}${s.d('x')}`],
      [1, () => `${s.delim(h('p'), '\\langle', '\\rangle', 0, 0.05)} = \\int ${psi}${s.sup('*')} ${s.par(`-i\\hbar ${s.pd(psi, 'x')}`)}${s.d('x')}`],
      [2, () => `${s.dd('', 't')} ${s.delim(h(op), '\\langle', '\\rangle', 0, 0.1)} = ${s.pick([s.fr('i', '\\hbar'), '\\frac{1}{i\\hbar}'])} ${s.delim(`[${h('H')}, ${h(op)}]`, '\\langle', '\\rangle', 0, 0.1)}`],
      [1, () => `\\Delta ${op} = \\sqrt{${s.delim(`${op}^2`, '\\langle', '\\rangle', 0, 0)} - ${s.delim(op, '\\langle', '\\rangle', 0, 0)}^2}`],
      [2, () => `E${s.sub(n)}${s.sup('(1)')} = ${s.braket(`${n}^{(0)}`, `${n}^{(0)}`, h(s.pick(['V', "H'", 'W'])))}`],
    ])()],
    // Commutators and uncertainty.
    [3, () => {
      const [a, b, c] = s.pick([['x', 'y', 'z'], ['y', 'z', 'x'], ['z', 'x', 'y']] as const)
      return s.weighted<() => string>([
        [2, () => `[${h('x')}${s.sub('i')}, ${h('p')}${s.sub('j')}] = i \\hbar \\delta${s.sub('ij')}`],
        [2, () => `[${h('L')}${s.sub(a)}, ${h('L')}${s.sub(b)}] = i \\hbar ${h('L')}${s.sub(c)}`],
        [1, () => s.chance(0.5) ? `[${h('x')}, ${h('p')}${s.sup('2')}] = 2 i \\hbar ${h('p')}` : `[${h('x')}, ${h('p')}${s.sup('n')}] = n i \\hbar ${h('p')}${s.sup('n-1')}`],
        [2, () => `[${h('A')}, ${h('B')} ${h('C')}] = [${h('A')}, ${h('B')}] ${h('C')} + ${h('B')} [${h('A')}, ${h('C')}]`],
        [2, () => `\\Delta ${s.pick(['x', 'E', 'A'])} \\, \\Delta ${s.pick(['p', 't', 'B'])} \\geq ${s.pick(['\\hbar/2', s.fr('\\hbar', '2'), `\\frac{1}{2} |\\langle [${h('A')}, ${h('B')}] \\rangle|`])}`],
        [1, () => `[${h('H')}, ${h('a')}] = -\\hbar \\omega ${h('a')}, \\quad ${h('N')} ${ket(n)} = ${n} ${ket(n)}`],
      ])()
    }],
    // Operators and energies.
    [3, () => s.weighted<() => string>([
      [2, () => `${h('H')} = ${s.fr(`${h('p')}^2`, '2m')} + ${s.pick([`${s.half()} m \\omega^2 ${h('x')}^2`, `V(${h('x')})`, '-\\frac{e^2}{4\\pi\\varepsilon_0 r}'])}`],
      [2, () => `${h('H')} ${ket(n)} = E${s.sub(n)} ${ket(n)}, \\quad E${s.sub(n)} = \\hbar \\omega ${s.par(`${n} + ${s.half()}`)}`],
      [2, () => `E${s.sub(n)} = ${s.fr(`${n}^2 \\pi^2 \\hbar^2`, '2 m L^2')}, \\quad ${s.call(`${psi}_${n}`, 'x')} = \\sqrt{2/L} \\, \\sin(${n} \\pi x / L)`],
      [1, () => `${h('p')} = -i \\hbar ${s.pd('', 'x')}, \\quad ${h('x')} ${s.call(psi, 'x')} = x ${s.call(psi, 'x')}`],
      [2, () => `${h('S')}${s.sub('z')} ${ket('\\pm')} = \\pm ${s.pick(['\\hbar/2', s.fr('\\hbar', '2')])} ${ket('\\pm')}`],
      [2, () => `${h('L')}${s.sup('2')} ${ket('l, m')} = \\hbar${s.sup('2')} l(l+1) ${ket('l, m')}, \\quad ${h('L')}${s.sub('z')} ${ket('l, m')} = m \\hbar ${ket('l, m')}`],
      [1, () => `${h('a')} = \\sqrt{${s.sl('m\\omega', '2\\hbar')}} ${s.par(`${h('x')} + ${s.sl(`i ${h('p')}`, 'm\\omega')}`)}`],
    ])()],
    // Time evolution and wave functions.
    [2.5, () => s.weighted<() => string>([
      [2, () => `${ket(`${psi}(t)`)} = e${s.sup(`-i ${h('H')} t/\\hbar`)} ${ket(`${psi}(0)`)}`],
      [2, () => `${ket(`${psi}(t)`)} = \\sum${s.sub(n)} c${s.sub(n)} e${s.sup(`-i E_${n} t/\\hbar`)} ${ket(n)}`],
      [2, () => `i \\hbar ${s.pd('', 't')} ${ket(`${psi}(t)`)} = ${h('H')} ${ket(`${psi}(t)`)}`],
      [2, () => `\\int${s.sub('-\\infty')}${s.sup('\\infty')} |${s.call(psi, 'x, t')}|${s.sup('2')}${s.d('x')} = 1`],
      [1, () => `${s.pick(['j', 'J'])} = ${s.fr('\\hbar', '2mi')} ${s.par(`${psi}^{*} ${s.pd(psi, 'x')} - ${psi} ${s.pd(`${psi}^{*}`, 'x')}`)}`],
      [1, () => `T \\approx e${s.sup('-2\\kappa L')}, \\quad \\kappa = ${s.sl('\\sqrt{2m(V_0 - E)}', '\\hbar')}`],
    ])()],
    // Photons and matter waves.
    [1.5, () => s.weighted<() => string>([
      [2, () => `E = h \\nu = ${s.sl('hc', '\\lambda')}, \\quad p = ${s.sl('h', '\\lambda')} = \\hbar k`],
      [1, () => `\\lambda = ${s.sl('h', s.pick(['p', 'mv', '\\sqrt{2mE}']))}`],
      [1, () => `E${s.sub(n)} = -${s.fr(s.pick(['13.6', 'R_H', 'E_1']), `${n}^2`)}, \\quad ${s.sl('1', '\\lambda')} = R ${s.par(`${s.sl('1', 'n_1^2')} - ${s.sl('1', 'n_2^2')}`)}`],
    ])()],
  ])()
}
