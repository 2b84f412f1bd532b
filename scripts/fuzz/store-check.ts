/** The check on the node's store after the attack: every value bounded, plain and of its map's shape, and no key an attack meant to be refused. */
import type { RunningNode } from '../../node/daemon/start.js'
import { CalibrationEntry, CorrectionEntry, EvidenceEntry, MemberEntry, ResultEntry } from '../../crdt/schemas.js'
import { MAPS } from '../../crdt/authorship.js'
import { checkValue } from '../../crdt/values.js'
import { ACCEPTED_PREFIX, REFUSED_PREFIX } from './messages.js'

/** The shapes of the maps this harness knows (a map added since is checked for bounds only). */
const SCHEMAS: Record<string, { safeParse: (v: unknown) => { success: boolean } } | undefined> = { results: ResultEntry, calibration: CalibrationEntry, corrections: CorrectionEntry, members: MemberEntry, evidence: EvidenceEntry }

/** Every value in the store bounded, plain and of its map's shape; no key an attack meant to be refused. */
export function checkStore (node: RunningNode): { problems: string[], entries: number, acceptedFuzzKeys: number } {
  const snap = node.replica.snapshot() as Record<string, Record<string, unknown>>
  const problems: string[] = []
  let entries = 0
  let acceptedFuzzKeys = 0
  for (const map of MAPS) {
    for (const [key, value] of Object.entries(snap[map] ?? {})) {
      entries++
      if (key.startsWith(REFUSED_PREFIX)) problems.push(`${map}: ${key.slice(0, 80)} was written by an update the node had to refuse (${JSON.stringify(value)?.slice(0, 200)}, prototype keys ${JSON.stringify(Object.keys(Object.getPrototypeOf(value ?? {}) ?? {}))})`)
      if (key.startsWith(ACCEPTED_PREFIX)) acceptedFuzzKeys++
      const bounded = checkValue(value)
      if (bounded != null) problems.push(`${map}: ${key.slice(0, 80)}: ${bounded.detail}`)
      if (SCHEMAS[map]?.safeParse(value).success === false) problems.push(`${map}: ${key.slice(0, 80)}: not of the map's shape`)
      // A plain value: no object in it has another prototype than Object's (a decoded "__proto__" key sets one).
      const stack: unknown[] = [value]
      while (stack.length > 0) {
        const v = stack.pop()
        if (v == null || typeof v !== 'object') continue
        if (Array.isArray(v)) { stack.push(...v); continue }
        if (Object.getPrototypeOf(v) !== Object.prototype) { problems.push(`${map}: ${key.slice(0, 80)}: an object with a foreign prototype`); break }
        stack.push(...Object.values(v))
      }
      if (problems.length > 20) return { problems, entries, acceptedFuzzKeys }
    }
  }
  return { problems, entries, acceptedFuzzKeys }
}
