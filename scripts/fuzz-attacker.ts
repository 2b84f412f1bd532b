/**
 * The attacker of `npm run fuzz` (scripts/fuzz.ts). It runs on a worker thread
 * of its own, so its work (signing, encoding) does not sit on the node's event
 * loop and its heap is not counted as the node's, and talks to the node only
 * over libp2p and TCP on 127.0.0.1.
 *
 * Identities, all real libp2p nodes:
 * - S ("streams"): opens streams to every protocol the node speaks and sends
 *   random bytes, framing attacks, hostile values, slowloris, stalls and bursts
 *   of concurrent streams. A member (with a certificate) in a private network,
 *   so the member-only paths answer; it presents hostile certificates too, and
 *   presents its real one again before each protocol.
 * - M ("member"): publishes on the gossipsub topics (random bytes, hostile
 *   values, validly signed hostile store updates and votes, floods) and answers
 *   the node's own requests to it with hostile data: steal replies (it
 *   announces load so the node steals from it), blob transfers (the node fetches
 *   images of its leases and ballots from it), catch-up pages, peer lists.
 * - liars: fresh identities without libp2p's identify and ping services that
 *   answer the node's identify, ping, membership, peer-exchange and catch-up
 *   requests with hostile data, reconnecting over and over.
 * - raw TCP sockets: garbage, slowloris and stalls before any handshake.
 * - P ("probe"): at the end, an honest member checks it is still served.
 *
 * Every stream has a deadline and is aborted at the end; every campaign is
 * bounded by its count and by the run's deadline.
 */
import { parentPort, workerData } from 'node:worker_threads'
import net from 'node:net'
import { crc32 } from 'node:zlib'
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { gossipsub, type GossipSub } from '@libp2p/gossipsub'
import { RPC } from '@libp2p/gossipsub/message'
import { generateKeyPair, privateKeyFromProtobuf, publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { Ed25519PrivateKey, PeerId, Stream } from '@libp2p/interface'
import * as ed from '@noble/ed25519'
import * as Y from 'yjs'
import { membership, decodeCertificateText, MembershipCertificate, MEMBERSHIP_PROTOCOL } from '../protocols/membership/index.js'
import { PEER_EXCHANGE_PROTOCOL } from '../protocols/peer-exchange/index.js'
import { CRDT_SYNC_PROTOCOL, CRDT_TOPIC } from '../protocols/crdt-sync/index.js'
import { BLOB_PROTOCOL } from '../protocols/blob/index.js'
import { TASKS_PROTOCOL, TASKS_TOPIC } from '../protocols/tasks/index.js'
import { VOTES_TOPIC } from '../protocols/votes/index.js'
import { signVote, voteSigningBytes, type SignedVote } from '../protocols/votes/vote.js'
import { clientIdFor, encodeEnvelope, newIncarnation, signEnvelope, signingBytes, type Envelope } from '../crdt/envelope.js'
import { swarmKeyFromPsk } from '../node/datadir/invite.js'
import { boundedPreSharedKey } from '../node/daemon/pnet.js'
import { safeYamux } from '../node/daemon/muxer.js'
import { sha256Hex } from '../util/sha256.js'
import { Rng as BaseRng } from '../formulas/rng.js'

export const IDENTIFY_PROTOCOL = '/ipfs/id/1.0.0'
export const PING_PROTOCOL = '/ipfs/ping/1.0.0'

export type TargetKind = 'stream' | 'topic' | 'answer' | 'transport'

export interface TargetStats {
  target: string
  kind: TargetKind
  /** inputs sent (for answers: requests of the node answered with hostile data) */
  sent: number
  /** the node answered normally (for topics and gossipsub RPCs: the input was taken without complaint) */
  answered: number
  /** the node refused: an error answer, a reset or closed stream, a dropped connection attempt */
  refused: number
  /** the node was still waiting when the attacker gave up (slowloris, stalls, truncated frames: expected) */
  stalled: number
  /** what should not happen: a connection the node dropped, a dial that failed, an answer to an input it must refuse */
  errors: number
  /** inputs by attack class */
  classes: Record<string, number>
  /** a few examples of errors */
  samples: string[]
}

export interface AttackerInit {
  node: { peerId: string, addrs: string[], tcpPort: number }
  /** the node's protocols and, for each, its inbound stream limit per connection */
  protocols: Array<{ protocol: string, maxInbound: number }>
  count: number
  /** ms since the epoch: every campaign ends by then */
  deadline: number
  seed: number
  /** private network: its pre-shared key and name; undefined for an open network */
  network?: { name: string, psk: string, adminPublicKey: string }
  /** libp2p protobuf private keys (hex) and certificate texts of the member identities */
  identities: { m: { key: string, cert?: string }, s: { key: string, cert?: string }, p: { key: string, cert?: string }, extra: Array<{ key: string, cert?: string }> }
  /** a real formula image (PNG) */
  fixture: Uint8Array
  /** hold one stream per protocol until the node's own deadline (up to 62 s) */
  longStalls?: boolean
}

export type AttackerMessage =
  | { type: 'progress', stats: TargetStats[] }
  | { type: 'done', stats: TargetStats[], probe: ProbeResult, notes: string[], keys: string[] }
  | { type: 'failed', error: string, stats: TargetStats[] }

export interface ProbeResult { ok: boolean, detail: string, ms: number }

/** Keys in the store an attack expects the node to refuse start with this; accepted ones with ACCEPTED_PREFIX. */
export const REFUSED_PREFIX = 'fuzz-refuse-'
export const ACCEPTED_PREFIX = 'fuzz-ok-'

// ---------------------------------------------------------------------------------------------
// Small tools

/** mulberry32: a seeded generator, so a run can be repeated with --seed. */
/** The seeded source of formulas/rng.ts, with what the attacker needs on top: integers below n, bytes, hex, independent forks. */
export class Rng extends BaseRng {
  /** An integer in [0, n). */
  below (n: number): number { return Math.floor(this.next() * n) }
  bytes (n: number): Uint8Array {
    const out = new Uint8Array(n)
    const view = new DataView(out.buffer)
    let i = 0
    for (; i + 4 <= n; i += 4) view.setUint32(i, (this.next() * 4294967296) >>> 0)
    for (; i < n; i++) out[i] = this.below(256)
    return out
  }

  hex (chars: number): string { return Buffer.from(this.bytes(Math.ceil(chars / 2))).toString('hex').slice(0, chars) }
  fork (): Rng { return new Rng(this.below(2 ** 32)) }
}

const enc = new TextEncoder()
const utf8 = (s: string): Uint8Array => enc.encode(s)
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

function concat (parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let o = 0
  for (const p of parts) { out.set(p, o); o += p.length }
  return out
}

/** An unsigned varint (up to 2^53). */
export function varint (n: number): Uint8Array {
  const out: number[] = []
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80)
    n = Math.floor(n / 0x80)
  }
  out.push(n)
  return Uint8Array.from(out)
}

/** One length-prefixed frame, as it-length-prefixed writes it. */
export function lp (payload: Uint8Array): Uint8Array { return concat([varint(payload.length), payload]) }

/** Read length-prefixed frames from bytes; stops at the first incomplete one. */
function frames (bytes: Uint8Array, max = 64): Uint8Array[] {
  const out: Uint8Array[] = []
  let at = 0
  while (at < bytes.length && out.length < max) {
    let n = 0
    let mul = 1
    let i = at
    for (; i < bytes.length && i - at < 8; i++) {
      n += (bytes[i]! & 0x7f) * mul
      mul *= 128
      if ((bytes[i]! & 0x80) === 0) break
    }
    if (i >= bytes.length || (bytes[i]! & 0x80) !== 0) break
    const start = i + 1
    if (start + n > bytes.length) break
    out.push(bytes.subarray(start, start + n))
    at = start + n
  }
  return out
}

function json (bytes: Uint8Array | undefined): any {
  if (bytes == null) return undefined
  try { return JSON.parse(new TextDecoder().decode(bytes)) } catch { return undefined }
}

/** Protobuf by hand (identify messages): field numbers and wire types 0 and 2. */
const pb = {
  bytes: (field: number, b: Uint8Array): Uint8Array => concat([varint(field * 8 + 2), varint(b.length), b]),
  string: (field: number, s: string): Uint8Array => pb.bytes(field, utf8(s)),
  uint: (field: number, n: number): Uint8Array => concat([varint(field * 8), varint(n)])
}

/** A PNG with an ancillary text chunk before IEND: another image for the same picture, so another hash. */
function pngVariant (png: Uint8Array, text: string): Uint8Array {
  const iend = png.length - 12
  const type = utf8('tEXt')
  const data = utf8(`Comment\0${text}`)
  const len = new Uint8Array(4)
  new DataView(len.buffer).setUint32(0, data.length)
  const crc = new Uint8Array(4)
  new DataView(crc.buffer).setUint32(0, crc32(concat([type, data])))
  return concat([png.subarray(0, iend), len, type, data, crc, png.subarray(iend)])
}

/** A PNG header that announces a huge image (a decompression bomb's first bytes) and little else. */
function pngBomb (rng: Rng): Uint8Array {
  const ihdr = new Uint8Array(13)
  const v = new DataView(ihdr.buffer)
  v.setUint32(0, 60_000 + rng.below(1000))
  v.setUint32(4, 60_000)
  ihdr.set([8, 0, 0, 0, 0], 8)
  const type = utf8('IHDR')
  const len = Uint8Array.of(0, 0, 0, 13)
  const crc = new Uint8Array(4)
  new DataView(crc.buffer).setUint32(0, crc32(concat([type, ihdr])))
  const iend = Uint8Array.of(0, 0, 0, 0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82)
  return concat([Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a), len, type, ihdr, crc, iend])
}

// ---------------------------------------------------------------------------------------------
// Statistics

class Stats {
  readonly all = new Map<string, TargetStats>()
  constructor (private readonly maxSamples = 5) {}
  of (target: string, kind: TargetKind): TargetStats {
    let s = this.all.get(target)
    if (s == null) this.all.set(target, s = { target, kind, sent: 0, answered: 0, refused: 0, stalled: 0, errors: 0, classes: {}, samples: [] })
    return s
  }

  count (target: string, kind: TargetKind, cls: string, outcome: Outcome, sample?: string): void {
    const s = this.of(target, kind)
    s.sent++
    s.classes[cls] = (s.classes[cls] ?? 0) + 1
    s[outcome]++
    if ((outcome === 'errors' || kind === 'answer') && sample != null && s.samples.length < this.maxSamples) s.samples.push(`${cls}: ${sample}`.slice(0, 300))
  }

  list (): TargetStats[] { return [...this.all.values()].map(s => ({ ...s, classes: { ...s.classes }, samples: [...s.samples] })) }
}

type Outcome = 'answered' | 'refused' | 'stalled' | 'errors'

// ---------------------------------------------------------------------------------------------
// Streams

interface Collected {
  /** resolves when the node closed its end (error: it reset or aborted) */
  ended: Promise<{ error?: Error }>
  bytes: () => Uint8Array
  size: () => number
}

function collect (stream: Stream, max = 8 * 1024 * 1024): Collected {
  const chunks: Uint8Array[] = []
  let size = 0
  let done: (v: { error?: Error }) => void = () => {}
  const ended = new Promise<{ error?: Error }>(resolve => { done = resolve })
  stream.addEventListener('message', evt => {
    const d = evt.data.subarray()
    if (size < max) chunks.push(d)
    size += d.length
  })
  stream.addEventListener('remoteCloseWrite', () => { done({}) })
  stream.addEventListener('close', evt => { done(evt.error != null ? { error: evt.error } : {}) })
  return { ended, bytes: () => concat(chunks), size: () => size }
}

type Step = Uint8Array | { sleep: number } | { trickle: Uint8Array, everyMs: number, maxMs: number }

interface Probe {
  cls: string
  steps: Step[]
  /** close the write side once sent */
  closeWrite: boolean
  /** how long to wait for the node once sent */
  waitMs: number
  /** an input the node must refuse: an answer to it counts as an error */
  mustRefuse?: boolean
  /** judge the node's reply (default: any bytes are an answer) */
  judge?: (reply: Uint8Array) => 'answered' | 'refused'
}

