/**
 * A time in ms as ISO 8601, for times other nodes wrote: one no date can hold (past
 * 8.64e15 ms, which a store entry may carry) comes out as the epoch instead of throwing.
 */
export function isoTime (ms: number): string {
  const d = new Date(ms)
  return Number.isNaN(d.getTime()) ? new Date(0).toISOString() : d.toISOString()
}
