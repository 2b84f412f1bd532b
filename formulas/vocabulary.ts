/**
 * The grammar's symbols: letters, Greek, functions, relations with their
 * weights, blackboard letters, accents and spacing commands, and for random
 * formulas (mix 'v2') every symbol of the vocabulary by kind.
 */

export const LATIN = 'abcdefghijklmnopqrstuvwxyz'.split('')
export const LATIN_UP = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'.split('')
export const GREEK = [
  'alpha', 'beta', 'gamma', 'delta', 'epsilon', 'varepsilon', 'zeta', 'eta', 'theta', 'iota', 'kappa',
  'lambda', 'mu', 'nu', 'xi', 'pi', 'rho', 'sigma', 'tau', 'upsilon', 'phi', 'varphi', 'chi', 'psi', 'omega',
].map((g) => `\\${g}`)
export const GREEK_UP = ['Gamma', 'Delta', 'Theta', 'Lambda', 'Xi', 'Pi', 'Sigma', 'Upsilon', 'Phi', 'Psi', 'Omega'].map(
  (g) => `\\${g}`
)
export const FUNCS = ['sin', 'cos', 'tan', 'arctan', 'log', 'ln', 'exp', 'min', 'max', 'det', 'gcd'].map((f) => `\\${f}`)
export const RELATIONS: readonly (readonly [number, string])[] = [
  [30, '='], [4, '<'], [4, '>'], [5, '\\leq'], [5, '\\geq'], [4, '\\neq'], [4, '\\approx'], [3, '\\equiv'],
  [2, '\\sim'], [2, '\\propto'], [1, '\\le'], [1, '\\ge'], [1, '\\ne'],
]
export const BB = ['R', 'N', 'Z', 'Q', 'C', 'E', 'P', 'F']
export const ACCENTS = ['\\hat', '\\bar', '\\vec', '\\dot', '\\tilde']
export const SPACES = ['\\,', '\\;', '\\quad', '\\,', ' ']
// Random formulas (mix 'v2') draw from every symbol of the vocabulary.
export const RANDOM_BINARY = ['+', '-', '\\pm', '\\mp', '\\times', '\\cdot', '\\div', '\\ast', '\\star', '\\circ', '\\cup', '\\cap', '\\vee', '\\wedge']
export const RANDOM_RELATIONS = [
  '=', '<', '>', '\\leq', '\\geq', '\\neq', '\\approx', '\\equiv', '\\sim', '\\simeq', '\\cong', '\\propto', '\\ll', '\\gg',
  '\\in', '\\notin', '\\ni', '\\subset', '\\subseteq', '\\supset', '\\supseteq', '\\prec', '\\succ', '\\perp', '\\parallel',
  '\\mid', '\\models', '\\vdash',
]
export const RANDOM_ARROWS = ['\\to', '\\leftarrow', '\\leftrightarrow', '\\Rightarrow', '\\Leftarrow', '\\Leftrightarrow', '\\implies', '\\mapsto']
export const RANDOM_MISC = ['\\infty', '\\partial', '\\nabla', '\\emptyset', '\\angle', '\\ell', '\\hbar', '\\forall', '\\exists', '\\neg', '\\prime']
export const RANDOM_FUNCS = [
  '\\sin', '\\cos', '\\tan', '\\cot', '\\sec', '\\csc', '\\arcsin', '\\arccos', '\\arctan', '\\sinh', '\\cosh', '\\tanh',
  '\\log', '\\ln', '\\exp', '\\det', '\\dim', '\\ker', '\\deg', '\\arg', '\\gcd', '\\Pr', '\\max', '\\min', '\\sup', '\\inf',
  '\\lim', '\\liminf', '\\limsup',
]
export const RANDOM_DELIMITERS: readonly (readonly [string, string])[] = [
  ['(', ')'], ['[', ']'], ['\\{', '\\}'], ['|', '|'], ['\\|', '\\|'], ['\\langle', '\\rangle'], ['\\lfloor', '\\rfloor'], ['\\lceil', '\\rceil'],
]
