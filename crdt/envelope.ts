import { createHash, createPrivateKey, createPublicKey, randomBytes, sign, verify, type KeyObject } from 'node:crypto'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Ed25519PrivateKey } from '@libp2p/interface'

/**
 * A signed envelope around one Yjs update: {author, incarnation, client, seq,
 * update, signature}. The author is a peer id (its Ed25519 public key); the
 * incarnation is a random nonce a node draws each time it starts with a data
 * dir that has no log of its own (a first start, or a lost data dir); the Yjs
 * client id is derived from both, so it is bound to the author: nobody else
 * can write under it, and a node that lost its data never reuses an old
 * client id and clock (Yjs would silently drop such structs).
 *
 * `seq` counts the envelopes of one (author, incarnation) log from 0. An
 * envelope covers the log positions `first`..`seq`: one write covers just its
 * own, and compaction merges a run of them into one envelope that covers all.
 */
export interface Envelope {
  author: string
  incarnation: Uint8Array
  client: number
  first: number
  seq: number
  update: Uint8Array
  signature: Uint8Array
}

export const INCARNATION_BYTES = 16
/** An envelope carries at most this much update (a result with alternatives is about 1 KiB). */
export const MAX_UPDATE_BYTES = 256 * 1024
/** An envelope's wire form is at most this long: the update and a header of under 300 bytes. */
export const MAX_ENVELOPE_BYTES = MAX_UPDATE_BYTES + 1024
const MAX_AUTHOR_BYTES = 128
const SIGNATURE_BYTES = 64
const VERSION = 1
/** Domain separation: these bytes can never be mistaken for a vote or a certificate signed by the same key. */
const DOMAIN = new TextEncoder().encode('texmesh-crdt-envelope-v1\n')

export class EnvelopeError extends Error {
  override name = 'EnvelopeError'
}

/** A fresh incarnation nonce. */
export function newIncarnation (): Uint8Array {
  return new Uint8Array(randomBytes(INCARNATION_BYTES))
}

/** The Yjs client id of an author's incarnation: 53 bits of SHA-256(public key, incarnation). */
export function clientIdFor (publicKey: Uint8Array, incarnation: Uint8Array): number {
  const h = createHash('sha256').update(publicKey).update(incarnation).digest()
  // 53 bits: the largest integer Yjs (a JavaScript number) keeps exact.
  return (h.readUInt32BE(0) & 0x1fffff) * 2 ** 32 + h.readUInt32BE(4)
}

export function publicKeyOf (author: string): Uint8Array {
  let id
  try {
    id = peerIdFromString(author)
  } catch {
    throw new EnvelopeError(`author ${author.slice(0, 60)} is not a peer id`)
  }
  if (id.type !== 'Ed25519' || id.publicKey == null) throw new EnvelopeError(`author ${author} is not an Ed25519 peer id`)
  return id.publicKey.raw
}

class Writer {
  private readonly parts: Uint8Array[] = []
  u8 (v: number): this { this.parts.push(Uint8Array.of(v)); return this }
  u32 (v: number): this { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, v); this.parts.push(b); return this }
  u53 (v: number): this { return this.u32(Math.floor(v / 2 ** 32)).u32(v >>> 0) }
  bytes (b: Uint8Array): this { this.u32(b.length); this.parts.push(b); return this }
  raw (b: Uint8Array): this { this.parts.push(b); return this }
  done (): Uint8Array {
    const out = new Uint8Array(this.parts.reduce((n, p) => n + p.length, 0))
    let o = 0
    for (const p of this.parts) { out.set(p, o); o += p.length }
    return out
  }
}

class Reader {
  private o = 0
  private readonly view: DataView
  constructor (private readonly b: Uint8Array) { this.view = new DataView(b.buffer, b.byteOffset, b.byteLength) }
  private need (n: number): void { if (this.o + n > this.b.length) throw new EnvelopeError('envelope is truncated') }
  u8 (): number { this.need(1); return this.b[this.o++]! }
  u32 (): number { this.need(4); const v = this.view.getUint32(this.o); this.o += 4; return v }
  u53 (): number {
    const hi = this.u32()
    if (hi > 0x1fffff) throw new EnvelopeError('number out of range')
    return hi * 2 ** 32 + this.u32()
  }

  bytes (max: number, what: string): Uint8Array {
    const n = this.u32()
    if (n > max) throw new EnvelopeError(`${what} is ${n} bytes, over the limit of ${max}`)
    this.need(n)
    const v = this.b.subarray(this.o, this.o + n)
    this.o += n
    return v
  }

  fixed (n: number): Uint8Array { this.need(n); const v = this.b.subarray(this.o, this.o + n); this.o += n; return v }
  end (): void { if (this.o !== this.b.length) throw new EnvelopeError('trailing bytes after the envelope') }
}

