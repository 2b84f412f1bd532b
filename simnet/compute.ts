/**
 * What simnet's nodes recognise with: a sleep drawn from a measured latency
 * distribution in place of the model (scheduler studies with dozens of nodes
 * on one machine), and any recognition slowed down, to model old lab machines.
 * Handed to a node as its compute hook (node/daemon/hooks.ts).
 */
import type { Compute } from '../node/daemon/compute.js'
import { sha256Hex } from '../util/sha256.js'
import { TexmeshError } from '../node/errors.js'

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** A standard normal draw (Box–Muller). */
function gaussian (random: () => number): number {
  const u = 1 - random()
  const v = random()
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
}

/** Milliseconds from a log-normal with the given median and 95th percentile. */
export function drawLatency ([p50, p95]: readonly [number, number], random: () => number = Math.random): number {
  const sigma = Math.log(p95 / p50) / 1.6448536269514722
  return p50 * Math.exp(sigma * gaussian(random))
}

export const MODELLED_VERSION = 'modelled'
/** What modelled recognition claims: sure, but not certain (so --critical-below can be exercised). */
export const MODELLED_CONFIDENCE = 0.9

/** Recognition replaced by a sleep; the "LaTeX" names the image, so every node writes the same answer for it. */
export function modelledCompute (latency: readonly [number, number], hashOf: (image: Uint8Array) => string = sha256Hex, random: () => number = Math.random): Compute {
  return {
    model: MODELLED_VERSION,
    async recognize (image, _file) {
      const t0 = performance.now()
      await sleep(drawLatency(latency, random))
      // What the sleep took, timer lateness included, as the real pipeline reports what it measured.
      const ms = performance.now() - t0
      const latex = `\\mathrm{image}_{${hashOf(image).slice(0, 12)}}`
      return {
        latex,
        confidence: MODELLED_CONFIDENCE,
        alternatives: [],
        regions: [{ bbox: { x: 0, y: 0, width: 1, height: 1 }, latex, confidence: MODELLED_CONFIDENCE, score: Math.log(MODELLED_CONFIDENCE), parse: 'best', alternatives: [] }],
        model: MODELLED_VERSION,
        ms: Math.round(ms * 10) / 10
      }
    },
    async release () {}
  }
}

/** `compute` made `factor` times slower: each recognition is followed by a sleep, and reports the time a slow machine would measure. */
export function slowed (compute: Compute, factor: number): Compute {
  if (factor <= 1) return compute
  return {
    model: compute.model,
    async recognize (image, file, options) {
      const t0 = performance.now()
      const result = await compute.recognize(image, file, options)
      await sleep((performance.now() - t0) * (factor - 1))
      return { ...result, ms: Math.round((performance.now() - t0) * 10) / 10 }
    },
    release: async () => { await compute.release() }
  }
}

/** "P50,P95" in ms (or "P50" for both), as --modelled takes it; what is wrong with it when it is not that. */
export function parseLatency (value: string): [number, number] | string {
  const parts = value.split(',').map(s => s.trim() === '' ? NaN : Number(s))
  if (parts.length < 1 || parts.length > 2 || parts.some(n => !Number.isFinite(n))) return 'expected P50MS or P50MS,P95MS'
  if (!(parts[0]! > 0)) return 'the median must be above 0 ms'
  if (parts.length === 1) return [parts[0]!, parts[0]!]
  if (parts[1]! < parts[0]!) return 'the 95th percentile must not be below the median'
  return [parts[0]!, parts[1]!]
}

/** A "P50[,P95]" option in ms, refused in one line when it is not that. */
export function latencyOption (name: string) {
  return (value: string): [number, number] => {
    const latency = parseLatency(value)
    if (typeof latency === 'string') throw new TexmeshError(`${name}=${value}: ${latency}`)
    return latency
  }
}
