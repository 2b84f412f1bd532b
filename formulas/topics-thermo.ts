/**
 * Topic formulas (mix 'v3') of thermodynamics and statistical mechanics
 * (differentials, Maxwell relations as fractions in big parentheses with a
 * subscript, partition functions, inline fractions like E/k_B T) and of
 * chemical kinetics and equilibria (concentrations in square brackets, rate
 * laws, equilibrium constants, pH, enzyme kinetics, cells). Templates with
 * random species, letters and optional pieces.
 */
import type { TopicStyle } from './topic-style.js'

/** The quantities of the laws (TopicStyle.laws) of thermodynamics, and of chemistry. */
const THERMO = ['P', 'V', 'T', 'n', 'R', 'k_B', 'N', 'S', 'U', 'Q', 'W', 'C_V', 'C_P', 'm', 'c', 'L', '\\gamma', 'h', 'A', '\\sigma', '\\varepsilon', '\\mu', 'Z', '\\beta', '\\kappa', '\\alpha', 'H', 'F', 'G', '\\eta', '\\lambda']
const CHEMISTRY = ['[A]', '[B]', '[C]', '[S]', '[E]', '[P]', '[A]_0', 'k', 'k_1', 'k_2', 'K', 'K_a', 'R', 'T', 'E_a', '\\Delta H', '\\Delta G', 'n', 'F', 'c', 'V', 't', 'P', 'x', 'M']

