/** The node's local HTTP API as the run uses it: one request, and /v1/status asked over and over with every latency kept. */
import { sleep } from './pace.js'

export async function api<T> (port: number, token: string, path: string, init: { method?: string, body?: Uint8Array, timeoutMs?: number } = {}): Promise<{ status: number, body: T }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, {
    method: init.method ?? 'GET',
    headers: { authorization: `Bearer ${token}`, ...(init.body != null ? { 'content-type': 'image/png' } : {}) },
    ...(init.body != null ? { body: init.body as Uint8Array<ArrayBuffer> } : {}),
    signal: AbortSignal.timeout(init.timeoutMs ?? 10_000)
  })
  return { status: response.status, body: await response.json() as T }
}

/** Ask /v1/status over and over, one request at a time, and keep every latency. */
export class StatusPoller {
  readonly latencies: number[] = []
  failures = 0
  readonly failureSamples: string[] = []
  private running = true
  private done: Promise<void> = Promise.resolve()
  constructor (private readonly port: () => number, private readonly token: string, private readonly timeoutMs: number) {}
  start (): void {
    this.done = (async () => {
      while (this.running) {
        const t0 = performance.now()
        try {
          const r = await api<{ peerId?: string }>(this.port(), this.token, '/v1/status', { timeoutMs: this.timeoutMs })
          if (r.status !== 200 || typeof r.body.peerId !== 'string') throw new Error(`HTTP ${r.status}`)
          this.latencies.push(performance.now() - t0)
        } catch (err) {
          this.failures++
          if (this.failureSamples.length < 5) this.failureSamples.push(`${new Date().toISOString()} ${(err as Error).message}`)
        }
        await sleep(250)
      }
    })()
  }

  async stop (): Promise<void> {
    this.running = false
    await this.done
  }
}
