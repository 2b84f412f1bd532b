/**
 * The attacker's stream plumbing, written once for every campaign: open a stream and play a probe on it
 * (bytes, sleeps, trickles) and judge the node's reply; read the node's request and write a reply
 * (whole or trickled) on a stream the node opened; answer the node's streams of a protocol, each
 * within a deadline. Every stream is aborted at the end.
 */
import type { Libp2p } from 'libp2p'
import type { PeerId, Stream } from '@libp2p/interface'
import { concat, frames } from './encoding.js'
import { sleep } from './pace.js'
import type { Outcome } from './stats.js'

interface Collected {
  /** resolves when the node closed its end (error: it reset or aborted) */
  ended: Promise<{ error?: Error }>
  bytes: () => Uint8Array
  size: () => number
}

export function collect (stream: Stream, max = 8 * 1024 * 1024): Collected {
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

export interface Probe {
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
export async function runProbe (node: Libp2p, peer: PeerId, protocol: string, p: Probe): Promise<{ outcome: Outcome, detail?: string }> {
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

/** The first frame the node sends (its request), within `ms`. */
export async function readRequest (stream: Stream, ms = 3000): Promise<Uint8Array | undefined> {
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

/** Write `parts` to the node (in about 20 pieces each, `trickleMs` apart, for a slowloris), then close the write side unless told not to. */
export async function reply (stream: Stream, parts: Uint8Array[], opts: { trickleMs?: number, close?: boolean } = {}): Promise<void> {
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

/**
 * Answer the node's streams of `protocol` on `node` with `answer`, which returns the class of answer it
 * gave; `counted` hears of each (a throw counts as a 'broken' answer, refused). A stream `accept` turns
 * down is aborted at once; every other is aborted after 8 s and at the end.
 */
export async function answerStreams (node: Libp2p, protocol: string, maxStreams: number, answer: (stream: Stream) => Promise<string>,
  counted: (cls: string, outcome: Outcome, detail: string | undefined) => void, accept: () => boolean = () => true): Promise<void> {
  await node.handle(protocol, (stream: Stream) => {
    if (!accept()) { stream.abort(new Error('enough')); return }
    const deadline = setTimeout(() => { stream.abort(new Error('fuzz: answer deadline')) }, 8000)
    answer(stream).then(cls => { counted(cls, 'answered', undefined) }, err => { counted('broken', 'refused', (err as Error).message) })
      .finally(() => { clearTimeout(deadline); if (stream.status === 'open') stream.abort(new Error('fuzz: done')) })
  }, { maxInboundStreams: maxStreams, maxOutboundStreams: maxStreams })
}