export function thermodynamics (s: TopicStyle): string {
  const kB = s.pick(['k_B', 'k_{B}', 'k', 'k_{\\mathrm{B}}'])
  const P = s.pick(['P', 'P', 'p'])
  const i = s.pick(['j', 'n', 'r', 's'])
  const beta = s.pick(['\\beta', `${s.sl('1', `${kB} T`)}`])
  return s.weighted<() => string>([
    [3, () => s.laws(THERMO)],
    // Differentials of the potentials.
    [3, () => s.weighted<() => string>([
      [2, () => `dU = T \\, dS - P \\, dV${s.opt(0.5, () => ' + \\mu \\, dN')}`],
      [1, () => `dH = T \\, dS + V \\, d${P}${s.opt(0.4, () => ' + \\mu \\, dN')}`],
      [1, () => `dF = -S \\, dT - ${P} \\, dV${s.opt(0.4, () => ' + \\mu \\, dN')}`],
      [1, () => `dG = -S \\, dT + V \\, d${P}${s.opt(0.4, () => ` + \\sum${s.sub(i)} \\mu${s.sub(i)} \\, dN${s.sub(i)}`)}`],
      [2, () => `dS = ${s.sl(`\\delta Q${s.sub('rev')}`, 'T')}, \\quad \\Delta S = \\int${s.sub('1')}${s.sup('2')} ${s.fr('\\delta Q', 'T')}`],
      [1, () => `\\Delta U = Q - W, \\quad W = \\int${s.sub('V_1')}${s.sup('V_2')} ${P} \\, dV = n R T \\ln(${s.sl('V_2', 'V_1')})`],
    ])()],
    // Maxwell relations and other partial derivatives at fixed variables.
    [3, () => {
      // (∂a/∂b)_c = ±(∂d/∂e)_f; not (∂T/∂V)_S = -(∂p/∂S)_V, which held-out C writes.
      const rels: [string, string, string, string, string, string, string][] = [
        ['T', 'P', 'S', 'V', 'S', 'P', ''],
        ['S', 'V', 'T', 'P', 'T', 'V', ''],
        ['S', 'P', 'T', 'V', 'T', 'P', '-'],
        ['V', 'T', 'P', 'S', 'P', 'T', '-'],
      ]
      const [a, b, c, d, e, f, sign] = s.pick(rels)
      const fix = (num: string, den: string, sub: string) => `${s.fracPow(num, den)}${s.sub(sub)}`
      return s.weighted<() => string>([
        [3, () => `${fix(`\\partial ${a}`, `\\partial ${b}`, c)} = ${sign}${fix(`\\partial ${d}`, `\\partial ${e}`, f)}`],
        [1, () => `C${s.sub('V')} = ${fix('\\partial U', '\\partial T', 'V')}, \\quad C${s.sub('P')} = ${fix('\\partial H', '\\partial T', 'P')}`],
        [1, () => `\\kappa${s.sub('T')} = -${s.fr('1', 'V')} ${fix('\\partial V', '\\partial P', 'T')}`],
      ])()
    }],
    // Gases, engines, processes.
    [2.5, () => s.weighted<() => string>([
      [2, () => `${P}V = ${s.pick(['nRT', `N ${kB} T`])}, \\quad ${s.pick(['C_P - C_V = nR', '\\gamma = C_P/C_V', 'U = \\frac{3}{2} nRT'])}`],
      [2, () => `\\eta = 1 - ${s.sl(s.pick(['T_c', 'T_L', 'T_2']), s.pick(['T_h', 'T_H', 'T_1']))}${s.opt(0.5, () => `, \\quad \\eta = ${s.sl('W', 'Q_h')}`)}`],
      [1, () => `${P}V${s.sup('\\gamma')} = \\mathrm{const}, \\quad T V${s.sup('\\gamma - 1')} = \\mathrm{const}`],
      [1, () => `${s.par(`P + ${s.fr('a', 'V_m^2')}`)}(V${s.sub('m')} - b) = RT`],
      [1, () => 'Q = m c \\Delta T, \\quad Q = m L'],
      [1, () => `${s.dd(P, 'T')} = ${s.fr('L', 'T \\Delta V')}, \\quad \\ln(${s.sl(`${P}_2`, `${P}_1`)}) = -${s.fr('\\Delta H', 'R')} ${s.par(`${s.sl('1', 'T_2')} - ${s.sl('1', 'T_1')}`)}`],
    ])()],
    // Statistical mechanics.
    [3.5, () => {
      const E = s.pick(['E', '\\varepsilon', 'U'])
      return s.weighted<() => string>([
        [2, () => `Z = \\sum${s.sub(i)} e${s.sup(`-${beta} ${E}_{${i}}`)}, \\quad p${s.sub(i)} = ${s.sl(`e^{-${E}_{${i}}/${kB} T}`, 'Z')}`],
        [2, () => `${s.delim(E, '\\langle', '\\rangle', 0, 0.1)} = -${s.pd('\\ln Z', '\\beta')}, \\quad F = -${kB} T \\ln Z`],
        [2, () => `S = -${kB} \\sum${s.sub(i)} P${s.sub(i)} \\ln P${s.sub(i)}`],
        [1, () => `\\beta = ${s.sl('1', `${kB} T`)}`],
        [2, () => `\\bar{n}${s.opt(0.5, () => s.sub(i))} = ${s.fr('1', `e^{(${E} - \\mu)/${kB} T} ${s.pick(['\\pm', '-'])} 1`)}`],
        [1, () => `${s.delim(E, '\\langle', '\\rangle', 0, 0)} = ${s.fr(s.pick(['f', '3', 'd']), '2')} ${kB} T`],
        [1, () => `${s.delim(`${E}^2`, '\\langle', '\\rangle', 0, 0)} - ${s.delim(E, '\\langle', '\\rangle', 0, 0)}${s.sup('2')} = ${kB} T${s.sup('2')} C${s.sub('V')}`],
        [1, () => `Z = ${s.fr('1', 'N!')} ${s.fracPow('V', '\\lambda^3', 'N')}, \\quad \\lambda = ${s.sl('h', `\\sqrt{2 \\pi m ${kB} T}`)}`],
      ])()
    }],
    // Heat transfer and radiation.
    [2, () => s.weighted<() => string>([
      [2, () => {
        const v0 = s.pick(['T', 'u'])
        return `${s.pd(v0, 't')} = ${s.pick(['\\alpha', 'D', '\\kappa'])} \\nabla${s.sup('2')} ${v0}`
      }],
      [1, () => `${s.pick(['\\mathbf{q}', '\\vec{q}', 'q'])} = -k \\nabla T, \\quad \\dot{Q} = -k A ${s.dd('T', 'x')}`],
      [2, () => `P = \\varepsilon \\sigma A T${s.sup('4')}, \\quad \\lambda${s.sub('\\max')} T = b`],
      [1, () => `u(\\nu, T) = ${s.fr('8\\pi h \\nu^3', 'c^3')} ${s.fr('1', `e^{h\\nu/${kB} T} - 1`)}`],
    ])()],
  ])()
}