function sendOrWait (stream: Stream, b: Uint8Array): Promise<void> | undefined {
  if (stream.status !== 'open' || stream.writeStatus !== 'writable') return undefined
  if (!stream.send(b)) return stream.onDrain({ signal: AbortSignal.timeout(5000) }).catch(() => {})
  return undefined
}

/** Open a stream to `protocol`, play the probe, judge what came back. The stream never outlives waitMs (plus sending). */
async function runProbe (node: Libp2p, peer: PeerId, protocol: string, p: Probe): Promise<{ outcome: Outcome, detail?: string }> {
  let stream: Stream
  try {
    // Past the node's own limits on purpose: the attacker allows itself many streams per protocol.
    stream = await node.dialProtocol(peer, protocol, { signal: AbortSignal.timeout(10_000), maxOutboundStreams: 1024 })
  } catch (err) {
    return openFailure(err)
  }
  const reply = collect(stream)
  try {
    for (const step of p.steps) {
      if (step instanceof Uint8Array) {
        await sendOrWait(stream, step)
      } else if ('sleep' in step) {
        await sleep(step.sleep)
      } else {
        const end = Date.now() + step.maxMs
        for (let i = 0; i < step.trickle.length && Date.now() < end && stream.status === 'open'; i++) {
          await sendOrWait(stream, step.trickle.subarray(i, i + 1))
          await Promise.race([sleep(step.everyMs), reply.ended])
        }
      }
      if (stream.status !== 'open') break
    }
    if (p.closeWrite && stream.status === 'open') await stream.close({ signal: AbortSignal.timeout(2000) }).catch(() => {})
    const timer = sleep(p.waitMs).then(() => 'timeout' as const)
    const end = await Promise.race([reply.ended, timer])
    const bytes = reply.bytes()
    if (end === 'timeout') {
      if (bytes.length > 0) return judged(p, bytes)
      return { outcome: 'stalled' }
    }
    if (bytes.length > 0) return judged(p, bytes)
    return { outcome: 'refused' }
  } catch (err) {
    const bytes = reply.bytes()
    if (bytes.length > 0) return judged(p, bytes)
    return { outcome: 'refused', detail: (err as Error).message }
  } finally {
    if (stream.status === 'open') stream.abort(new Error('fuzz: done'))
  }
}

function judged (p: Probe, bytes: Uint8Array): { outcome: Outcome, detail?: string } {
  const verdict = p.judge?.(bytes) ?? 'answered'
  if (verdict === 'answered' && p.mustRefuse === true) return { outcome: 'errors', detail: `answered an input it must refuse: ${Buffer.from(bytes.subarray(0, 120)).toString('latin1')}` }
  return { outcome: verdict }
}

/** A stream that could not be opened: the node refusing it (too many streams, a reset) is fine; a lost connection is not. */
function openFailure (err: unknown): { outcome: Outcome, detail?: string } {
  const e = err as Error & { name?: string }
  const text = `${e.name ?? ''} ${e.message ?? ''}`
  if (/too many|reset|Reset|StreamReset|protocol selection|UnsupportedProtocol|aborted|closed|Closed|EOF|end of input|StreamState|Abort/i.test(text)) return { outcome: 'refused', detail: text }
  return { outcome: 'errors', detail: text.slice(0, 200) }
}

/** Run `jobs` with at most `width` at a time, stopping at the deadline. */
async function pool<T> (items: readonly T[], width: number, deadline: number, run: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0
  const lanes = Array.from({ length: Math.max(1, width) }, async () => {
    while (next < items.length && Date.now() < deadline) {
      const i = next++
      await run(items[i]!, i)
    }
  })
  await Promise.all(lanes)
}

// ---------------------------------------------------------------------------------------------
// Hostile values

/** JSON texts a schema must refuse or survive: wrong types, non-finite and huge numbers, prototype keys. */
export const HOSTILE_SCALARS = ['null', 'true', '0', '-1', '1.5', '-0', '1e308', '1e999', '-1e999', '9007199254740993', '""', '"\\u0000"',
  '"\\ud800"', '[]', '{}', '[null]', '"__proto__"', '{"__proto__":{"polluted":1}}', '{"constructor":{"prototype":{"polluted":1}}}']

function deepJson (depth: number): string { return '['.repeat(depth) + ']'.repeat(depth) }
function deepObject (depth: number): string { return '{"a":'.repeat(depth) + '1' + '}'.repeat(depth) }

