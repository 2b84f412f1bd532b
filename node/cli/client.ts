import { DataDir } from '../datadir/datadir.js'
import { ApiError, NodeNotRunningError } from '../errors.js'

/** Talks to the node running on a data dir, found through its runtime file and API token. */
export class ApiClient {
  private constructor (readonly baseUrl: string, private readonly token: string, private readonly dataDir: string) {}

  static async forDataDir (dataDir: DataDir): Promise<ApiClient> {
    const runtime = await dataDir.runtime()
    if (runtime == null) {
      throw new NodeNotRunningError(`no texmesh node is running on data dir ${dataDir.paths.root} (start one with: texmesh node --data-dir ${dataDir.paths.root})`)
    }
    const client = new ApiClient(`http://127.0.0.1:${runtime.apiPort}`, await dataDir.apiToken(), dataDir.paths.root)
    // The port may have been taken over by another node since this one wrote node.json.
    const status = await client.get<{ peerId: string }>('/v1/status')
    if (status.peerId !== runtime.peerId) {
      throw new NodeNotRunningError(`port ${runtime.apiPort} answers as node ${status.peerId}, not this data dir's node ${runtime.peerId}; is the node of ${dataDir.paths.root} still running?`)
    }
    return client
  }

  async get<T> (path: string): Promise<T> {
    return await this.request<T>('GET', path)
  }

  async post<T> (path: string, body: unknown): Promise<T> {
    return await this.request<T>('POST', path, body)
  }

  async delete<T> (path: string): Promise<T> {
    return await this.request<T>('DELETE', path)
  }

  /** POST raw bytes (an image) as the body. */
  async postBytes<T> (path: string, bytes: Uint8Array, contentType = 'application/octet-stream'): Promise<T> {
    return await this.request<T>('POST', path, bytes, contentType)
  }

  /** GET raw bytes (an image); undefined when the node answers 404. */
  async getBytes (path: string): Promise<Uint8Array | undefined> {
    let response: Response
    try {
      response = await fetch(this.baseUrl + path, { headers: { authorization: `Bearer ${this.token}` }, signal: AbortSignal.timeout(120_000) })
    } catch (err) {
      throw new NodeNotRunningError(`the texmesh node of data dir ${this.dataDir} does not answer at ${this.baseUrl} (is it running?)`, { cause: err })
    }
    if (response.status === 404) return undefined
    if (!response.ok) throw new ApiError(`the node answered ${response.status} for ${path}`, response.status)
    return new Uint8Array(await response.arrayBuffer())
  }

  private async request<T> (method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
    let response: Response
    const raw = body instanceof Uint8Array
    try {
      response = await fetch(this.baseUrl + path, {
        method,
        headers: {
          authorization: `Bearer ${this.token}`,
          ...(body !== undefined ? { 'content-type': contentType } : {})
        },
        body: body === undefined ? undefined : raw ? body as Uint8Array<ArrayBuffer> : JSON.stringify(body),
        signal: AbortSignal.timeout(raw ? 120_000 : 15_000)
      })
    } catch (err) {
      throw new NodeNotRunningError(`the texmesh node of data dir ${this.dataDir} does not answer at ${this.baseUrl} (is it running?)`, { cause: err })
    }
    const text = await response.text()
    let json: any
    try {
      json = JSON.parse(text)
    } catch {
      throw new ApiError(`the node answered ${response.status} with something that is not JSON`, response.status)
    }
    if (!response.ok) throw new ApiError(String(json?.error ?? `HTTP ${response.status}`), response.status, json)
    return json as T
  }
}
