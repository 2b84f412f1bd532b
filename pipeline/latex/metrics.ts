/** Measures of recognised LaTeX against the truth, on canonical token sequences. */

/** Levenshtein distance between two token sequences. */
export function editDistance (a: readonly string[], b: readonly string[]): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const cur = [i]
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    prev = cur
  }
  return prev[b.length]!
}

/** Edit distance over the longer length: 0 identical, 1 nothing in common. */
export function normalizedEditDistance (truth: readonly string[], output: readonly string[]): number {
  const n = Math.max(truth.length, output.length)
  return n === 0 ? 0 : editDistance(truth, output) / n
}

function ngrams (xs: readonly string[], n: number): Map<string, number> {
  const m = new Map<string, number>()
  for (let i = 0; i + n <= xs.length; i++) {
    const k = xs.slice(i, i + n).join('\u0000')
    m.set(k, (m.get(k) ?? 0) + 1)
  }
  return m
}

/** Corpus BLEU-4 (uniform weights, brevity penalty), as in Papineni et al. 2002. */
export function corpusBleu (pairs: readonly { truth: readonly string[]; output: readonly string[] }[], maxN = 4): number {
  const matches = new Array<number>(maxN).fill(0)
  const totals = new Array<number>(maxN).fill(0)
  let refLen = 0
  let outLen = 0
  for (const { truth, output } of pairs) {
    refLen += truth.length
    outLen += output.length
    for (let n = 1; n <= maxN; n++) {
      const ref = ngrams(truth, n)
      for (const [k, c] of ngrams(output, n)) matches[n - 1]! += Math.min(c, ref.get(k) ?? 0)
      totals[n - 1]! += Math.max(0, output.length - n + 1)
    }
  }
  if (outLen === 0) return 0
  let logSum = 0
  for (let n = 0; n < maxN; n++) {
    if (matches[n] === 0 || totals[n] === 0) return 0
    logSum += Math.log(matches[n]! / totals[n]!) / maxN
  }
  const bp = outLen > refLen ? 1 : Math.exp(1 - refLen / outLen)
  return bp * Math.exp(logSum)
}