/** A JSON object text with `field` set to the raw JSON text `value`. */
function withField (base: Record<string, unknown>, field: string, value: string): string {
  const rest = Object.entries(base).filter(([k]) => k !== field).map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`)
  return `{${[...rest, `${JSON.stringify(field)}:${value}`].join(',')}}`
}

/** Every field of `base` replaced in turn by each hostile scalar, plus prototype keys, extra keys, deep values. */
function hostileObjects (base: Record<string, unknown>, extra: string[] = []): string[] {
  const out: string[] = []
  for (const field of Object.keys(base)) for (const v of HOSTILE_SCALARS) out.push(withField(base, field, v))
  out.push(withField(base, '__proto__', '{"polluted":1,"admin":true}'))
  out.push(withField(base, 'constructor', '{"prototype":{"polluted":1}}'))
  out.push(withField(base, 'prototype', '{"polluted":1}'))
  out.push(withField(base, 'extra', '1'))
  out.push(withField(base, Object.keys(base)[0] ?? 'x', deepJson(5000)))
  out.push(withField(base, Object.keys(base)[0] ?? 'x', deepObject(2000)))
  out.push(JSON.stringify([base]), JSON.stringify(JSON.stringify(base)), '{' + JSON.stringify(base).slice(1, -1) + ',' + JSON.stringify(base).slice(1, -1) + '}')
  out.push(...extra)
  return out
}

/** A string of `n` characters, some of them multi-byte, to test caps counted in characters vs bytes. */
function longString (rng: Rng, n: number): string {
  let s = ''
  while (s.length < n) s += rng.pick(['x', 'é', '\\', '∑', '"', '😀'.slice(0, 1) === '\ud83d' ? 'y' : 'z', '{', '\u0000'])
  return s.slice(0, n)
}

// ---------------------------------------------------------------------------------------------
// Per-protocol inputs for the stream campaign

interface Profile {
  /** the largest frame the node reads on this protocol (undefined: it reads no frames) */
  maxFrame?: number
  /** the node's own deadline for the stream */
  timeoutMs: number
  valid: (rng: Rng) => Uint8Array[]
  hostile: (rng: Rng) => Array<{ bytes: Uint8Array[], mustRefuse?: boolean }>
  judge?: (reply: Uint8Array) => 'answered' | 'refused'
  /** the payload a slowloris trickles */
  trickle?: (rng: Rng) => Uint8Array
}

function lpJson (text: string): Uint8Array { return lp(utf8(text)) }

/** The first frame's JSON answer: refused when it says so, answered otherwise. */
function judgeJson (refusal: (reply: any) => boolean) {
  return (bytes: Uint8Array): 'answered' | 'refused' => {
    const first = json(frames(bytes, 1)[0])
    if (first == null) return 'refused'
    return refusal(first) ? 'refused' : 'answered'
  }
}

function profiles (ctx: { stolen: string[], knownHashes: string[], certS?: MembershipCertificate, certM?: MembershipCertificate, mLog?: string }): Map<string, Profile> {
  const map = new Map<string, Profile>()

  map.set(TASKS_PROTOCOL, {
    maxFrame: 1024,
    timeoutMs: 5000,
    valid: rng => [lpJson(rng.chance(0.7)
      ? JSON.stringify({ kind: 'steal', want: 1 + rng.below(16), ...(rng.chance(0.3) ? { backups: rng.chance(0.5) } : {}) })
      : JSON.stringify(rng.chance(0.5) ? { kind: 'release', id: ctx.stolen.length > 0 ? rng.pick(ctx.stolen) : rng.hex(20) } : { kind: 'failed', id: ctx.stolen.length > 0 ? rng.pick(ctx.stolen) : rng.hex(20), reason: 'fuzz' }))],
    hostile: rng => {
      const id = ctx.stolen.length > 0 ? rng.pick(ctx.stolen) : rng.hex(24)
      const texts = [
        ...hostileObjects({ kind: 'steal', want: 1 }),
        ...hostileObjects({ kind: 'steal', want: 1, backups: true }),
        ...hostileObjects({ kind: 'failed', id, reason: 'x' }),
        ...hostileObjects({ kind: 'release', id }),
        JSON.stringify({ kind: 'steal', want: 0 }), JSON.stringify({ kind: 'steal', want: 17 }), JSON.stringify({ kind: 'steal', want: 1e6 }),
        JSON.stringify({ kind: 'failed', id: 'x'.repeat(64), reason: longString(rng, 512) }),
        JSON.stringify({ kind: 'failed', id: 'x'.repeat(65), reason: 'r' }), JSON.stringify({ kind: 'failed', id, reason: 'r'.repeat(513) }),
        JSON.stringify({ kind: 'release', id: '__proto__' }), JSON.stringify({ kind: 'failed', id: 'constructor', reason: 'x' }),
        JSON.stringify({ kind: 'grant' }), JSON.stringify({ kind: '__proto__', want: 1 })
      ]
      const t = rng.pick(texts)
      // Inputs the schema refuses must never get an answer (the node aborts the stream).
      const refuse = /"want":(0|17|1000000|-1|1\.5|1e|null|true|""|\[|\{|"|9007)/.test(t) || /"id":"x{65}"|"r{513}"|"extra"|"kind":"(grant|__proto__)"/.test(t)
      return [{ bytes: [lpJson(t)], ...(refuse ? { mustRefuse: true } : {}) }]
    },
    judge: judgeJson(r => r.leases == null && r.ok == null)
  })

  map.set(BLOB_PROTOCOL, {
    maxFrame: 256,
    timeoutMs: 60_000,
    valid: rng => [lpJson(JSON.stringify({ hash: ctx.knownHashes.length > 0 && rng.chance(0.5) ? rng.pick(ctx.knownHashes) : rng.hex(64) }))],
    hostile: rng => {
      const h = rng.hex(64)
      const texts = [
        ...hostileObjects({ hash: h }),
        JSON.stringify({ hash: h.toUpperCase() }), JSON.stringify({ hash: h.slice(1) }), JSON.stringify({ hash: h + '0' }),
        JSON.stringify({ hash: ` ${h}` }), JSON.stringify({ hash: `${h}\n` }), JSON.stringify({ hash: '../'.repeat(20) }),
        JSON.stringify({ hash: h }) + ' '.repeat(256 - JSON.stringify({ hash: h }).length)
      ]
      const t = rng.pick(texts)
      return [{ bytes: [lpJson(t)] }]
    },
    judge: judgeJson(r => r.status === 'refused')
  })

  map.set(CRDT_SYNC_PROTOCOL, {
    maxFrame: 1024 * 1024,
    timeoutMs: 60_000,
    valid: rng => [lpJson(rng.chance(0.5) ? '{}' : JSON.stringify({ [ctx.mLog ?? `${rng.hex(52)}!${rng.hex(32)}`]: rng.below(5) - 1 }))],
    hostile: rng => {
      const big = (keys: number, keyLen: number): string => {
        const parts: string[] = []
        for (let i = 0; i < keys; i++) parts.push(`"${rng.hex(keyLen - 8)}${String(i).padStart(8, '0')}":${rng.below(1000)}`)
        return `{${parts.join(',')}}`
      }
      const texts = [
        ...hostileObjects({ [`${rng.hex(52)}!${rng.hex(32)}`]: 1 }),
        JSON.stringify({ __proto__: 5 }), '{"__proto__":0}', '{"constructor":3}', '{"toString":1}', '{"hasOwnProperty":1}', '{"valueOf":-1}',
        JSON.stringify({ ['k'.repeat(256)]: 1 }), JSON.stringify({ ['k'.repeat(257)]: 1 }), JSON.stringify({ x: -2 }), JSON.stringify({ x: 2 ** 53 }),
        '[1,2,3]', '"heads"', 'null'
      ]
      const r = rng.below(20)
      // Heads near the 1 MiB cap: many logs (fine), and just over it (the frame is refused).
      if (r === 0) return [{ bytes: [lpJson(big(4000, 250))] }]
      if (r === 1) return [{ bytes: [lpJson(big(4300, 250))], mustRefuse: true }]
      return [{ bytes: [lpJson(rng.pick(texts))] }]
    },
    judge: bytes => {
      // An answer is envelopes and an end mark (an empty frame); a refusal is a reset with nothing.
      const fs = frames(bytes)
      return fs.length > 0 ? 'answered' : 'refused'
    }
  })

  map.set(MEMBERSHIP_PROTOCOL, {
    maxFrame: 4096,
    timeoutMs: 10_000,
    valid: () => [lpJson(JSON.stringify({ certificate: ctx.certS ?? null }))],
    hostile: rng => {
      const base = ctx.certS ?? ctx.certM ?? { v: 1, network: 'fuzz', peer: '12D3KooWfuzz', issuedAt: 1, expiresAt: 2, sig: 'x'.repeat(86) }
      const certs = [
        ...hostileObjects(base as unknown as Record<string, unknown>),
        JSON.stringify({ ...base, network: 'n'.repeat(64) }), JSON.stringify({ ...base, network: 'n'.repeat(65) }),
        JSON.stringify({ ...base, peer: 'p'.repeat(128) }), JSON.stringify({ ...base, peer: 'p'.repeat(129) }),
        JSON.stringify({ ...base, issuedAt: 8.64e15 + 1 }), JSON.stringify({ ...base, expiresAt: 1e300 }), JSON.stringify({ ...base, issuedAt: 1e300, expiresAt: 1e301 }),
        JSON.stringify({ ...base, expiresAt: 1 }), JSON.stringify({ ...base, sig: 'A'.repeat(86) }), JSON.stringify({ ...base, sig: 'A'.repeat(85) }),
        JSON.stringify(ctx.certM ?? base), JSON.stringify({ ...base, v: 2 }), JSON.stringify('texmesh-cert-v1:' + 'A'.repeat(100))
      ]
      const c = rng.pick(certs)
      const text = rng.chance(0.1) ? `{"certificate":${c}}`.padEnd(rng.chance(0.5) ? 4096 : 4097, ' ') : rng.chance(0.1) ? rng.pick(HOSTILE_SCALARS) : `{"certificate":${c}}`
      return [{ bytes: [lpJson(text)] }]
    }
  })

  map.set(PEER_EXCHANGE_PROTOCOL, {
    timeoutMs: 10_000,
    valid: () => [],
    hostile: rng => [{ bytes: [lpJson(rng.pick(['[]', deepJson(100), '{"peers":[]}', ...HOSTILE_SCALARS]))] }]
  })

  map.set(IDENTIFY_PROTOCOL, {
    timeoutMs: 10_000,
    valid: () => [],
    hostile: rng => [{ bytes: [lp(concat([pb.string(6, longString(rng, 100)), pb.bytes(1, rng.bytes(36))]))] }]
  })

  map.set(PING_PROTOCOL, {
    timeoutMs: 10_000,
    valid: rng => [rng.bytes(32)],
    hostile: rng => {
      const n = rng.pick([0, 1, 31, 33, 64, 1000, 65_536, 1024 * 1024])
      return [{ bytes: [rng.bytes(n)] }]
    },
    judge: () => 'answered',
    trickle: rng => rng.bytes(32)
  })
  return map
}

/** gossipsub RPCs (meshsub/floodsub): hostile subscriptions, messages and control messages. */
function hostileRpc (rng: Rng, from: PeerId): Uint8Array {
  const topic = rng.pick([TASKS_TOPIC, VOTES_TOPIC, CRDT_TOPIC, rng.hex(16), '', longString(rng, 200)])
  const ids = (n: number): Uint8Array[] => Array.from({ length: n }, () => rng.bytes(rng.pick([0, 8, 40, 200])))
  const r = rng.below(12)
  const rpc: RPC = { subscriptions: [], messages: [] }
  switch (r) {
    case 0: rpc.subscriptions = Array.from({ length: rng.pick([10, 1000, 5000, 5001]) }, () => ({ subscribe: rng.chance(0.9), topic: rng.hex(rng.pick([4, 16, 64])) })); break
    case 1: rpc.subscriptions = [{ subscribe: true, topic: 't'.repeat(rng.pick([1000, 100_000])) }]; break
    case 2: rpc.messages = [{ topic, data: rng.bytes(rng.pick([0, 100, 5000, 300_000])) }]; break // unsigned
    case 3: rpc.messages = [{ topic, data: rng.bytes(100), from: from.toMultihash().bytes, seqno: rng.bytes(rng.pick([0, 8, 100])), signature: rng.bytes(rng.pick([0, 64, 1000])), key: rng.bytes(rng.pick([0, 36, 2000])) }]; break
    case 4: rpc.messages = Array.from({ length: rng.pick([100, 5000, 5001]) }, () => ({ topic, data: rng.bytes(4) })); break
    case 5: rpc.control = { ihave: [{ topicID: topic, messageIDs: ids(rng.pick([10, 5000, 5001])) }], iwant: [], graft: [], prune: [], idontwant: [] }; break
    case 6: rpc.control = { ihave: [], iwant: [{ messageIDs: ids(rng.pick([10, 5000, 5001])) }], graft: [], prune: [], idontwant: [] }; break
    case 7: rpc.control = { ihave: [], iwant: [], graft: Array.from({ length: rng.pick([1, 100, 5001]) }, () => ({ topicID: rng.pick([topic, rng.hex(8)]) })), prune: [], idontwant: [] }; break
    case 8: rpc.control = { ihave: [], iwant: [], graft: [], prune: [{ topicID: topic, peers: Array.from({ length: rng.pick([1, 16, 17]) }, () => ({ peerID: rng.bytes(38), signedPeerRecord: rng.bytes(rng.pick([0, 200, 5000])) })), backoff: rng.pick([0, 1, 2 ** 40]) }], idontwant: [] }; break
    case 9: rpc.control = { ihave: [], iwant: [], graft: [], prune: [], idontwant: [{ messageIDs: ids(rng.pick([1, 512, 513])) }] }; break
    default: rpc.subscriptions = [{ subscribe: rng.chance(0.5), topic }]
  }
  return RPC.encode(rpc)
}

// ---------------------------------------------------------------------------------------------
// Store envelopes and votes

interface Keyed { key: Ed25519PrivateKey, id: string }

async function keyed (key: Ed25519PrivateKey): Promise<Keyed> { return { key, id: peerIdFromPrivateKey(key).toString() } }

/** A validly signed envelope: `write` makes changes in a fresh document under the author's client id. */
async function envelope (who: Keyed, write: (doc: Y.Doc) => void, options: { incarnation?: Uint8Array, first?: number, seq?: number, base?: Uint8Array } = {}): Promise<{ bytes: Uint8Array, update: Uint8Array, incarnation: Uint8Array }> {
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
async function rawEnvelope (who: Keyed, fields: Omit<Envelope, 'signature' | 'author'>): Promise<Uint8Array> {
  const unsigned = { author: who.id, ...fields }
  return encodeEnvelope({ ...unsigned, signature: await who.key.sign(signingBytes(unsigned)) })
}

/** An envelope whose value is an array nested `depth` deep, spliced in lib0's encoding (Yjs would overflow its stack encoding it). */
async function deepSpliced (who: Keyed, key: string, depth: number): Promise<Uint8Array> {
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

function resultEntry (rng: Rng, over: Record<string, unknown> = {}): Record<string, unknown> {
  return { latex: `x^{${rng.below(100)}}`, confidence: 0.5, alternatives: [], model: 'texmesh-fuzz', time: Date.now(), ...over }
}

/** Votes signed over any fields (schemas bypassed): values just above a cap still carry a valid signature. */
async function rawVote (who: Keyed, v: Record<string, unknown>): Promise<Record<string, unknown>> {
  const sig = await ed.signAsync(voteSigningBytes(v as any), who.key.raw.subarray(0, 32))
  return { ...v, sig: Buffer.from(sig).toString('base64url') }
}

// ---------------------------------------------------------------------------------------------
// The attacker

interface Served { bytes?: Uint8Array, hostile: boolean }

class Attacker {
  readonly stats = new Stats()
  readonly notes: string[] = []
  private readonly rng: Rng
  private readonly nodePeer: PeerId
  private readonly nodeAddr
  private readonly network?: { name: string, adminPublicKey: Uint8Array, psk: Uint8Array }
  private m!: Libp2p<{ pubsub: GossipSub }>
  private s!: Libp2p<{ pubsub: GossipSub, membership: ReturnType<ReturnType<typeof membership>> }>
  private who!: { m: Keyed, s: Keyed, p: Keyed }
  /** more stream attackers (members too): the node's stream limits are per connection */
  private extra: Array<Libp2p<{ membership: unknown }>> = []
  private certS?: MembershipCertificate
  private certM?: MembershipCertificate
  /** images M serves when the node fetches them (by hash), and whether to answer hostilely */
  private readonly served = new Map<string, Served>()
  /** task ids the node leased to S */
  private readonly stolen: string[] = []
  /** hashes of blobs the node holds (leases it granted) */
  private readonly knownHashes: string[] = []
  private readonly stop: Array<() => Promise<void>> = []
  private stopping = false
  /** keys of store entries written by attacks the node must refuse / may accept, to check the store at the end */
  readonly keys: string[] = []

  constructor (private readonly init: AttackerInit) {
    this.rng = new Rng(init.seed)
    this.nodePeer = peerIdFromString(init.node.peerId)
    this.nodeAddr = multiaddr(init.node.addrs.find(a => a.includes('/tcp/')) ?? init.node.addrs[0]!)
    if (init.network != null) {
      this.network = { name: init.network.name, adminPublicKey: Buffer.from(init.network.adminPublicKey, 'base64url'), psk: swarmKeyFromPsk(init.network.psk) }
    }
  }

  private get deadline (): number { return this.init.deadline }
  private timeLeft (): boolean { return Date.now() < this.deadline && !this.stopping }

  private transport (): Record<string, unknown> {
    return {
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [safeYamux()],
      ...(this.network != null ? { connectionProtector: boundedPreSharedKey({ psk: this.network.psk }) } : {}),
      connectionManager: { dialTimeout: 10_000, inboundConnectionThreshold: 1000 }
    }
  }

  private member (cert: MembershipCertificate | undefined): ReturnType<typeof membership> {
    return membership({ network: this.network != null ? { name: this.network.name, adminPublicKey: this.network.adminPublicKey } : undefined, certificate: () => cert })
  }

  private cert (text: string | undefined): MembershipCertificate | undefined {
    if (text == null) return undefined
    return MembershipCertificate.parse(decodeCertificateText(text))
  }

  async start (): Promise<void> {
    const key = (hex: string): Ed25519PrivateKey => privateKeyFromProtobuf(Buffer.from(hex, 'hex')) as Ed25519PrivateKey
    this.who = { m: await keyed(key(this.init.identities.m.key)), s: await keyed(key(this.init.identities.s.key)), p: await keyed(key(this.init.identities.p.key)) }
    this.certM = this.cert(this.init.identities.m.cert)
    this.certS = this.cert(this.init.identities.s.cert)
    const gossip = (): ReturnType<typeof gossipsub> => gossipsub({ allowPublishToZeroTopicPeers: true, scoreParams: { IPColocationFactorWhitelist: new Set(['127.0.0.1']) }, emitSelf: false })
    this.m = await createLibp2p({ ...this.transport(), privateKey: this.who.m.key, services: { identify: identify(), ping: ping(), pubsub: gossip(), membership: this.member(this.certM) } } as any) as any
    this.s = await createLibp2p({ ...this.transport(), privateKey: this.who.s.key, services: { identify: identify(), ping: ping(), pubsub: gossip(), membership: this.member(this.certS) } } as any) as any
    this.stop.push(async () => { await this.m.stop() }, async () => { await this.s.stop() })
    for (const e of this.init.identities.extra) {
      const n = await createLibp2p({ ...this.transport(), privateKey: key(e.key), services: { identify: identify(), ping: ping(), membership: this.member(this.cert(e.cert)) } } as any) as any
      this.extra.push(n)
      this.stop.push(async () => { await n.stop() })
    }
    // libp2p caps a node's outbound streams per protocol by its own handlers' limits (ping: 1): lifted,
    // so the stream attackers can open more streams than the node takes.
    for (const n of [this.s, ...this.extra] as Libp2p[]) {
      const registrar = (n as unknown as { components: { registrar: { getHandler: (p: string) => { handler: any, options: object } } } }).components.registrar
      for (const protocol of n.getProtocols()) {
        const h = registrar.getHandler(protocol)
        await n.handle(protocol, h.handler, { ...h.options, maxOutboundStreams: 1024, force: true })
      }
    }
    await this.mAnswers()
    for (const n of [this.m, this.s, ...this.extra] as Libp2p[]) await n.dial(this.nodeAddr, { signal: AbortSignal.timeout(15_000) })
    // Subscribed, so the node's messages reach M and M is in its mesh.
    for (const t of [TASKS_TOPIC, VOTES_TOPIC, CRDT_TOPIC]) this.m.services.pubsub.subscribe(t)
    await this.until('the node to subscribe to its topics (seen by M)', () => [TASKS_TOPIC, VOTES_TOPIC, CRDT_TOPIC].every(t => this.m.services.pubsub.getSubscribers(t).some(p => p.equals(this.nodePeer))), 20_000)
    // In a private network, M's ballots, votes, loads and envelopes count only once the node holds M for a member:
    // the certificate exchange that tells M the node is one tells the node the same of M.
    if (this.network != null) {
      const ms = (this.m as unknown as { services: { membership: { stateOf: (p: PeerId) => { state: string } } } }).services.membership
      await this.until('the certificate exchange between M and the node', () => ms.stateOf(this.nodePeer).state === 'member', 20_000)
      await sleep(500)
    }
  }

  private async until (what: string, check: () => boolean, ms: number): Promise<void> {
    const end = Date.now() + ms
    while (!check()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
      await sleep(50)
    }
  }

  async close (): Promise<void> {
    this.stopping = true
    for (const f of this.stop.reverse()) await f().catch(() => {})
  }

  // -------------------------------------------------------------------------------------------
  // Campaign 1: streams to every protocol the node speaks

  async streams (): Promise<void> {
    const ctx = { stolen: this.stolen, knownHashes: this.knownHashes, mLog: undefined as string | undefined, ...(this.certS != null ? { certS: this.certS } : {}), ...(this.certM != null ? { certM: this.certM } : {}) }
    const byProtocol = profiles(ctx)
    const gossipProtocols = this.init.protocols.filter(p => /^\/(meshsub|floodsub)\//.test(p.protocol))
    const background: Array<Promise<void>> = []
    // Two passes: a few inputs of every kind to every protocol first, so that each is exercised however short
    // the run; then the rest of the count, each protocol with its share of the time left.
    const FIRST = 8
    for (const pass of [0, 1]) {
      for (const [index, { protocol, maxInbound }] of this.init.protocols.entries()) {
        // The first pass reaches every protocol even past the deadline (a second or so each); the second stops there.
        if (this.stopping || (pass === 1 && !this.timeLeft())) break
        const isGossip = gossipProtocols.some(g => g.protocol === protocol)
        // The gossipsub RPC protocols share one handler: the count is split among them.
        const total = isGossip ? Math.max(1, Math.ceil(this.init.count / gossipProtocols.length)) : this.init.count
        const count = pass === 0 ? Math.min(total, FIRST) : total - Math.min(total, FIRST)
        if (count <= 0) continue
        const profile = isGossip ? this.gossipProfile(protocol) : byProtocol.get(protocol) ?? genericProfile()
        // Shown to be a member again (a hostile certificate may have just been presented), so member-only paths answer.
        if (this.certS != null) for (const n of [this.s, ...this.extra]) await (n.services.membership as any).reannounce().catch(() => {})
        // Share of the remaining time: protocols left (the topics and answers campaigns run beside this one).
        const left = (pass === 0 ? this.init.protocols.length : 0) + this.init.protocols.length - index
        const until = Date.now() + Math.max(pass === 0 ? 1_000 : 5_000, (this.deadline - Date.now()) / left)
        background.push((await this.attackProtocol(protocol, profile, Math.max(1, maxInbound), count, pass === 0 ? until : Math.min(until, this.deadline), isGossip, pass === 1)).background)
        this.report()
      }
    }
    // Stalled streams wait for the node's own deadlines (gossipsub's protocols come first, so the reconnects
    // they need do not cut the long stalls of the others short).
    await Promise.all(background)
  }

  private gossipProfile (protocol: string): Profile {
    return {
      maxFrame: 4 * 1024 * 1024,
      // gossipsub reads an inbound stream for as long as the connection lasts: there is no deadline to wait for.
      timeoutMs: 3000,
      valid: rng => [lp(RPC.encode({ subscriptions: [{ subscribe: true, topic: rng.pick([TASKS_TOPIC, VOTES_TOPIC, CRDT_TOPIC]) }], messages: [] }))],
      hostile: rng => [{ bytes: [lp(hostileRpc(rng, this.s.peerId))] }],
      // gossipsub never answers on an inbound stream: taken, unless it reset the stream.
      judge: () => 'answered'
    }
    void protocol
  }

  /** Resolves, once the inputs are sent, with the stalls and slowloris streams still running. */
  private async attackProtocol (protocol: string, profile: Profile, limit: number, count: number, until: number, isGossip: boolean, longStall: boolean): Promise<{ background: Promise<void> }> {
    const rng = this.rng.fork()
    const target = protocol
    const max = profile.maxFrame
    const waitShort = 300
    // The count covers every input: stalls and slowloris streams first, then a plan of the rest (a burst of
    // concurrent streams takes as many inputs as it opens).
    // gossipsub reads an inbound stream for as long as the connection lasts and answers nothing on it: stalls
    // and slowloris mean nothing there, and its inputs go one at a time (S reconnects between some of them).
    const slow = isGossip ? 0 : Math.min(24, Math.max(1, Math.floor(count * 0.03)))
    const stalls = isGossip ? 0 : Math.min(limit + 2, 8, Math.max(1, Math.floor(count * 0.02)))
    const burst = Math.min(2 * limit + 2, 66)
    const plan: Array<{ cls: string, n: number }> = []
    const weights: Array<[string, number]> = [['random', 0.22], ['framing', 0.22], ['hostile', 0.36], ['valid', 0.08], ['concurrent', 0.12]]
    for (let used = slow + stalls; used < count;) {
      let r = rng.next()
      let cls = 'hostile'
      for (const [c, w] of weights) { if (r < w) { cls = c; break } r -= w }
      const n = cls === 'concurrent' ? Math.min(burst, count - used) : 1
      plan.push({ cls, n })
      used += n
    }
    const count1 = (cls: string, r: { outcome: Outcome, detail?: string }): void => {
      if (process.env.FUZZ_DEBUG != null) process.stderr.write(`${target} ${cls} ${r.outcome} ${r.detail ?? ''}\n`)
      this.stats.count(target, 'stream', cls, r.outcome, r.detail)
    }
    const peer = this.nodePeer
    // gossipsub's RPC streams come from S alone (it is the one gossipsub knows); the rest from every stream attacker.
    const streamers: Libp2p[] = isGossip ? [this.s] : [this.s, ...this.extra]
    const run = async (p: Probe, from = 0): Promise<void> => {
      if (isGossip) await this.ensureGossipPeer()
      count1(p.cls, await runProbe(streamers[from % streamers.length]!, peer, protocol, { ...p, ...(profile.judge != null && p.judge == null ? { judge: profile.judge } : {}) }))
    }
    // Background: stalls held until the node's own deadline (at most 65 s), and slowloris streams.
    const background = (async () => {
      const stallJobs = Array.from({ length: stalls }, (_, i) => i)
      await pool(stallJobs, stalls, this.deadline, async i => {
        const from = i
        // The first stall waits for the node's own deadline (it must end the stream); the others give up sooner.
        const hold = i === 0 && longStall && this.init.longStalls === true ? Math.min(profile.timeoutMs + 2000, 65_000, Math.max(1000, this.deadline + 30_000 - Date.now())) : 2000
        await run({ cls: 'stall', steps: [], closeWrite: false, waitMs: hold }, from)
      })
      await pool(Array.from({ length: slow }, (_, i) => i), Math.max(1, Math.floor(limit / 2)) * streamers.length, this.deadline, async (i) => {
        const payload = profile.trickle?.(rng) ?? profile.valid(rng)[0] ?? rng.bytes(64)
        await run({ cls: 'slowloris', steps: [{ trickle: payload, everyMs: 150 + rng.below(350), maxMs: 3000 }], closeWrite: true, waitMs: 1500 }, i)
      })
    })()
    const width = isGossip ? 1 : Math.max(1, Math.floor(limit / 2)) * streamers.length
    await pool(plan, width, until, async ({ cls, n }, index) => {
      const from = index
      switch (cls) {
        case 'random': {
          const n = rng.chance(0.05) ? rng.below(2 * 1024 * 1024) : rng.below(2 * (max ?? 1024) + 2)
          await run({ cls, steps: [rng.bytes(n)], closeWrite: rng.chance(0.8), waitMs: waitShort }, from)
          break
        }
        case 'framing': {
          const p = this.framing(rng, max ?? 1024, profile)
          // Protocols on which the node reads no frames (identify, peer exchange) answer whatever comes.
          await run(max == null ? { ...p, mustRefuse: false } : p, from)
          break
        }
        case 'hostile': {
          const h = rng.pick(profile.hostile(rng))
          await run({ cls, steps: h.bytes, closeWrite: true, waitMs: 3000, ...(h.mustRefuse === true ? { mustRefuse: true } : {}) }, from)
          break
        }
        case 'valid': {
          const v = profile.valid(rng)
          await run({ cls, steps: v.length > 0 ? v : [rng.bytes(8)], closeWrite: true, waitMs: 4000, ...(protocol === TASKS_PROTOCOL ? { judge: bytes => this.noteLeases(bytes) } : {}) }, from)
          break
        }
        case 'concurrent': {
          // A burst of twice the node's per-connection limit, all at once: the extra ones are refused.
          const v = profile.valid(rng)
          await Promise.all(Array.from({ length: n }, async () => { await run({ cls, steps: v.length > 0 ? v : [rng.bytes(16)], closeWrite: true, waitMs: 4000 }, from) }))
          break
        }
      }
    })
    return { background }
  }

  /** Steal replies to S: remember the leases (to fail, release and fetch them later). */
  private noteLeases (bytes: Uint8Array): 'answered' | 'refused' {
    const r = json(frames(bytes, 1)[0])
    if (r == null) return 'refused'
    for (const l of (Array.isArray(r.leases) ? r.leases : [])) {
      if (typeof l?.id === 'string' && this.stolen.length < 256) this.stolen.push(l.id)
      if (typeof l?.hash === 'string' && this.knownHashes.length < 256) this.knownHashes.push(l.hash)
    }
    return 'answered'
  }

  private framing (rng: Rng, max: number, profile: Profile): Probe {
    const cls = 'framing'
    const body = profile.valid(rng)[0] ?? lp(rng.bytes(16))
    const v = rng.below(10)
    switch (v) {
      case 0: return { cls, steps: [varint(100), rng.bytes(10)], closeWrite: true, waitMs: 1000 } // the prefix lies: EOF mid-frame
      case 1: return { cls, steps: [varint(Math.min(max, 200)), rng.bytes(5)], closeWrite: false, waitMs: 300 } // truncated, then silence
      case 2: return { cls, steps: [varint(max + 1), rng.bytes(max + 1)], closeWrite: true, waitMs: 1000, mustRefuse: max < 1024 * 1024 } // one byte over the cap
      case 3: return { cls, steps: [varint(rng.pick([2 ** 31, 2 ** 32 + 7, 2 ** 53 - 1])), rng.bytes(8)], closeWrite: true, waitMs: 1000, mustRefuse: true }
      case 4: return { cls, steps: [new Uint8Array(11).fill(0xff)], closeWrite: true, waitMs: 1000, mustRefuse: true } // a varint that never ends
      case 5: return { cls, steps: [varint(0)], closeWrite: true, waitMs: 1000 }
      case 6: return { cls, steps: [concat(Array.from({ length: 2000 }, () => lp(rng.bytes(rng.below(2)))))], closeWrite: true, waitMs: 1000 } // many tiny frames
      case 7: return { cls, steps: [body, body, body], closeWrite: true, waitMs: 1000 }
      case 8: return { cls, steps: [body.subarray(0, Math.max(1, body.length - 1))], closeWrite: true, waitMs: 1000 } // one byte short
      default: return { cls, steps: [concat([varint(max), rng.bytes(Math.min(max, 64 * 1024))])], closeWrite: true, waitMs: 1000 } // at the cap, cut
    }
  }

  /** S must be a gossipsub peer of the node for its RPC streams to be read; a hostile frame can end that, so reconnect now and then. */
  private gossipChecks = 0
  private async ensureGossipPeer (): Promise<void> {
    if (++this.gossipChecks % 8 !== 0) return
    await this.s.hangUp(this.nodePeer).catch(() => {})
    await this.s.dial(this.nodeAddr, { signal: AbortSignal.timeout(10_000) }).catch(() => {})
    await sleep(50)
  }

  // -------------------------------------------------------------------------------------------
  // Campaign 2: the gossipsub topics

  async topics (): Promise<void> {
    const plans: Array<[string, () => Promise<Uint8Array[]>]> = []
    const rng = this.rng.fork()
    for (const [topic, gen] of [[TASKS_TOPIC, this.tasksMessages(rng)], [VOTES_TOPIC, this.votesMessages(rng)], [CRDT_TOPIC, this.crdtMessages(rng)]] as const) plans.push([topic, gen])
    for (const [index, [topic, gen]] of plans.entries()) {
      const target = `topic:${topic}`
      const until = Date.now() + Math.max(5_000, (this.deadline - Date.now()) / (plans.length - index))
      let sent = 0
      while (sent < this.init.count && Date.now() < Math.min(until, this.deadline) && !this.stopping) {
        const batch = await gen()
        const flood = batch.length > 1
        for (const data of batch) {
          if (sent >= this.init.count) break
          sent++
          const cls = (data as { cls?: string }).cls ?? (flood ? 'flood' : 'hostile')
          const publish = this.m.services.pubsub.publish(topic, data)
          if (flood) {
            publish.then(() => { this.stats.count(target, 'topic', cls, 'answered') }, err => { this.stats.count(target, 'topic', cls, 'errors', (err as Error).message) })
          } else {
            await publish.then(() => { this.stats.count(target, 'topic', cls, 'answered') }, err => { this.stats.count(target, 'topic', cls, 'errors', (err as Error).message) })
          }
        }
        // Floods go out fast; other inputs are paced, so ballots and loads keep coming while the other campaigns run.
        if (!flood) await sleep(5 + rng.below(40))
        else await sleep(50)
        if (sent % 200 === 0) this.report()
      }
      this.report()
    }
  }

  private tag (cls: string, b: Uint8Array): Uint8Array { return Object.assign(b, { cls }) }

  /** texmesh/tasks/1: load messages. */
  private tasksMessages (rng: Rng): () => Promise<Uint8Array[]> {
    const base = { v: 1, queued: 3, running: 0, capacity: 1, backups: 0, tasks: [] as Array<{ id: string, hash: string }> }
    return async () => {
      const r = rng.next()
      if (r < 0.12) return [this.tag('random', rng.bytes(rng.pick([0, 1, 100, 4096, 4097, 20_000])))]
      if (r < 0.14) return Array.from({ length: 25 }, () => this.tag('flood', rng.chance(0.5) ? rng.bytes(rng.below(300)) : utf8(JSON.stringify({ ...base, queued: rng.below(5) }))))
      if (r < 0.35) {
        // Valid load: the node steals from M, which answers with hostile replies and blobs.
        const tasks = Array.from({ length: rng.below(17) }, () => ({ id: rng.hex(20), hash: rng.hex(64) }))
        return [this.tag('valid', utf8(JSON.stringify({ ...base, queued: 1 + rng.below(50), backups: rng.below(3), tasks })))]
      }
      const texts = [
        ...hostileObjects(base),
        JSON.stringify({ ...base, queued: 2 ** 53 }), JSON.stringify({ ...base, tasks: Array.from({ length: 17 }, () => ({ id: rng.hex(8), hash: rng.hex(64) })) }),
        JSON.stringify({ ...base, tasks: [{ id: 'x'.repeat(65), hash: rng.hex(64) }] }), JSON.stringify({ ...base, tasks: [{ id: '__proto__', hash: rng.hex(64) }] }),
        JSON.stringify({ ...base }).padEnd(4096, ' '), JSON.stringify({ ...base }).padEnd(4097, ' '), '\ufeff' + JSON.stringify(base)
      ]
      if (rng.chance(0.05)) return [this.tag('hostile', Buffer.from([0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1]))] // not UTF-8
      return [this.tag('hostile', utf8(rng.pick(texts)))]
    }
  }

  /** texmesh/votes/1: ballots and signed votes. */
  private votesMessages (rng: Rng): () => Promise<Uint8Array[]> {
    const nodeId = this.init.node.peerId
    const model = 'texmesh-fuzz+0000'
    let images = 0
    const manyImagesTask = `many-${rng.hex(8)}`
    return async () => {
      const r = rng.next()
      const m = this.who.m
      const vote = async (over: Record<string, unknown> = {}): Promise<SignedVote> =>
        await signVote(m.key, { task: `t-${rng.hex(10)}`, image: rng.hex(64), model, latex: 'x', confidence: 0.5, voter: m.id, time: Date.now(), ...over } as any)
      const wrap = (v: unknown): Uint8Array => utf8(JSON.stringify({ kind: 'vote', vote: v }))
      if (r < 0.1) return [this.tag('random', rng.bytes(rng.pick([0, 3, 500, 8192, 8193, 30_000])))]
      if (r < 0.12) return Array.from({ length: 25 }, () => this.tag('flood', rng.chance(0.3) ? rng.bytes(rng.below(9000)) : utf8(JSON.stringify({ kind: 'vote', vote: { task: 'x' } }))))
      if (r < 0.3) {
        // A ballot naming the node: it fetches the image from M (hostile blob answers) and votes.
        const image = this.serve(rng)
        const voters = [nodeId, ...Array.from({ length: 3 }, () => rng.pick([m.id, this.who.s.id, this.who.p.id]))]
        return [this.tag('valid', utf8(JSON.stringify({ kind: 'ballot', task: `b-${rng.hex(12)}`, image, model, file: longString(rng, rng.below(1025)), voters, round: 1 })))]
      }
      if (r < 0.42) {
        // Signed votes at and over the caps (4096 characters of LaTeX), with every field hostile in turn.
        const base = { task: `t-${rng.hex(10)}`, image: rng.hex(64), model, latex: 'x', confidence: 0.5, voter: m.id, time: Date.now() }
        const variants: Array<Record<string, unknown>> = [
          { ...base, latex: longString(rng, 4096) }, { ...base, latex: longString(rng, 4097) }, { ...base, task: 't'.repeat(65) }, { ...base, model: 'm'.repeat(129) },
          { ...base, confidence: 1.0000001 }, { ...base, confidence: -0 }, { ...base, time: -1 }, { ...base, time: 1.5 }, { ...base, time: 2 ** 60 },
          { ...base, voter: this.who.s.id }, { ...base, voter: 'not-a-peer-id' }, { ...base, image: rng.hex(63) }, { ...base, extra: 1 }
        ]
        const v = rng.pick(variants)
        if (rng.chance(0.5) && JSON.stringify(v).length < 6000) {
          try { return [this.tag('signed', wrap(await signVote(m.key, v as any)))] } catch { /* the schema refuses to sign it: sign it raw below */ }
        }
        return [this.tag('signed', wrap(await rawVote(m, v)))]
      }
      if (r < 0.52) {
        // Many images under one task (the per-task cap on remembered ballots).
        images++
        return [this.tag('many-images', wrap(await vote({ task: manyImagesTask, image: sha256Hex(utf8(`img${images}`)), latex: longString(rng, 200) })))]
      }
      if (r < 0.6) {
        // Equivocation: two different answers on one ballot, by M (and by fresh keys, which count in an open network).
        const voterKey = rng.chance(0.5) ? m : await keyed(await generateKeyPair('Ed25519'))
        const base = { task: `e-${rng.hex(10)}`, image: rng.hex(64), model, confidence: 0.5, voter: voterKey.id, time: Date.now() }
        // LaTeX of plain characters, so the vote messages stay under their 8 KiB cap and reach the equivocation check.
        const a = await signVote(voterKey.key, { ...base, latex: `a${rng.hex(rng.pick([10, 1000, 3000]))}` })
        const b = await signVote(voterKey.key, { ...base, latex: `b${rng.hex(rng.pick([10, 1000, 3000]))}` })
        return [this.tag('equivocation', wrap(a)), this.tag('equivocation', wrap(b))]
      }
      if (r < 0.68) {
        // Replays and forgeries: a vote again, a vote with its signature moved to another voter.
        const v = await vote()
        return [this.tag('replay', wrap(v)), this.tag('replay', wrap(v)), this.tag('forged', wrap({ ...v, voter: this.who.s.id })), this.tag('forged', wrap({ ...v, latex: 'y' }))]
      }
      const ballot = { kind: 'ballot', task: `b-${rng.hex(8)}`, image: rng.hex(64), model, file: 'f.png', voters: [nodeId], round: 1 }
      const texts = [
        ...hostileObjects(ballot),
        JSON.stringify({ ...ballot, voters: Array.from({ length: 65 }, () => nodeId) }), JSON.stringify({ ...ballot, round: 65 }),
        JSON.stringify({ ...ballot, file: 'f'.repeat(1025) }), JSON.stringify({ kind: 'vote', vote: deepJson(10) }),
        `{"kind":"vote","vote":${deepJson(3000)}}`, JSON.stringify({ kind: 'vote' }), JSON.stringify({ kind: 'vote', vote: null, extra: 1 })
      ]
      return [this.tag('hostile', utf8(rng.pick(texts)))]
    }
  }

  /** texmesh/crdt/1: envelopes, validly signed and not. */
  private crdtMessages (rng: Rng): () => Promise<Uint8Array[]> {
    const nodeId = this.init.node.peerId
    let accepted = 0
    /** an envelope of S's that the node takes, for M's foreign deletes and overwrites */
    let sDoc: { update: Uint8Array, key: string } | undefined
    return async () => {
      const m = this.who.m
      const r = rng.next()
      const key = (prefix: string): string => `${prefix}${rng.hex(12)}/${m.id}`
      if (r < 0.1) return [this.tag('random', rng.bytes(rng.pick([0, 1, 50, 300, 5000, 300_000])))]
      if (r < 0.12) {
        // A flood of small envelopes that overwrite an entry of an incarnation never sent: held (pending), within the held caps.
        const out: Uint8Array[] = []
        for (let i = 0; i < 25; i++) {
          const k = key(REFUSED_PREFIX)
          const ghost = await envelope(m, doc => { doc.getMap('results').set(k, resultEntry(rng)) })
          const held = await envelope(m, doc => { doc.getMap('results').set(k, resultEntry(rng)) }, { base: ghost.update })
          out.push(this.tag('flood', rng.chance(0.8) ? held.bytes : held.bytes.subarray(0, rng.below(held.bytes.length))))
        }
        return out
      }
      if (r < 0.24) {
        // Framing of the envelope itself: truncations, lying lengths, another version, trailing bytes.
        const e = await envelope(m, doc => { doc.getMap('results').set(key(REFUSED_PREFIX), resultEntry(rng)) })
        const b = Uint8Array.from(e.bytes)
        const v = rng.below(6)
        if (v === 0) return [this.tag('framing', b.subarray(0, rng.below(b.length)))]
        if (v === 1) { b[0] = 2; return [this.tag('framing', b)] }
        if (v === 2) return [this.tag('framing', concat([b, rng.bytes(1 + rng.below(10))]))]
        if (v === 3) { new DataView(b.buffer).setUint32(1, 0xffffffff); return [this.tag('framing', b)] } // author length lies
        if (v === 4) { const at = 1 + 4 + m.id.length + 16 + 24; new DataView(b.buffer).setUint32(at, 0xfffffff0); return [this.tag('framing', b)] } // update length lies
        b[b.length - 1] = b[b.length - 1]! ^ 1
        return [this.tag('framing', b)] // a signature that does not verify
      }
      if (r < 0.36) {
        // Valid envelopes by M and S: taken. Some at the update cap.
        accepted++
        if (accepted % 2 === 0 || sDoc != null) {
          const k = key(ACCEPTED_PREFIX)
          this.keys.push(k)
          const big = rng.chance(0.05) && accepted < 200
          const e = await envelope(m, doc => { doc.getMap('corrections').set(k, { latex: big ? longString(rng, 4096) : 'x', time: Date.now(), note: big ? longString(rng, 1024) : undefined }) })
          return [this.tag('valid', e.bytes)]
        }
        const k = `${ACCEPTED_PREFIX}s-${rng.hex(8)}/${this.who.s.id}`
        this.keys.push(k)
        const e = await envelope(this.who.s, doc => { doc.getMap('results').set(k, resultEntry(rng)) })
        sDoc = { update: e.update, key: k }
        return [this.tag('valid', e.bytes), this.tag('duplicate', e.bytes)]
      }
      // Validly signed, hostile: every one must be refused whole.
      const k = key(REFUSED_PREFIX)
      this.keys.push(k)
      const v = rng.below(16)
      let e: Uint8Array
      switch (v) {
        case 0: e = (await envelope(m, doc => { doc.getMap('results').set(k, { ...resultEntry(rng), confidence: 2 }) })).bytes; break
        case 1: e = (await envelope(m, doc => { doc.getMap('results').set(k, resultEntry(rng, { latex: 'x'.repeat(4097) })) })).bytes; break
        case 2: e = (await envelope(m, doc => { doc.getMap('results').set(k, resultEntry(rng, { regions: Array.from({ length: 65 }, () => ({ bbox: { x: 0, y: 0, width: 1, height: 1 }, latex: 'x', confidence: 0.5 })) })) })).bytes; break
        case 3: e = (await envelope(m, doc => { doc.getMap('members').set(k, resultEntry(rng)) })).bytes; break // the wrong shape for its map
        case 4: e = (await envelope(m, doc => { doc.getMap('results').set(`${REFUSED_PREFIX}${rng.hex(8)}/${nodeId}`, resultEntry(rng)) })).bytes; break // a foreign key
        case 5: e = (await envelope(m, doc => { doc.getMap('results').set(`${REFUSED_PREFIX}${rng.hex(8)}`, resultEntry(rng)) })).bytes; break // a key nobody owns
        case 6: e = (await envelope(m, doc => { doc.getMap('hack').set(k, resultEntry(rng)) })).bytes; break // outside the maps
        case 7: e = (await envelope(m, doc => { doc.getMap('results').set(k, new Y.Map()) })).bytes; break // a nested shared type
        case 8: {
          let deep: unknown = 1
          for (let i = 0; i < rng.pick([13, 50, 500]); i++) deep = [deep]
          e = (await envelope(m, doc => { doc.getMap('results').set(k, { ...resultEntry(rng), deep }) })).bytes
          break
        }
        case 9: e = await deepSpliced(m, k, rng.pick([13, 10_000, 100_000])); break
        case 10: e = (await envelope(m, doc => { doc.getMap('results').set(k, { ...resultEntry(rng), __proto__: { polluted: 1 } } as any); doc.getMap('corrections').set(key(REFUSED_PREFIX), JSON.parse('{"__proto__":{"polluted":1},"latex":"x","time":1}')) })).bytes; break
        case 11: {
          // Just over the update cap, signed anyway.
          const incarnation = newIncarnation()
          e = await rawEnvelope(m, { incarnation, client: clientIdFor(m.key.publicKey.raw, incarnation), first: 0, seq: 0, update: rng.bytes(256 * 1024 + 1) })
          break
        }
        case 12: {
          // Deletes and overwrites of S's entry, which the node holds: foreign deletes and origins.
          if (sDoc != null) {
            const s = sDoc
            e = (await envelope(m, doc => { rng.chance(0.5) ? doc.getMap('results').delete(s.key) : doc.getMap('results').set(s.key, resultEntry(rng)) }, { base: s.update })).bytes
          } else {
            e = (await envelope(m, doc => { doc.getMap('results').set(k, NaN) })).bytes
          }
          break
        }
        case 13: {
          // Another author's client id, or a seq range that runs backwards.
          const incarnation = newIncarnation()
          e = await rawEnvelope(m, { incarnation, client: clientIdFor(this.who.s.key.publicKey.raw, incarnation), first: 0, seq: 0, update: (await envelope(m, doc => { doc.getMap('results').set(k, resultEntry(rng)) })).update })
          break
        }
        case 14: e = (await envelope(m, doc => { doc.getMap('evidence').set(k, { votes: [{ a: 'x'.repeat(8193) }, {}], time: 1 }) })).bytes; break
        default: e = (await envelope(m, doc => { doc.getMap('calibration').set(k, { model: 'm', curve: [[0, 0]], fittedOn: [], time: 1 }) })).bytes
      }
      return [this.tag('signed', e)]
    }
  }

  // -------------------------------------------------------------------------------------------
  // M answers: steal replies, blobs, catch-up pages, peer lists

  /** An image hash M will serve when asked (sometimes a real formula, sometimes hostile bytes, sometimes a hostile transfer). */
  private serve (rng: Rng): string {
    const r = rng.next()
    let bytes: Uint8Array | undefined
    if (r < 0.15) bytes = pngVariant(this.init.fixture, rng.hex(16))
    else if (r < 0.22) bytes = pngBomb(rng)
    else if (r < 0.3) bytes = this.init.fixture.subarray(0, rng.below(this.init.fixture.length))
    else if (r < 0.36) bytes = rng.bytes(rng.below(5000))
    else if (r < 0.4) bytes = concat([utf8('GIF89a'), rng.bytes(200)])
    const hash = bytes != null ? sha256Hex(bytes) : rng.hex(64)
    if (this.served.size > 4096) this.served.delete(this.served.keys().next().value!)
    this.served.set(hash, bytes != null ? { bytes, hostile: rng.chance(0.3) } : { hostile: true })
    return hash
  }

  private async mAnswers (): Promise<void> {
    const rng = this.rng.fork()
    const answer = (protocol: string, handler: (stream: Stream, rng: Rng) => Promise<string>): Promise<void> =>
      this.m.handle(protocol, (stream: Stream) => {
        const target = `answer:${protocol}`
        if (this.stopping || this.stats.of(target, 'answer').sent >= this.init.count) { stream.abort(new Error('enough')); return }
        const deadline = setTimeout(() => { stream.abort(new Error('fuzz: answer deadline')) }, 8000)
        handler(stream, rng).then(cls => { this.stats.count(target, 'answer', cls, 'answered') }, err => { this.stats.count(target, 'answer', 'broken', 'refused', (err as Error).message) })
          .finally(() => { clearTimeout(deadline); if (stream.status === 'open') stream.abort(new Error('fuzz: done')) })
      }, { maxInboundStreams: 64, maxOutboundStreams: 64 })
    await answer(TASKS_PROTOCOL, async (stream, rng) => await this.answerTasks(stream, rng))
    await answer(BLOB_PROTOCOL, async (stream, rng) => await this.answerBlob(stream, rng))
    await answer(CRDT_SYNC_PROTOCOL, async (stream, rng) => await this.answerCrdt(stream, rng))
    await answer(PEER_EXCHANGE_PROTOCOL, async (stream, rng) => await this.answerPeers(stream, rng))
    void rng
  }

  /** The first frame the node sends (its request), within `ms`. */
  private async request (stream: Stream, ms = 3000): Promise<Uint8Array | undefined> {
    const got = collect(stream, 2 * 1024 * 1024)
    const end = Date.now() + ms
    while (Date.now() < end) {
      const f = frames(got.bytes(), 1)[0]
      if (f != null) return f
      await Promise.race([sleep(20), got.ended])
      if (stream.status !== 'open' && frames(got.bytes(), 1).length === 0) return undefined
    }
    return undefined
  }

  private async reply (stream: Stream, parts: Uint8Array[], opts: { trickleMs?: number, close?: boolean } = {}): Promise<void> {
    for (const p of parts) {
      if (opts.trickleMs != null) {
        for (let i = 0; i < p.length && stream.status === 'open'; i += Math.max(1, Math.ceil(p.length / 20))) {
          await sendOrWait(stream, p.subarray(i, i + Math.max(1, Math.ceil(p.length / 20))))
          await sleep(opts.trickleMs)
        }
      } else {
        await sendOrWait(stream, p)
      }
    }
    if (opts.close !== false && stream.status === 'open') await stream.close({ signal: AbortSignal.timeout(3000) }).catch(() => {})
  }

  private async answerTasks (stream: Stream, rng: Rng): Promise<string> {
    const req = json(await this.request(stream))
    if (req?.kind !== 'steal') {
      await this.reply(stream, [rng.chance(0.5) ? lpJson('{"ok":true}') : lp(rng.bytes(rng.below(100)))])
      return 'report'
    }
    const lease = (): Record<string, unknown> => ({ id: `m-${rng.hex(12)}`, hash: this.serve(rng), file: longString(rng, rng.below(1025)), critical: false, expiresAt: Date.now() + 30_000 })
    const v = rng.below(12)
    switch (v) {
      case 0: await this.reply(stream, [lp(rng.bytes(rng.below(2000)))]); return 'random'
      case 1: await this.reply(stream, [lpJson(JSON.stringify({ leases: Array.from({ length: 17 }, lease), queued: 1, backups: 0 }))]); return 'too-many-leases'
      case 2: await this.reply(stream, [lpJson(withField({ leases: [lease()], queued: 1, backups: 0 }, rng.pick(['queued', 'backups']), rng.pick(HOSTILE_SCALARS)))]); return 'hostile'
      case 3: await this.reply(stream, [lpJson(JSON.stringify({ leases: [withField(lease(), rng.pick(['id', 'hash', 'file', 'critical', 'expiresAt']), rng.pick(HOSTILE_SCALARS))].map(t => JSON.parse(t)), queued: 1, backups: 0 }))]); return 'hostile-lease'
      case 4: await this.reply(stream, [varint(64 * 1024 + 1), rng.bytes(64 * 1024 + 1)]); return 'oversized'
      case 5: await this.reply(stream, [lpJson(JSON.stringify({ leases: [lease()], queued: 1, backups: 0 }))], { trickleMs: 100 }); return 'slowloris'
      case 6: await sleep(6000); return 'stall'
      case 7: await this.reply(stream, [lpJson(JSON.stringify({ leases: [], queued: 2 ** 53, backups: 2 ** 53 }))]); return 'huge-counts'
      default: await this.reply(stream, [lpJson(JSON.stringify({ leases: [lease()], queued: rng.below(10), backups: 0 }))]); return 'lease'
    }
  }

  private async answerBlob (stream: Stream, rng: Rng): Promise<string> {
    const req = json(await this.request(stream))
    const hash = typeof req?.hash === 'string' ? req.hash : ''
    const entry = this.served.get(hash)
    if (entry?.bytes != null && !entry.hostile) {
      const b = entry.bytes
      const parts = [lpJson(JSON.stringify({ status: 'ok', size: b.length }))]
      for (let at = 0; at < b.length; at += 64 * 1024) parts.push(lp(b.subarray(at, at + 64 * 1024)))
      parts.push(lp(new Uint8Array(0)))
      await this.reply(stream, parts)
      return 'image'
    }
    const b = entry?.bytes ?? rng.bytes(1000)
    const ok = (size: unknown): Uint8Array => lpJson(JSON.stringify({ status: 'ok', size }))
    const v = rng.below(13)
    switch (v) {
      case 0: await this.reply(stream, [lp(rng.bytes(rng.below(300)))]); return 'random'
      case 1: await this.reply(stream, [ok(32 * 1024 * 1024 + 1)]); return 'too-large'
      case 2: await this.reply(stream, [lpJson(withField({ status: 'ok', size: b.length }, 'size', rng.pick(HOSTILE_SCALARS)))]); return 'hostile-size'
      case 3: await this.reply(stream, [ok(b.length), lp(b), lp(rng.bytes(10)), lp(new Uint8Array(0))]); return 'more-than-announced'
      case 4: await this.reply(stream, [ok(b.length + 100), lp(b), lp(new Uint8Array(0))]); return 'fewer-than-announced'
      case 5: await this.reply(stream, [ok(200 * 1024), varint(64 * 1024 + 1), rng.bytes(64 * 1024 + 1)]); return 'oversized-chunk'
      case 6: await this.reply(stream, [ok(b.length), lp(rng.bytes(b.length)), lp(new Uint8Array(0))]); return 'hash-mismatch'
      case 7: await this.reply(stream, [lpJson(JSON.stringify({ status: rng.pick(['missing', 'refused']), reason: longString(rng, rng.pick([512, 513])) }))]); return 'refusal'
      case 8: await this.reply(stream, [ok(b.length), lp(b), lp(new Uint8Array(0))], { trickleMs: 100 }); return 'slowloris'
      case 9: await sleep(rng.chance(0.3) ? 5000 : 1000); return 'stall'
      case 10: {
        // Chunks of one byte: many tiny frames.
        const parts = [ok(Math.min(b.length, 2000))]
        for (let i = 0; i < Math.min(b.length, 2000); i++) parts.push(lp(b.subarray(i, i + 1)))
        parts.push(lp(new Uint8Array(0)))
        await this.reply(stream, [concat(parts)])
        return 'tiny-chunks'
      }
      case 11: await this.reply(stream, [ok(b.length), lp(b)]); return 'no-end-mark'
      default: await this.reply(stream, [ok(b.length), lp(b), lp(new Uint8Array(0))]); return 'served'
    }
  }

  private crdtPages = 0
  private async answerCrdt (stream: Stream, rng: Rng): Promise<string> {
    await this.request(stream)
    const m = this.who.m
    const env = async (): Promise<Uint8Array> => {
      // Half of them valid (M's own key, a good value): the node takes those; the others it must refuse.
      const valid = rng.chance(0.5)
      const k = valid ? `${ACCEPTED_PREFIX}${rng.hex(8)}/${m.id}` : `${REFUSED_PREFIX}${rng.hex(8)}/${rng.chance(0.5) ? m.id : this.init.node.peerId}`
      return (await envelope(m, doc => { doc.getMap('results').set(k, resultEntry(rng, { confidence: valid ? 0.5 : rng.pick([2, -1]) })) })).bytes
    }
    const v = rng.below(10)
    switch (v) {
      case 0: await this.reply(stream, [lp(rng.bytes(rng.below(4000))), lp(new Uint8Array(0))]); return 'random'
      case 1: await this.reply(stream, [varint(256 * 1024 + 1025), rng.bytes(256 * 1024 + 1025)]); return 'oversized-frame'
      case 2: await this.reply(stream, [varint(1000), rng.bytes(10)]); return 'truncated'
      case 3: {
        // Pages of envelopes at new positions that the node must refuse: it asks for the next page while they move on (bounded here).
        if (this.crdtPages++ > 6) { await this.reply(stream, [lp(new Uint8Array(0))]); return 'end' }
        const incarnation = newIncarnation()
        const parts: Uint8Array[] = []
        let size = 0
        for (let seq = 0; size < 2.1 * 1024 * 1024; seq++) {
          const junk = await rawEnvelope(m, { incarnation, client: clientIdFor(m.key.publicKey.raw, incarnation), first: seq, seq, update: rng.bytes(200 * 1024) })
          const bad = Uint8Array.from(junk)
          bad[bad.length - 1] = bad[bad.length - 1]! ^ 1
          parts.push(lp(bad))
          size += bad.length
        }
        parts.push(lp(new Uint8Array(0)))
        await this.reply(stream, parts)
        return 'junk-pages'
      }
      case 4: await this.reply(stream, [lp(await env())], { trickleMs: 100, close: false }); await sleep(2000); return 'slowloris'
      case 5: await sleep(5000); return 'stall'
      case 6: await this.reply(stream, [concat(Array.from({ length: 3000 }, () => lp(new Uint8Array(1))))]); return 'tiny-frames'
      case 7: await this.reply(stream, [lp(await deepSpliced(m, `${REFUSED_PREFIX}${rng.hex(8)}/${m.id}`, 50_000)), lp(new Uint8Array(0))]); return 'deep'
      default: {
        const parts: Uint8Array[] = []
        for (let i = 0; i < 3; i++) parts.push(lp(await env()))
        parts.push(lp(new Uint8Array(0)))
        await this.reply(stream, parts)
        return 'hostile-envelopes'
      }
    }
  }

  private async answerPeers (stream: Stream, rng: Rng): Promise<string> {
    const list = await this.peerList(rng)
    await this.reply(stream, [list.bytes])
    return list.cls
  }

  /**
   * A hostile peer list. Every address that could be dialled is on 127.0.0.1 (closed ports, the node's
   * own port under another id, M's port under a made-up id): no traffic leaves loopback.
   */
  private async peerList (rng: Rng): Promise<{ bytes: Uint8Array, cls: string }> {
    const fakeId = async (): Promise<string> => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    const local = (): string => rng.pick([`/ip4/127.0.0.1/tcp/${1 + rng.below(1023)}`, `/ip4/127.0.0.1/tcp/${this.init.node.tcpPort}`, this.m.getMultiaddrs()[0]?.toString() ?? '/ip4/127.0.0.1/tcp/9'])
    const v = rng.below(8)
    switch (v) {
      case 0: return { bytes: lp(rng.bytes(rng.below(3000))), cls: 'random' }
      case 1: return { bytes: lpJson(JSON.stringify(Array.from({ length: 1025 }, () => ({ id: 'x', addrs: [] })))), cls: 'too-many' }
      case 2: return { bytes: concat([varint(64 * 1024 + 1), rng.bytes(64 * 1024 + 1)]), cls: 'oversized' }
      case 3: {
        const peers = []
        for (let i = 0; i < 40; i++) peers.push({ id: await fakeId(), addrs: Array.from({ length: 10 }, local) })
        return { bytes: lpJson(JSON.stringify(peers)), cls: 'loopback-peers' }
      }
      case 4: return { bytes: lpJson(JSON.stringify([{ id: this.init.node.peerId, addrs: [local()] }, { id: this.who.m.id, addrs: [local()] }, { id: 'not-a-peer', addrs: ['/ip4/127.0.0.1/tcp/1'] }])), cls: 'self-and-sender' }
      case 5: return { bytes: lpJson(JSON.stringify([{ id: await fakeId(), addrs: ['garbage', '/ip4/127.0.0.1/udp/1/quic-v1', '/ip4/127.0.0.1/tcp/1/p2p-circuit', `/ip4/127.0.0.1/tcp/1/p2p/${await fakeId()}`, '/unix/tmp/texmesh-fuzz-none', 'x'.repeat(256)] }])), cls: 'bad-addrs' }
      case 6: return { bytes: lpJson(withField({ id: 'x', addrs: [] }, rng.pick(['id', 'addrs']), rng.pick(HOSTILE_SCALARS))), cls: 'hostile' }
      default: return { bytes: lpJson(`[${deepJson(2000)}]`), cls: 'deep' }
    }
  }

  // -------------------------------------------------------------------------------------------
  // Campaign 3: liars (identify, ping, membership, peer exchange, catch-up answers)

  async liars (): Promise<void> {
    const rng = this.rng.fork()
    const targets = [IDENTIFY_PROTOCOL, PING_PROTOCOL, MEMBERSHIP_PROTOCOL, PEER_EXCHANGE_PROTOCOL].map(p => `answer:${p}`)
    const enough = (): boolean => targets.every(t => this.stats.of(t, 'answer').sent >= this.init.count) && this.stats.of(`answer:${CRDT_SYNC_PROTOCOL}`, 'answer').sent >= this.init.count
    const lanes = 12
    await Promise.all(Array.from({ length: lanes }, async () => {
      while (this.timeLeft() && !enough()) {
        // A connection the node refuses (its pending-connection limit and per-IP rate are shared with the raw TCP campaign) is counted, not an error.
        await this.oneLiar(rng.fork()).then(() => { this.stats.count('answer:connections', 'answer', 'liar', 'answered') }, err => { this.stats.count('answer:connections', 'answer', 'liar', 'refused', (err as Error).message) })
        this.report()
      }
    }))
  }

  private async oneLiar (rng: Rng): Promise<void> {
    const key = await generateKeyPair('Ed25519')
    const liar = await createLibp2p({ ...this.transport(), privateKey: key, services: {} } as any)
    const count = (protocol: string, cls: string, outcome: Outcome = 'answered'): void => { this.stats.count(`answer:${protocol}`, 'answer', cls, outcome) }
    const nodeProtocols = this.init.protocols.map(p => p.protocol).filter(p => !/^\/(meshsub|floodsub)\//.test(p))
    try {
      const handle = async (protocol: string, f: (stream: Stream) => Promise<string>): Promise<void> => {
        await liar.handle(protocol, (stream: Stream) => {
          const deadline = setTimeout(() => { stream.abort(new Error('fuzz: answer deadline')) }, 8000)
          f(stream).then(cls => { count(protocol, cls) }, err => { count(protocol, 'broken', 'refused'); void err })
            .finally(() => { clearTimeout(deadline); if (stream.status === 'open') stream.abort(new Error('fuzz: done')) })
        }, { maxInboundStreams: 16, maxOutboundStreams: 16 })
      }
      await handle(IDENTIFY_PROTOCOL, async stream => {
        const honest = (protocols: string[]): Uint8Array => concat([
          pb.string(5, 'ipfs/0.1.0'), pb.string(6, 'fuzz/1.0'), pb.bytes(1, publicKeyToProtobuf(key.publicKey)),
          ...protocols.map(p => pb.string(3, p)), pb.bytes(2, multiaddr('/ip4/127.0.0.1/tcp/9').bytes)
        ])
        // Plausible answers half the time, so that the node goes on to ask for the rest (ping, certificates, peers, catch-up).
        const v = rng.chance(0.5) ? 99 : rng.below(11)
        const useful = [MEMBERSHIP_PROTOCOL, PEER_EXCHANGE_PROTOCOL, CRDT_SYNC_PROTOCOL, PING_PROTOCOL]
        switch (v) {
          case 0: await this.reply(stream, [lp(rng.bytes(rng.below(500)))]); return 'random'
          case 1: await this.reply(stream, [lp(concat([pb.string(6, 'x'), pb.bytes(1, rng.bytes(36))]))]); return 'garbage-key'
          case 2: await this.reply(stream, [lp(concat([pb.string(6, 'x'), ...useful.map(p => pb.string(3, p))]))]); return 'no-key'
          case 3: await this.reply(stream, [lp(concat([pb.bytes(1, publicKeyToProtobuf(this.who.m.key.publicKey)), ...useful.map(p => pb.string(3, p))]))]); return 'another-key'
          case 4: await this.reply(stream, [varint(8193), rng.bytes(8193)]); return 'oversized'
          case 5: await this.reply(stream, [lp(concat([honest(useful), ...Array.from({ length: 300 }, () => pb.string(3, `/fuzz/${rng.hex(12)}`))]))]); return 'many-protocols'
          case 6: await this.reply(stream, [lp(concat([honest(useful), ...Array.from({ length: 200 }, () => pb.bytes(2, rng.bytes(rng.below(30))))]))]); return 'bad-addrs'
          case 7: await this.reply(stream, [lp(concat([honest(useful), pb.bytes(8, rng.bytes(rng.below(2000))), pb.bytes(4, rng.bytes(20))]))]); return 'bad-record'
          case 8: await this.reply(stream, Array.from({ length: 12 }, () => lp(honest(useful)))); return 'many-messages'
          case 9: await this.reply(stream, [lp(honest(useful))], { trickleMs: 150 }); return 'slowloris'
          case 10: await this.reply(stream, [lp(honest([...useful, ...nodeProtocols, 'x'.repeat(1000)]))]); return 'long-protocol'
          default: await this.reply(stream, [lp(honest(useful))]); return 'plausible'
        }
      })
      await handle(PING_PROTOCOL, async stream => {
        const got = collect(stream)
        await Promise.race([got.ended, sleep(300)])
        const v = rng.below(5)
        if (v === 0) { await this.reply(stream, [rng.bytes(32)]); return 'wrong-echo' }
        if (v === 1) { await sleep(6000); return 'stall' }
        if (v === 2) { await this.reply(stream, [rng.bytes(rng.pick([31, 33, 1024 * 1024]))]); return 'wrong-length' }
        if (v === 3) { await this.reply(stream, [got.bytes().subarray(0, 32)], { trickleMs: 300 }); return 'slowloris' }
        await this.reply(stream, [got.bytes().subarray(0, 32)])
        return 'echo'
      })
      await handle(MEMBERSHIP_PROTOCOL, async stream => {
        await this.request(stream)
        const base = this.certM ?? { v: 1, network: 'fuzz', peer: peerIdFromPrivateKey(key).toString(), issuedAt: 1, expiresAt: 2 ** 40, sig: 'A'.repeat(86) }
        const v = rng.below(8)
        const msg = (cert: string): Uint8Array => lpJson(`{"certificate":${cert}}`)
        switch (v) {
          case 0: await this.reply(stream, [lp(rng.bytes(rng.below(5000)))]); return 'random'
          case 1: await this.reply(stream, [msg(rng.pick(hostileObjects(base as unknown as Record<string, unknown>)))]); return 'hostile-certificate'
          case 2: await this.reply(stream, [msg(JSON.stringify(this.certM ?? base))]); return 'another-peers-certificate'
          case 3: await this.reply(stream, [varint(4097), rng.bytes(4097)]); return 'oversized'
          case 4: await this.reply(stream, [msg(deepJson(1900))]); return 'deep'
          case 5: await sleep(6000); return 'stall'
          case 6: await this.reply(stream, [msg('null')], { trickleMs: 200 }); return 'slowloris'
          default: await this.reply(stream, [msg(JSON.stringify({ ...base, peer: peerIdFromPrivateKey(key).toString() }))]); return 'forged-certificate'
        }
      })
      await handle(PEER_EXCHANGE_PROTOCOL, async stream => { const l = await this.peerList(rng); await this.reply(stream, [l.bytes]); return l.cls })
      await handle(CRDT_SYNC_PROTOCOL, async stream => await this.answerCrdt(stream, rng))
      await liar.start()
      await liar.dial(this.nodeAddr, { signal: AbortSignal.timeout(10_000) })
      // The node identifies, pings, exchanges certificates and peers and pulls; some of it again a few seconds later.
      await sleep(rng.chance(0.5) ? 2000 + rng.below(1000) : 5000 + rng.below(2000))
    } finally {
      await Promise.resolve(liar.stop()).catch(() => {})
    }
  }

  // -------------------------------------------------------------------------------------------
  // Campaign 4: raw TCP before any handshake

  async raw (): Promise<void> {
    const rng = this.rng.fork()
    const target = 'tcp'
    const port = this.init.node.tcpPort
    const one = async (cls: string, data: (s: net.Socket) => Promise<void>, holdMs: number): Promise<void> => {
      const outcome = await new Promise<Outcome>(resolve => {
        const s = net.connect({ host: '127.0.0.1', port })
        let settled = false
        const done = (o: Outcome): void => { if (!settled) { settled = true; clearTimeout(timer); s.destroy(); resolve(o) } }
        const timer = setTimeout(() => { done('stalled') }, holdMs)
        s.on('error', () => { done('refused') })
        s.on('close', () => { done('refused') })
        s.on('data', () => {})
        s.on('connect', () => { data(s).catch(() => { done('refused') }) })
      })
      this.stats.count(target, 'transport', cls, outcome)
    }
    const jobs = Array.from({ length: this.init.count }, (_, i) => i)
    // Four sockets at a time, a few per second: libp2p keeps 10 connections pending at most and takes
    // 100 per second from one IP, and the other campaigns connect from 127.0.0.1 too.
    await pool(jobs, 4, this.deadline, async () => {
      const v = rng.below(6)
      if (v === 0) await one('random', async s => { s.end(Buffer.from(rng.bytes(rng.below(4096)))) }, 2000)
      else if (v === 1) await one('multistream-garbage', async s => { s.write('\x13/multistream/1.0.0\n'); s.write(Buffer.from(rng.bytes(200))) }, 2000)
      else if (v === 2) await one('slowloris', async s => { for (let i = 0; i < 20 && !s.destroyed; i++) { s.write(Buffer.from(rng.bytes(1))); await sleep(100) } }, 2500)
      else if (v === 3) await one('half-close', async s => { s.end() }, 1000)
      else if (v === 4) await one('stall', async () => {}, 1500)
      else await one('big', async s => { s.write(Buffer.from(rng.bytes(256 * 1024))) }, 2000)
      // libp2p refuses more than a set number of inbound connections per second from one IP (every attacker here shares 127.0.0.1).
      await sleep(150)
    })
  }

  /** Hold more stalled raw connections than libp2p's pending-upgrade limit and see whether an honest dial still gets through. */
  async pendingSlots (): Promise<string> {
    const sockets: net.Socket[] = []
    try {
      for (let i = 0; i < 12; i++) {
        const s = net.connect({ host: '127.0.0.1', port: this.init.node.tcpPort })
        s.on('error', () => {})
        sockets.push(s)
      }
      await sleep(300)
      const key = await generateKeyPair('Ed25519')
      const probe = await createLibp2p({ ...this.transport(), privateKey: key, services: {} } as any)
      try {
        await probe.start()
        const t0 = Date.now()
        const ok = await probe.dial(this.nodeAddr, { signal: AbortSignal.timeout(5000) }).then(() => true, () => false)
        return ok
          ? `a new peer connected (${Date.now() - t0} ms) while 12 raw connections stalled before the handshake`
          : 'a new peer could NOT connect while 12 raw connections stalled before the handshake (libp2p\'s maxIncomingPendingConnections, 10 by default): an attacker holding the pending slots keeps new peers out for the upgrade timeout'
      } finally {
        await Promise.resolve(probe.stop()).catch(() => {})
      }
    } finally {
      for (const s of sockets) s.destroy()
    }
  }

  // -------------------------------------------------------------------------------------------
  // The end: an honest member is still served

  async probe (): Promise<ProbeResult> {
    const t0 = Date.now()
    const p = await createLibp2p({ ...this.transport(), privateKey: this.who.p.key, services: { identify: identify(), ping: ping(), membership: this.member(this.cert(this.init.identities.p.cert)) } } as any) as any as Libp2p<{ ping: { ping: (p: PeerId, o?: object) => Promise<number> } }>
    const steps: string[] = []
    try {
      await p.start()
      // An honest peer dials again when a dial fails (the pending-slot probe has just ended).
      for (let attempt = 1; ; attempt++) {
        try {
          await p.dial(this.nodeAddr, { signal: AbortSignal.timeout(10_000) })
          break
        } catch (err) {
          if (attempt >= 5) throw err
          steps.push(`dial ${attempt} failed (${(err as Error).message})`)
          await sleep(1000 * attempt)
        }
      }
      steps.push(`ping ${await p.services.ping.ping(this.nodePeer, { signal: AbortSignal.timeout(10_000) })} ms`)
      // A catch-up: the node streams what P lacks, then an end mark.
      const sync = await runProbe(p, this.nodePeer, CRDT_SYNC_PROTOCOL, { cls: 'probe', steps: [lpJson('{}')], closeWrite: true, waitMs: 15_000 })
      if (sync.outcome !== 'answered') throw new Error(`catch-up: ${sync.outcome} ${sync.detail ?? ''}`)
      steps.push('catch-up answered')
      await sleep(1500) // the certificate exchange (private networks: blobs are for members)
      const blob = await runProbe(p, this.nodePeer, BLOB_PROTOCOL, { cls: 'probe', steps: [lpJson(JSON.stringify({ hash: '0'.repeat(64) }))], closeWrite: true, waitMs: 10_000, judge: judgeJson(r => r.status !== 'missing') })
      if (blob.outcome !== 'answered') throw new Error(`blob: ${blob.outcome} (expected "missing")`)
      steps.push('blob request answered')
      const steal = await runProbe(p, this.nodePeer, TASKS_PROTOCOL, { cls: 'probe', steps: [lpJson('{"kind":"steal","want":1}')], closeWrite: true, waitMs: 10_000, judge: judgeJson(r => !Array.isArray(r.leases)) })
      if (steal.outcome !== 'answered') throw new Error(`steal: ${steal.outcome}`)
      steps.push('steal answered')
      return { ok: true, detail: steps.join(', '), ms: Date.now() - t0 }
    } catch (err) {
      return { ok: false, detail: `${steps.join(', ')}${steps.length > 0 ? '; then ' : ''}${(err as Error).message}`, ms: Date.now() - t0 }
    } finally {
      await Promise.resolve(p.stop()).catch(() => {})
    }
  }

  report (): void {
    parentPort?.postMessage({ type: 'progress', stats: this.stats.list() } satisfies AttackerMessage)
  }
}

function genericProfile (): Profile {
  return { timeoutMs: 10_000, valid: rng => [lp(rng.bytes(32))], hostile: rng => [{ bytes: [lp(rng.bytes(rng.below(1000)))] }] }
}

async function main (): Promise<void> {
  const init = workerData as AttackerInit
  const attacker = new Attacker(init)
  // A hard stop: whatever is still running at the deadline is abandoned.
  const hardStop = setTimeout(() => { void attacker.close() }, Math.max(0, init.deadline - Date.now()) + 70_000)
  hardStop.unref()
  try {
    await attacker.start()
    const t0 = Date.now()
    const timed = async (name: string, run: Promise<void>): Promise<void> => {
      try { await run } finally { attacker.notes.push(`campaign ${name} ended after ${Math.round((Date.now() - t0) / 1000)} s`) }
    }
    const campaigns = [timed('streams', attacker.streams()), timed('topics', attacker.topics()), timed('liars', attacker.liars()), timed('raw tcp', attacker.raw())]
    const results = await Promise.allSettled(campaigns)
    for (const r of results) if (r.status === 'rejected') attacker.notes.push(`a campaign broke off: ${(r.reason as Error)?.message ?? String(r.reason)}`)
    // Answers the node asks for late (pulls, exchanges of the last connections) are let in for a moment.
    await sleep(1000)
    // While all of the node's pending-connection slots are held by stalled sockets, can a peer still connect?
    attacker.notes.push(await attacker.pendingSlots().catch(err => `pending-slot probe failed: ${(err as Error).message}`))
    const refusedConnections = attacker.stats.of('answer:connections', 'answer')
    if (refusedConnections.refused > 0) attacker.notes.push(`${refusedConnections.refused} of ${refusedConnections.sent} liar connections were refused by the node (${refusedConnections.samples.slice(0, 2).join('; ')})`)
    await sleep(2000)
    const probe = await attacker.probe()
    await attacker.close()
    parentPort?.postMessage({ type: 'done', stats: attacker.stats.list(), probe, notes: attacker.notes, keys: attacker.keys } satisfies AttackerMessage)
  } catch (err) {
    await attacker.close()
    parentPort?.postMessage({ type: 'failed', error: (err as Error).stack ?? String(err), stats: attacker.stats.list() } satisfies AttackerMessage)
  } finally {
    clearTimeout(hardStop)
  }
}

if (parentPort != null && (workerData as { fuzzAttacker?: boolean } | undefined)?.fuzzAttacker === true) void main()
