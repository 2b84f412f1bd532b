/** What the bench and simulation scripts share: an option parser that fails in one line, and waiting for a condition. */
import { InvalidArgumentError } from 'commander'

/** A positive integer option (commander says which option and why). */
export function positiveInt (v: string): number {
  const n = Number(v)
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer')
  return n
}

/** Resolves once `check` holds, looking every `everyMs`; throws after `timeoutMs`, naming `what`. */
export async function until (what: string, check: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 20): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!await check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, everyMs))
  }
}
