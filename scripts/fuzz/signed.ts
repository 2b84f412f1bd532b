/**
 * Validly signed hostile data: store envelopes (by the book, or signed over any fields past every check
 * signEnvelope makes, or with a value nested deeper than Yjs could encode) and votes signed over any fields.
 */
import type { Ed25519PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import * as ed from '@noble/ed25519'
import * as Y from 'yjs'
import { voteSigningBytes } from '../../protocols/votes/vote.js'
import { clientIdFor, encodeEnvelope, newIncarnation, signEnvelope, signingBytes, type Envelope } from '../../crdt/envelope.js'
import { concat, utf8 } from './encoding.js'
import type { Rng } from './rng.js'

export interface Keyed { key: Ed25519PrivateKey, id: string }

export async function keyed (key: Ed25519PrivateKey): Promise<Keyed> { return { key, id: peerIdFromPrivateKey(key).toString() } }

/** A validly signed envelope: `write` makes changes in a fresh document under the author's client id. */
export async function envelope (who: Keyed, write: (doc: Y.Doc) => void, options: { incarnation?: Uint8Array, first?: number, seq?: number, base?: Uint8Array } = {}): Promise<{ bytes: Uint8Array, update: Uint8Array, incarnation: Uint8Array }> {
  const incarnation = options.incarnation ?? newIncarnation()
  const doc = new Y.Doc()
  doc.clientID = clientIdFor(who.key.publicKey.raw, incarnation)
  if (options.base != null) Y.applyUpdate(doc, options.base)
  const before = Y.encodeStateVector(doc)
  doc.transact(() => { write(doc) })
  const update = Y.encodeStateAsUpdate(doc, before)
  doc.destroy()
  const seq = options.seq ?? 0
  const e = await signEnvelope(who.key, who.id, { incarnation, client: clientIdFor(who.key.publicKey.raw, incarnation), first: options.first ?? seq, seq, update })
  return { bytes: encodeEnvelope(e), update, incarnation }
}

/** Sign any fields, past every check signEnvelope makes (oversized updates). */
export async function rawEnvelope (who: Keyed, fields: Omit<Envelope, 'signature' | 'author'>): Promise<Uint8Array> {
  const unsigned = { author: who.id, ...fields }
  return encodeEnvelope({ ...unsigned, signature: await who.key.sign(signingBytes(unsigned)) })
}

/** An envelope whose value is an array nested `depth` deep, spliced in lib0's encoding (Yjs would overflow its stack encoding it). */
export async function deepSpliced (who: Keyed, key: string, depth: number): Promise<Uint8Array> {
  const incarnation = newIncarnation()
  const client = clientIdFor(who.key.publicKey.raw, incarnation)
  const doc = new Y.Doc()
  doc.clientID = client
  doc.getMap('results').set(key, 'PLACEHOLDER-PLACEHOLDER')
  const update = Y.encodeStateAsUpdate(doc)
  doc.destroy()
  const marker = utf8('PLACEHOLDER-PLACEHOLDER')
  const at = Buffer.from(update).indexOf(Buffer.from(marker)) - 2
  const deep = new Uint8Array(2 * depth + 1)
  for (let i = 0; i < depth; i++) deep.set([117, 1], 2 * i)
  deep[2 * depth] = 126
  const spliced = concat([update.subarray(0, at), deep, update.subarray(at + 2 + marker.length)])
  return await rawEnvelope(who, { incarnation, client, first: 0, seq: 0, update: spliced })
}

export function resultEntry (rng: Rng, over: Record<string, unknown> = {}): Record<string, unknown> {
  return { latex: `x^{${rng.below(100)}}`, confidence: 0.5, alternatives: [], model: 'texmesh-fuzz', time: Date.now(), ...over }
}

/** Votes signed over any fields (schemas bypassed): values just above a cap still carry a valid signature. */
export async function rawVote (who: Keyed, v: Record<string, unknown>): Promise<Record<string, unknown>> {
  const sig = await ed.signAsync(voteSigningBytes(v as any), who.key.raw.subarray(0, 32))
  return { ...v, sig: Buffer.from(sig).toString('base64url') }
}