/** The bytes the author signs: everything but the signature, after a domain tag. */
export function signingBytes (e: Omit<Envelope, 'signature'>): Uint8Array {
  return new Writer().raw(DOMAIN).bytes(new TextEncoder().encode(e.author)).raw(e.incarnation).u53(e.client).u53(e.first).u53(e.seq).bytes(e.update).done()
}

export function encodeEnvelope (e: Envelope): Uint8Array {
  return new Writer().u8(VERSION).bytes(new TextEncoder().encode(e.author)).raw(e.incarnation).u53(e.client).u53(e.first).u53(e.seq)
    .bytes(e.update).raw(e.signature).done()
}

/** Decode an envelope's wire form; throws EnvelopeError for anything malformed or oversized. Verify it with verifyEnvelope. */
export function decodeEnvelope (bytes: Uint8Array): Envelope {
  const r = new Reader(bytes)
  const version = r.u8()
  if (version !== VERSION) throw new EnvelopeError(`unknown envelope version ${version}`)
  let author: string
  try {
    author = new TextDecoder('utf-8', { fatal: true }).decode(r.bytes(MAX_AUTHOR_BYTES, 'author'))
  } catch (err) {
    if (err instanceof EnvelopeError) throw err
    throw new EnvelopeError('author is not valid UTF-8')
  }
  const incarnation = r.fixed(INCARNATION_BYTES)
  const client = r.u53()
  const first = r.u53()
  const seq = r.u53()
  if (first > seq) throw new EnvelopeError(`envelope covers ${first}..${seq}`)
  const update = r.bytes(MAX_UPDATE_BYTES, 'update')
  const signature = r.fixed(SIGNATURE_BYTES)
  r.end()
  return { author, incarnation, client, first, seq, update, signature }
}

/**
 * Node's own Ed25519 (OpenSSL) signs and verifies; its key objects are made once per key and
 * kept, since building one from a raw key costs more than the signature itself.
 */
const privateKeys = new WeakMap<Ed25519PrivateKey, KeyObject>()
function privateKeyObject (key: Ed25519PrivateKey): KeyObject {
  let k = privateKeys.get(key)
  if (k == null) {
    const raw = key.raw
    k = createPrivateKey({ format: 'jwk', key: { kty: 'OKP', crv: 'Ed25519', d: Buffer.from(raw.subarray(0, 32)).toString('base64url'), x: Buffer.from(key.publicKey.raw).toString('base64url') } })
    privateKeys.set(key, k)
  }
  return k
}

/** Authors whose public key was read lately: author -> raw key and key object (bounded; the oldest go first). */
const AUTHOR_KEYS_KEPT = 4096
const authorKeys = new Map<string, { raw: Uint8Array, key: KeyObject }>()
function authorKey (author: string): { raw: Uint8Array, key: KeyObject } {
  let k = authorKeys.get(author)
  if (k == null) {
    const raw = publicKeyOf(author)
    k = { raw, key: createPublicKey({ format: 'jwk', key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(raw).toString('base64url') } }) }
    if (authorKeys.size >= AUTHOR_KEYS_KEPT) authorKeys.delete(authorKeys.keys().next().value!)
    authorKeys.set(author, k)
  }
  return k
}

export async function signEnvelope (key: Ed25519PrivateKey, author: string, fields: Omit<Envelope, 'signature' | 'author'>): Promise<Envelope> {
  if (fields.update.length > MAX_UPDATE_BYTES) throw new EnvelopeError(`update is ${fields.update.length} bytes, over the limit of ${MAX_UPDATE_BYTES}`)
  const unsigned = { author, ...fields }
  const signature = new Uint8Array(sign(null, signingBytes(unsigned), privateKeyObject(key)))
  return { ...unsigned, signature }
}

export type EnvelopeCheck = { ok: true } | { ok: false, reason: 'bad-author' | 'bad-client' | 'bad-signature', detail: string }

/** Check that the client id belongs to the author's incarnation and the signature is the author's. */
export async function verifyEnvelope (e: Envelope): Promise<EnvelopeCheck> {
  let k: { raw: Uint8Array, key: KeyObject }
  try {
    k = authorKey(e.author)
  } catch (err) {
    return { ok: false, reason: 'bad-author', detail: (err as Error).message }
  }
  if (clientIdFor(k.raw, e.incarnation) !== e.client) {
    return { ok: false, reason: 'bad-client', detail: `client id ${e.client} is not the one of this author and incarnation` }
  }
  let valid = false
  try {
    valid = verify(null, signingBytes(e), k.key, e.signature)
  } catch {
    valid = false
  }
  return valid ? { ok: true } : { ok: false, reason: 'bad-signature', detail: 'the signature does not verify under the author\'s key' }
}
