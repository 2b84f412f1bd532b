/**
 * LaTeX source as tokens and as nested groups, the first steps of the
 * canonical form (canonical.ts): control words, control symbols and single
 * characters; braces matched into groups.
 */

export class LatexSyntaxError extends Error {
  override name = 'LatexSyntaxError'
}

/** ASCII characters that `\s` matches (others are tested by the regular expression). */
const ASCII_SPACE = new Set([9, 10, 11, 12, 13, 32])
/** Letters a control word may hold at most (longer runs start a new token). */
const MAX_CONTROL_WORD = 63

function isAsciiLetter (code: number): boolean {
  return (code >= 65 && code <= 90) || (code >= 97 && code <= 122)
}

/** Split LaTeX source into tokens: control words, control symbols, single characters. */
export function tokenize (src: string): string[] {
  const out: string[] = []
  let i = 0
  while (i < src.length) {
    const code = src.charCodeAt(i)
    if (code === 37) { // %
      while (i < src.length && src[i] !== '\n') i++
      continue
    }
    if (code < 128 ? ASCII_SPACE.has(code) : /\s/.test(src[i]!)) {
      i++
      continue
    }
    if (code === 92) { // backslash
      let j = i + 1
      while (j < src.length && j - i - 1 < MAX_CONTROL_WORD && isAsciiLetter(src.charCodeAt(j))) j++
      if (j > i + 1) {
        out.push(src.slice(i, j))
        i = j
      } else if (i + 1 < src.length) {
        out.push(src.slice(i, i + 2))
        i += 2
      } else {
        throw new LatexSyntaxError('a lone backslash at the end')
      }
      continue
    }
    if (code < 0xd800 || code > 0xdfff) {
      out.push(src[i]!)
      i++
      continue
    }
    const ch = String.fromCodePoint(src.codePointAt(i)!)
    out.push(ch)
    i += ch.length
  }
  return out
}

export type Node = string | Group
export interface Group {
  kind: 'group';
  items: Node[];
}

export function parseGroups (tokens: readonly string[]): Node[] {
  const stack: Node[][] = [[]]
  for (const t of tokens) {
    if (t === '{') {
      stack.push([])
    } else if (t === '}') {
      if (stack.length === 1) throw new LatexSyntaxError('a closing brace without an opening one')
      const items = stack.pop()!
      stack[stack.length - 1]!.push({ kind: 'group', items })
    } else {
      stack[stack.length - 1]!.push(t)
    }
  }
  if (stack.length !== 1) throw new LatexSyntaxError('an opening brace that is never closed')
  return stack[0]!
}

export function isControlWord (t: string): boolean {
  return /^\\[a-zA-Z]+$/.test(t)
}

/** The index of the `closing` token that matches the `opening` one at `open` (nested pairs counted), or -1 when there is none. */
export function matchingClose (items: readonly unknown[], open: number, opening: string, closing: string): number {
  let depth = 0
  for (let k = open; k < items.length; k++) {
    if (items[k] === opening) depth++
    else if (items[k] === closing && --depth === 0) return k
  }
  return -1
}
