/**
 * Blob transfer: a worker fetches the bytes of a task's image from the node
 * that holds them, over a direct stream, by SHA-256. Images never travel in
 * gossip.
 *
 * Wire format (every message length-prefixed):
 *   request   {"hash": HEX64}                                  (JSON, <= MAX_REQUEST_BYTES)
 *   response  {"status": "ok", "size": N} | {"status": "missing" | "refused", "reason": TEXT}
 *   then, after "ok", chunks of at most CHUNK_BYTES until N bytes have come, then an empty message.
 *
 * The fetcher refuses a size over its cap before reading any chunk, counts the
 * bytes as they come, and checks the SHA-256 before handing the bytes on.
 *
 * @example
 * ```ts
 * const blobs = blobService({ source: { get: hash => store.blob(hash) } })({ node, log })
 * await blobs.start()
 * const bytes = await blobs.fetch(peerId, hash, { signal: AbortSignal.timeout(30_000) })
 * ```
 */
import { lpStream } from '@libp2p/utils'
import type { Libp2p, PeerId, Stream, Connection } from '@libp2p/interface'
import { z } from 'zod'
import { decodeJson, encodeJson } from '../json.js'
import { SHA256_HEX, sha256Hex } from '../../util/sha256.js'
import type { ComponentLog } from '../log.js'
import { BLOB_MAX_INBOUND_STREAMS, BLOB_PROTOCOL, BLOB_TIMEOUT_MS, CHUNK_BYTES, MAX_IMAGE_BYTES, MAX_REQUEST_BYTES } from './constants.js'

export * from './constants.js'

/** Why a fetch failed; `reason` is stable and meant for code, the message for people. */
export type BlobFailure = 'missing' | 'refused' | 'too-large' | 'hash-mismatch' | 'malformed' | 'transport'

export class BlobError extends Error {
  override name = 'BlobError'
  constructor (readonly reason: BlobFailure, message: string, options?: ErrorOptions) {
    super(message, options)
  }
}

export interface BlobSource {
  /** The bytes stored under this SHA-256, or undefined. */
  get(hash: string): Promise<Uint8Array | undefined>
}

export interface BlobServiceInit {
  /** where the blobs this node serves come from */
  source: BlobSource
  /** May this peer fetch blobs? (members only in a private network) @default everyone */
  admits?: (peer: string) => boolean
  /** @default MAX_IMAGE_BYTES */
  maxBytes?: number
  /** @default BLOB_TIMEOUT_MS */
  timeoutMs?: number
}

export interface BlobServiceComponents {
  node: Pick<Libp2p, 'handle' | 'unhandle' | 'dialProtocol'>
  log: ComponentLog
}

export interface BlobService {
  /** Serve blobs; a second call does nothing. */
  start(): Promise<void>
  /** Stop serving; a second call does nothing. */
  stop(): Promise<void>
  /**
   * Fetch the blob `hash` from `peer`; resolves only with bytes whose SHA-256 is `hash`.
   * `maxBytes` defaults to the service's cap, `signal` to a timeout of `timeoutMs`.
   */
  fetch(peer: PeerId, hash: string, options?: { signal?: AbortSignal, maxBytes?: number }): Promise<Uint8Array>
}

const Request = z.object({ hash: z.string().regex(SHA256_HEX) }).strict()
const Response = z.discriminatedUnion('status', [
  z.object({ status: z.literal('ok'), size: z.number().int().nonnegative() }).strict(),
  z.object({ status: z.enum(['missing', 'refused']), reason: z.string().max(512) }).strict()
])

class BlobTransfer implements BlobService {
  private readonly node: BlobServiceComponents['node']
  private readonly log: ComponentLog
  private readonly source: BlobSource
  private readonly maxBytes: number
  private readonly timeoutMs: number
  private readonly admits: (peer: string) => boolean
  private started = false

  constructor (components: BlobServiceComponents, init: BlobServiceInit) {
    this.node = components.node
    this.log = components.log
    this.source = init.source
    this.maxBytes = init.maxBytes ?? MAX_IMAGE_BYTES
    this.timeoutMs = init.timeoutMs ?? BLOB_TIMEOUT_MS
    this.admits = init.admits ?? (() => true)
  }

  async start (): Promise<void> {
    if (this.started) return
    await this.node.handle(BLOB_PROTOCOL, (stream: Stream, connection: Connection) => { void this.serve(stream, connection) }, {
      maxInboundStreams: BLOB_MAX_INBOUND_STREAMS, maxOutboundStreams: BLOB_MAX_INBOUND_STREAMS
    })
    this.started = true
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    await this.node.unhandle(BLOB_PROTOCOL)
  }

