/**
 * What the canonical form knows of LaTeX's commands: those dropped (spacing,
 * sizing), synonyms and the one spelling each maps to, the commands with
 * arguments and how many, the known symbols that take none, and the fonts
 * whose argument is split letter by letter.
 */

/** Commands that only change spacing or size: dropped. */
export const DROP = new Set([
  '\\,', '\\;', '\\:', '\\!', '\\ ', '~', '\\quad', '\\qquad', '\\thinspace', '\\medspace',
  '\\thickspace', '\\enspace', '\\negthinspace', '\\limits', '\\nolimits', '\\displaystyle',
  '\\textstyle', '\\nonumber', '\\notag', '\\mathstrut', '\\strut',
])
/** Delimiter sizing: dropped, and a following `.` (null delimiter) with it. */
export const SIZING = new Set([
  '\\left', '\\right', '\\middle', '\\big', '\\Big', '\\bigg', '\\Bigg', '\\bigl', '\\bigr',
  '\\Bigl', '\\Bigr', '\\biggl', '\\biggr', '\\Biggl', '\\Biggr', '\\bigm', '\\Bigm',
])
export const SYNONYM: Record<string, string> = {
  '\\le': '\\leq',
  '\\ge': '\\geq',
  '\\ne': '\\neq',
  '\\rightarrow': '\\to',
  '\\gets': '\\leftarrow',
  '\\lbrace': '\\{',
  '\\rbrace': '\\}',
  '\\lbrack': '[',
  '\\rbrack': ']',
  '\\vert': '|',
  '\\lvert': '|',
  '\\rvert': '|',
  '\\Vert': '\\|',
  '\\lVert': '\\|',
  '\\rVert': '\\|',
  '\\dots': '\\ldots',
  '\\dotsc': '\\ldots',
  '\\dotsb': '\\cdots',
  '\\lt': '<',
  '\\gt': '>',
  '\\dfrac': '\\frac',
  '\\tfrac': '\\frac',
  '\\dbinom': '\\binom',
  '\\tbinom': '\\binom',
  '\\land': '\\wedge',
  '\\lor': '\\vee',
  '\\lnot': '\\neg',
  '\\iff': '\\Leftrightarrow',
  '\\owns': '\\ni',
  '\\bf': '\\mathbf',
  '\\to': '\\to',
  '\\colon': ':',
  '\\dotsm': '\\cdots',
  '\\dotsi': '\\cdots',
  '\\varnothing': '\\emptyset',
  '\\mathbit': '\\boldsymbol',
}
/** Commands with mandatory arguments, by count. */
export const ARITY: Record<string, number> = {
  '\\frac': 2,
  '\\binom': 2,
  '\\sqrt': 1,
  '\\hat': 1,
  '\\bar': 1,
  '\\vec': 1,
  '\\dot': 1,
  '\\ddot': 1,
  '\\tilde': 1,
  '\\widehat': 1,
  '\\widetilde': 1,
  '\\overline': 1,
  '\\underline': 1,
  '\\mathbb': 1,
  '\\mathbf': 1,
  '\\mathrm': 1,
  '\\mathcal': 1,
  '\\mathit': 1,
  '\\boldsymbol': 1,
  '\\operatorname': 1,
  '\\pmod': 1,
  '\\text': 1,
  '\\mathsf': 1,
  '\\mathfrak': 1,
  '\\overrightarrow': 1,
}
/** Known commands that take no argument: a group after one of them is not its argument. */
export const SYMBOLS: ReadonlySet<string> = new Set(
  (
    '\\alpha \\beta \\gamma \\delta \\epsilon \\varepsilon \\zeta \\eta \\theta \\vartheta \\iota \\kappa ' +
    '\\lambda \\mu \\nu \\xi \\pi \\rho \\sigma \\tau \\upsilon \\phi \\varphi \\chi \\psi \\omega ' +
    '\\Gamma \\Delta \\Theta \\Lambda \\Xi \\Pi \\Sigma \\Upsilon \\Phi \\Psi \\Omega ' +
    '\\leq \\geq \\neq \\approx \\equiv \\sim \\simeq \\propto \\pm \\mp \\times \\cdot \\div \\in \\notin \\ni ' +
    '\\subset \\subseteq \\supset \\supseteq \\cup \\cap \\forall \\exists \\to \\leftarrow \\Rightarrow \\Leftarrow ' +
    '\\Leftrightarrow \\leftrightarrow \\mapsto \\mid \\infty \\partial \\nabla \\hbar \\ell \\ldots \\cdots ' +
    '\\prime \\sum \\prod \\int \\iint \\oint \\lim \\sin \\cos \\tan \\cot \\sec \\csc \\arcsin \\arccos \\arctan ' +
    '\\sinh \\cosh \\tanh \\log \\ln \\exp \\min \\max \\sup \\inf \\det \\gcd \\bmod \\langle \\rangle ' +
    '\\lfloor \\rfloor \\lceil \\rceil \\| \\{ \\} \\wedge \\vee \\neg \\emptyset \\circ \\star \\ast \\perp \\parallel ' +
    '\\angle \\deg \\dim \\ker \\Pr \\arg \\limsup \\liminf \\not \\prec \\succ \\ll \\gg \\cong \\models \\vdash'
  ).split(' ')
)
/** Font commands whose argument may be split letter by letter. */
export const SPLIT_FONT = new Set(['\\mathbf', '\\mathbb', '\\mathrm', '\\mathcal', '\\mathsf', '\\mathfrak'])
