/** Waiting and pacing, for the run and the attacker alike: a sleep, and a bounded pool of jobs with a deadline. */

export const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** Run `jobs` with at most `width` at a time, stopping at the deadline. */
export async function pool<T> (items: readonly T[], width: number, deadline: number, run: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0
  const lanes = Array.from({ length: Math.max(1, width) }, async () => {
    while (next < items.length && Date.now() < deadline) {
      const i = next++
      await run(items[i]!, i)
    }
  })
  await Promise.all(lanes)
}