/** A chemical species as written in a concentration: A, B, H^+, OH^-, NH_3, \mathrm{Fe}^{3+}, ... */
function species (s: TopicStyle): string {
  const plain = s.pick(['A', 'B', 'C', 'D', 'P', 'R', 'X', 'Y', 'E', 'S', 'I', 'ES', 'AB', 'A_2'])
  const ion = s.pick(['H^+', 'H^{+}', 'OH^-', 'OH^{-}', 'NH_3', 'NH_4^+', 'H_2O', 'Cl^-', 'Fe^{3+}', 'Fe^{2+}', 'CO_2', 'SO_4^{2-}', 'Ag^+', 'Cu^{2+}', 'O_2', 'N_2', 'H_2', 'I_2', 'HI', 'NO_2', 'N_2O_4'])
  return s.weighted<() => string>([
    [5, () => plain],
    [3, () => ion],
    [1, () => ion.replace(/^([A-Za-z]+)/, '\\mathrm{$1}')],
  ])()
}

export function chemistry (s: TopicStyle): string {
  const [A, B] = [species(s), species(s)]
  const c = (x: string) => `[${x}]`
  const k = s.pick(['k', 'k_1', 'k_{obs}', 'k_r'])
  const t = 't'
  const ord = () => s.pick(['', '', s.sup('2'), s.sup(String(s.int(1, 3))), s.sup(s.pick(['m', 'n', 'x', 'y', '1/2', '\\alpha']))])
  return s.weighted<() => string>([
    [2.5, () => s.laws(CHEMISTRY)],
    // Rate laws.
    [3, () => s.weighted<() => string>([
      [3, () => `${s.pick(['r', 'v', 'R'])} = ${k} ${c(A)}${ord()} ${c(B)}${ord()}`],
      [2, () => `-${s.dd(c(A), t)} = ${k} ${c(A)}${ord()}${s.opt(0.4, () => ` ${c(B)}${ord()}`)}`],
      [2, () => `${s.dd(c(s.pick(['P', 'C', 'I', 'ES'])), t)} = ${s.fr(`k_1 k_2 ${c(A)} ${c(B)}`, `k_{-1} + k_2 ${s.opt(0.5, () => c(B))}`)}`],
      [1, () => `r = -${s.fr('1', s.pick(['a', '2', '3']))} ${s.dd(c(A), t)} = ${s.fr('1', s.pick(['c', '2', '4']))} ${s.dd(c(B), t)}`],
      [1, () => `${s.dd(c('ES'), t)} = k${s.sub('1')} ${c('E')}${c('S')} - (k${s.sub('-1')} + k${s.sub('2')}) ${c('ES')} ${s.pick(['= 0', '\\approx 0'])}`],
    ])()],
    // Integrated rate laws and half-lives.
    [3, () => s.weighted<() => string>([
      [2, () => `\\ln ${c(A)} = \\ln ${c(A)}${s.sub('0')} - ${k} ${t}`],
      [2, () => `${c(A)} = ${c(A)}${s.sub('0')} ${s.pick(['e^{-kt}', `\\exp(-${k} ${t})`, `- ${k} ${t}`])}`],
      [2, () => `${s.fr('1', c(A))} = ${s.fr('1', `${c(A)}_0`)} + ${k} ${t}`],
      [2, () => `t${s.sub('1/2')} = ${s.pick([s.sl('\\ln 2', k), s.fr('0.693', k), s.fr('1', `${k} ${c(A)}_0`), s.sl(`${c(A)}_0`, `2${k}`)])}`],
      [1, () => `${c(B)}(${t}) = ${s.fr(`k_1 ${c(A)}_0`, 'k_2 - k_1')} ${s.par('e^{-k_1 t} - e^{-k_2 t}')}`],
    ])()],
    // Arrhenius and transition state.
    [2.5, () => s.weighted<() => string>([
      [2, () => `${s.pick(['k(T)', 'k_r', 'k'])} = A \\, ${s.pick(['\\exp(-E_a/RT)', '\\exp\\left( -\\frac{E_a}{RT} \\right)', 'e^{-E_a/(RT)}', 'e^{-E_a/k_B T}'])}`],
      [2, () => `\\ln k = \\ln A - ${s.fr('E_a', 'R')} ${s.fr('1', 'T')}`],
      [2, () => `\\ln(${s.sl('k_2', 'k_1')}) = -${s.fr('E_a', 'R')} ${s.par(`${s.sl('1', 'T_2')} - ${s.sl('1', 'T_1')}`)}`],
      [1, () => `k = ${s.fr('k_B T', 'h')} e${s.sup('-\\Delta G^{\\neq}/RT')}`],
    ])()],
    // Equilibrium constants and free energy.
    [3, () => {
      const [C, D] = [species(s), species(s)]
      const co = () => s.pick(['', '', s.sup(String(s.int(2, 4))), s.sup(s.pick(['a', 'b', 'c', 'd', 'n']))])
      return s.weighted<() => string>([
        [3, () => `K${s.sub(s.pick(['c', 'eq', 'p']))} = ${s.fr(`${c(C)}${co()} ${c(D)}${co()}`, `${c(A)}${co()} ${c(B)}${co()}`)}`],
        [1, () => `K${s.sub('p')} = K${s.sub('c')} (RT)${s.sup('\\Delta n')}`],
        [2, () => `\\Delta G = \\Delta G${s.sup('\\circ')} + RT \\ln Q, \\quad Q = ${s.fr(c(C), `${c(A)} ${c(B)}`)}`],
        [2, () => `K = e${s.sup('-\\Delta G^{\\circ}/RT')}, \\quad \\Delta G = \\Delta H - T \\Delta S`],
        [1, () => `${s.dd('\\ln K', 'T')} = ${s.fr('\\Delta H^{\\circ}', 'RT^2')}`],
      ])()
    }],
    // Acids, bases, pH.
    [2.5, () => {
      const pH = s.pick(['pH', '\\mathrm{pH}'])
      return s.weighted<() => string>([
        [2, () => `${pH} = -\\log${s.opt(0.3, () => s.sub('10'))} [${s.pick(['H^+', 'H^{+}', '\\mathrm{H}^+', 'H_3O^+'])}]`],
        [2, () => `K${s.sub('a')} = ${s.fr(`[H^{+}][${s.pick(['B^-', 'In^-', 'A^-'])}]`, `[H${s.pick(['B', 'In', 'A'])}]`)}`],
        [2, () => `${pH} = pK${s.sub('a')} + \\log(${s.sl('[A^-]', '[HA]')})`],
        [1, () => `K${s.sub('w')} = [H${s.sup('+')}][OH${s.sup('-')}] = 10${s.sup('-14')}, \\quad pK${s.sub('a')} + pK${s.sub('b')} = 14`],
        [1, () => `pK${s.sub('a')} = -\\log K${s.sub('a')}, \\quad [OH${s.sup('-')}] = ${s.sl('K_w', '[H^+]')}`],
      ])()
    }],
    // Enzyme kinetics.
    [2, () => {
      const Km = s.pick(['K_m', 'K_{M}', 'K_m'])
      return s.weighted<() => string>([
        [2, () => `v${s.sub('0')} = ${s.fr(`V${s.sub('\\max')} [S]`, `${Km} + [S]`)}${s.opt(0.4, () => `, \\quad V${s.sub('\\max')} = k${s.sub('cat')} [E]${s.sub('0')}`)}`],
        [1, () => `${s.fr('1', 'v_0')} = ${s.fr(Km, 'V_{\\max}')} ${s.fr('1', '[S]')} + ${s.fr('1', 'V_{\\max}')}`],
        [1, () => `${Km} = ${s.sl('k_{-1} + k_2', 'k_1')}`],
      ])()
    }],
    // Electrochemistry, gases, solutions.
    [2, () => s.weighted<() => string>([
      [2, () => {
        const v0 = s.pick(['cell', 'red'])
        return `E${s.sub(v0)} = E${s.sup('\\circ')}${s.sub(v0)} - ${s.pick([s.fr('RT', 'nF'), s.fr('0.0592', 'n'), s.sl('RT', 'nF')])} ${s.pick(['\\ln Q', '\\log Q', '\\ln K'])}`
      }],
      [1, () => `\\Delta G${s.sup('\\circ')} = -n F E${s.sup('\\circ')}${s.sub('cell')}`],
      [1, () => `A = \\varepsilon l c = -\\log(${s.sl('I', 'I_0')})`],
      [1, () => `\\Pi = ${s.pick(['cRT', 'iMRT'])}, \\quad \\Delta T${s.sub('f')} = K${s.sub('f')} m`],
      [1, () => `P${s.sub('A')} = x${s.sub('A')} P${s.sub('A')}${s.sup('*')}, \\quad c = ${s.sl('n', 'V')}`],
    ])()],
  ])()
}