  /** Fetch the blob `hash` from `peer`; resolves only with bytes whose SHA-256 is `hash`. */
  async fetch (peer: PeerId, hash: string, options: { signal?: AbortSignal, maxBytes?: number } = {}): Promise<Uint8Array> {
    if (!SHA256_HEX.test(hash)) throw new BlobError('malformed', `not a SHA-256 hex digest: ${hash.slice(0, 80)}`)
    const maxBytes = options.maxBytes ?? this.maxBytes
    const signal = options.signal ?? AbortSignal.timeout(this.timeoutMs)
    let stream: Stream | undefined
    try {
      stream = await this.node.dialProtocol(peer, BLOB_PROTOCOL, { signal })
      // libp2p streams have no read-side flow control: the whole blob may be buffered before it is
      // read, so the buffer allows for all of it (it is held in memory anyway).
      const lp = lpStream(stream, { maxDataLength: CHUNK_BYTES, maxBufferSize: maxBytes + 2 * CHUNK_BYTES })
      await lp.write(encodeJson({ hash }), { signal })
      const head = Response.safeParse(decodeJson((await lp.read({ signal })).subarray()))
      if (!head.success) throw new BlobError('malformed', `${peer.toString()} answered a blob request with something else`)
      if (head.data.status !== 'ok') throw new BlobError(head.data.status, `${peer.toString()}: ${head.data.reason}`)
      const size = head.data.size
      if (size > maxBytes) throw new BlobError('too-large', `${peer.toString()} offers ${size} bytes for ${hash}, over the ${maxBytes}-byte cap`)
      const out = new Uint8Array(size)
      let got = 0
      for (;;) {
        const chunk = (await lp.read({ signal })).subarray()
        if (chunk.length === 0) break
        if (got + chunk.length > size) throw new BlobError('malformed', `${peer.toString()} sent more than the ${size} bytes it announced`)
        out.set(chunk, got)
        got += chunk.length
      }
      if (got !== size) throw new BlobError('malformed', `${peer.toString()} sent ${got} of the ${size} bytes it announced`)
      await stream.close({ signal })
      if (sha256Hex(out) !== hash) throw new BlobError('hash-mismatch', `the bytes ${peer.toString()} sent for ${hash} have another SHA-256`)
      return out
    } catch (err) {
      stream?.abort(err as Error)
      if (err instanceof BlobError) throw err
      throw new BlobError('transport', `fetching ${hash} from ${peer.toString()} failed: ${(err as Error).message}`, { cause: err })
    }
  }

  private async serve (stream: Stream, connection: Connection): Promise<void> {
    const signal = AbortSignal.timeout(this.timeoutMs)
    const peer = connection.remotePeer.toString()
    try {
      const lp = lpStream(stream, { maxDataLength: MAX_REQUEST_BYTES, maxBufferSize: MAX_REQUEST_BYTES + 16 })
      let hash: string
      try {
        const request = Request.parse(decodeJson((await lp.read({ signal })).subarray()))
        hash = request.hash
      } catch (err) {
        if ((err as Error).name === 'AbortError' || (err as Error).name === 'TimeoutError') throw err
        this.log.debug({ peer, err: (err as Error).message }, 'refused a malformed blob request')
        await lp.write(encodeJson({ status: 'refused', reason: 'malformed request: expected {"hash": SHA-256 hex}' }), { signal })
        await stream.close({ signal })
        return
      }
      const admitted = this.admits(peer)
      const bytes = admitted ? await this.source.get(hash) : undefined
      if (!admitted) {
        await lp.write(encodeJson({ status: 'refused', reason: 'blobs are served to members only' }), { signal })
      } else if (bytes == null) {
        await lp.write(encodeJson({ status: 'missing', reason: `no blob ${hash} here` }), { signal })
      } else if (bytes.length > this.maxBytes) {
        await lp.write(encodeJson({ status: 'refused', reason: `blob ${hash} is over the ${this.maxBytes}-byte cap` }), { signal })
      } else {
        await lp.write(encodeJson({ status: 'ok', size: bytes.length }), { signal })
        for (let at = 0; at < bytes.length; at += CHUNK_BYTES) await lp.write(bytes.subarray(at, at + CHUNK_BYTES), { signal })
        await lp.write(new Uint8Array(0), { signal })
      }
      await stream.close({ signal })
    } catch (err) {
      this.log.warn({ peer, err: (err as Error).message }, 'serving a blob failed')
      stream.abort(err as Error)
    }
  }
}

export function blobService (init: BlobServiceInit): (components: BlobServiceComponents) => BlobService {
  return (components) => new BlobTransfer(components, init)
}
