/**
 * Small helpers every folder may use (util/ imports nothing of the project).
 *
 * SerialQueue: jobs that run one at a time in the order given, each starting
 * when the one before it has ended, failed or not; a job's failure is its own
 * caller's; and how many are waiting or running. The task queue, the replica and the peer store's write-back use it
 * to keep their LevelDB writes in order.
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve()
  private count = 0

  /** Run `job` after every job given before it; resolves or rejects as the job does. */
  async run<T>(job: () => Promise<T>): Promise<T> {
    this.count++
    const run = this.tail.then(job).finally(() => { this.count-- })
    this.tail = run.catch(() => {})
    return await run
  }

  /** Jobs given and not yet ended (the one running among them). */
  get size (): number { return this.count }

  /** Resolves once every job given so far has ended, and any job given while they ran. */
  async idle (): Promise<void> {
    for (let last; last !== this.tail;) {
      last = this.tail
      await last
    }
  }
}
