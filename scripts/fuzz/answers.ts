/**
 * M answers the node's own requests with hostile data: steal replies (M announces load, so the node
 * steals from it), blob transfers (the node fetches the images of its leases and ballots from M),
 * catch-up pages and peer lists. The liars (campaign-liars.ts) answer catch-up and peer exchange with
 * the same.
 */
import type { Stream } from '@libp2p/interface'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { PEER_EXCHANGE_PROTOCOL } from '../../protocols/peer-exchange/index.js'
import { CRDT_SYNC_PROTOCOL } from '../../protocols/crdt-sync/index.js'
import { BLOB_PROTOCOL } from '../../protocols/blob/index.js'
import { TASKS_PROTOCOL } from '../../protocols/tasks/index.js'
import { clientIdFor, newIncarnation } from '../../crdt/envelope.js'
import { sha256Hex } from '../../util/sha256.js'
import type { Attacker } from './attacker.js'
import { concat, json, lp, lpJson, utf8, varint } from './encoding.js'
import { HOSTILE_SCALARS, deepJson, longString, pngBomb, pngVariant, withField } from './hostile.js'
import { ACCEPTED_PREFIX, REFUSED_PREFIX } from './messages.js'
import { sleep } from './pace.js'
import type { Rng } from './rng.js'
import { deepSpliced, envelope, rawEnvelope, resultEntry } from './signed.js'
import { answerStreams, readRequest, reply } from './stream-io.js'

/** An image hash M will serve when asked (sometimes a real formula, sometimes hostile bytes, sometimes a hostile transfer). */
export function serve (a: Attacker, rng: Rng): string {
  const r = rng.next()
  let bytes: Uint8Array | undefined
  if (r < 0.15) bytes = pngVariant(a.init.fixture, rng.hex(16))
  else if (r < 0.22) bytes = pngBomb(rng)
  else if (r < 0.3) bytes = a.init.fixture.subarray(0, rng.below(a.init.fixture.length))
  else if (r < 0.36) bytes = rng.bytes(rng.below(5000))
  else if (r < 0.4) bytes = concat([utf8('GIF89a'), rng.bytes(200)])
  const hash = bytes != null ? sha256Hex(bytes) : rng.hex(64)
  if (a.served.size > 4096) a.served.delete(a.served.keys().next().value!)
  a.served.set(hash, bytes != null ? { bytes, hostile: rng.chance(0.3) } : { hostile: true })
  return hash
}

/** M's handlers for the node's requests, each counted under `answer:<protocol>` up to the count. */
export async function answerAsM (a: Attacker): Promise<void> {
  const rng = a.rng.fork()
  const answer = (protocol: string, handler: (stream: Stream, rng: Rng) => Promise<string>): Promise<void> => {
    const target = `answer:${protocol}`
    return answerStreams(a.m, protocol, 64, async stream => await handler(stream, rng),
      (cls, outcome, detail) => { a.stats.count(target, 'answer', cls, outcome, detail) },
      () => !(a.closing || a.stats.of(target, 'answer').sent >= a.init.count))
  }
  await answer(TASKS_PROTOCOL, async (stream, rng) => await answerTasks(a, stream, rng))
  await answer(BLOB_PROTOCOL, async (stream, rng) => await answerBlob(a, stream, rng))
  await answer(CRDT_SYNC_PROTOCOL, async (stream, rng) => await answerCrdt(a, stream, rng))
  await answer(PEER_EXCHANGE_PROTOCOL, async (stream, rng) => await answerPeers(a, stream, rng))
}

async function answerTasks (a: Attacker, stream: Stream, rng: Rng): Promise<string> {
  const req = json(await readRequest(stream))
  if (req?.kind !== 'steal') {
    await reply(stream, [rng.chance(0.5) ? lpJson('{"ok":true}') : lp(rng.bytes(rng.below(100)))])
    return 'report'
  }
  const lease = (): Record<string, unknown> => ({ id: `m-${rng.hex(12)}`, hash: serve(a, rng), file: longString(rng, rng.below(1025)), critical: false, expiresAt: Date.now() + 30_000 })
  const v = rng.below(12)
  switch (v) {
    case 0: await reply(stream, [lp(rng.bytes(rng.below(2000)))]); return 'random'
    case 1: await reply(stream, [lpJson(JSON.stringify({ leases: Array.from({ length: 17 }, lease), queued: 1, backups: 0 }))]); return 'too-many-leases'
    case 2: await reply(stream, [lpJson(withField({ leases: [lease()], queued: 1, backups: 0 }, rng.pick(['queued', 'backups']), rng.pick(HOSTILE_SCALARS)))]); return 'hostile'
    case 3: await reply(stream, [lpJson(JSON.stringify({ leases: [withField(lease(), rng.pick(['id', 'hash', 'file', 'critical', 'expiresAt']), rng.pick(HOSTILE_SCALARS))].map(t => JSON.parse(t)), queued: 1, backups: 0 }))]); return 'hostile-lease'
    case 4: await reply(stream, [varint(64 * 1024 + 1), rng.bytes(64 * 1024 + 1)]); return 'oversized'
    case 5: await reply(stream, [lpJson(JSON.stringify({ leases: [lease()], queued: 1, backups: 0 }))], { trickleMs: 100 }); return 'slowloris'
    case 6: await sleep(6000); return 'stall'
    case 7: await reply(stream, [lpJson(JSON.stringify({ leases: [], queued: 2 ** 53, backups: 2 ** 53 }))]); return 'huge-counts'
    default: await reply(stream, [lpJson(JSON.stringify({ leases: [lease()], queued: rng.below(10), backups: 0 }))]); return 'lease'
  }
}

async function answerBlob (a: Attacker, stream: Stream, rng: Rng): Promise<string> {
  const req = json(await readRequest(stream))
  const hash = typeof req?.hash === 'string' ? req.hash : ''
  const entry = a.served.get(hash)
  if (entry?.bytes != null && !entry.hostile) {
    const b = entry.bytes
    const parts = [lpJson(JSON.stringify({ status: 'ok', size: b.length }))]
    for (let at = 0; at < b.length; at += 64 * 1024) parts.push(lp(b.subarray(at, at + 64 * 1024)))
    parts.push(lp(new Uint8Array(0)))
    await reply(stream, parts)
    return 'image'
  }
  const b = entry?.bytes ?? rng.bytes(1000)
  const ok = (size: unknown): Uint8Array => lpJson(JSON.stringify({ status: 'ok', size }))
  const v = rng.below(13)
  switch (v) {
    case 0: await reply(stream, [lp(rng.bytes(rng.below(300)))]); return 'random'
    case 1: await reply(stream, [ok(32 * 1024 * 1024 + 1)]); return 'too-large'
    case 2: await reply(stream, [lpJson(withField({ status: 'ok', size: b.length }, 'size', rng.pick(HOSTILE_SCALARS)))]); return 'hostile-size'
    case 3: await reply(stream, [ok(b.length), lp(b), lp(rng.bytes(10)), lp(new Uint8Array(0))]); return 'more-than-announced'
    case 4: await reply(stream, [ok(b.length + 100), lp(b), lp(new Uint8Array(0))]); return 'fewer-than-announced'
    case 5: await reply(stream, [ok(200 * 1024), varint(64 * 1024 + 1), rng.bytes(64 * 1024 + 1)]); return 'oversized-chunk'
    case 6: await reply(stream, [ok(b.length), lp(rng.bytes(b.length)), lp(new Uint8Array(0))]); return 'hash-mismatch'
    case 7: await reply(stream, [lpJson(JSON.stringify({ status: rng.pick(['missing', 'refused']), reason: longString(rng, rng.pick([512, 513])) }))]); return 'refusal'
    case 8: await reply(stream, [ok(b.length), lp(b), lp(new Uint8Array(0))], { trickleMs: 100 }); return 'slowloris'
    case 9: await sleep(rng.chance(0.3) ? 5000 : 1000); return 'stall'
    case 10: {
      // Chunks of one byte: many tiny frames.
      const parts = [ok(Math.min(b.length, 2000))]
      for (let i = 0; i < Math.min(b.length, 2000); i++) parts.push(lp(b.subarray(i, i + 1)))
      parts.push(lp(new Uint8Array(0)))
      await reply(stream, [concat(parts)])
      return 'tiny-chunks'
    }
    case 11: await reply(stream, [ok(b.length), lp(b)]); return 'no-end-mark'
    default: await reply(stream, [ok(b.length), lp(b), lp(new Uint8Array(0))]); return 'served'
  }
}

export async function answerCrdt (a: Attacker, stream: Stream, rng: Rng): Promise<string> {
  await readRequest(stream)
  const m = a.who.m
  const env = async (): Promise<Uint8Array> => {
    // Half of them valid (M's own key, a good value): the node takes those; the others it must refuse.
    const valid = rng.chance(0.5)
    const k = valid ? `${ACCEPTED_PREFIX}${rng.hex(8)}/${m.id}` : `${REFUSED_PREFIX}${rng.hex(8)}/${rng.chance(0.5) ? m.id : a.init.node.peerId}`
    return (await envelope(m, doc => { doc.getMap('results').set(k, resultEntry(rng, { confidence: valid ? 0.5 : rng.pick([2, -1]) })) })).bytes
  }
  const v = rng.below(10)
  switch (v) {
    case 0: await reply(stream, [lp(rng.bytes(rng.below(4000))), lp(new Uint8Array(0))]); return 'random'
    case 1: await reply(stream, [varint(256 * 1024 + 1025), rng.bytes(256 * 1024 + 1025)]); return 'oversized-frame'
    case 2: await reply(stream, [varint(1000), rng.bytes(10)]); return 'truncated'
    case 3: {
      // Pages of envelopes at new positions that the node must refuse: it asks for the next page while they move on (bounded here).
      if (a.crdtPages++ > 6) { await reply(stream, [lp(new Uint8Array(0))]); return 'end' }
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
      await reply(stream, parts)
      return 'junk-pages'
    }
    case 4: await reply(stream, [lp(await env())], { trickleMs: 100, close: false }); await sleep(2000); return 'slowloris'
    case 5: await sleep(5000); return 'stall'
    case 6: await reply(stream, [concat(Array.from({ length: 3000 }, () => lp(new Uint8Array(1))))]); return 'tiny-frames'
    case 7: await reply(stream, [lp(await deepSpliced(m, `${REFUSED_PREFIX}${rng.hex(8)}/${m.id}`, 50_000)), lp(new Uint8Array(0))]); return 'deep'
    default: {
      const parts: Uint8Array[] = []
      for (let i = 0; i < 3; i++) parts.push(lp(await env()))
      parts.push(lp(new Uint8Array(0)))
      await reply(stream, parts)
      return 'hostile-envelopes'
    }
  }
}

/** A hostile peer list in answer to the node's peer exchange: its class. */
export async function answerPeers (a: Attacker, stream: Stream, rng: Rng): Promise<string> {
  const list = await peerList(a, rng)
  await reply(stream, [list.bytes])
  return list.cls
}

/**
 * A hostile peer list. Every address that could be dialled is on 127.0.0.1 (closed ports, the node's
 * own port under another id, M's port under a made-up id): no traffic leaves loopback.
 */
async function peerList (a: Attacker, rng: Rng): Promise<{ bytes: Uint8Array, cls: string }> {
  const fakeId = async (): Promise<string> => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
  const local = (): string => rng.pick([`/ip4/127.0.0.1/tcp/${1 + rng.below(1023)}`, `/ip4/127.0.0.1/tcp/${a.init.node.tcpPort}`, a.m.getMultiaddrs()[0]?.toString() ?? '/ip4/127.0.0.1/tcp/9'])
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
    case 4: return { bytes: lpJson(JSON.stringify([{ id: a.init.node.peerId, addrs: [local()] }, { id: a.who.m.id, addrs: [local()] }, { id: 'not-a-peer', addrs: ['/ip4/127.0.0.1/tcp/1'] }])), cls: 'self-and-sender' }
    case 5: return { bytes: lpJson(JSON.stringify([{ id: await fakeId(), addrs: ['garbage', '/ip4/127.0.0.1/udp/1/quic-v1', '/ip4/127.0.0.1/tcp/1/p2p-circuit', `/ip4/127.0.0.1/tcp/1/p2p/${await fakeId()}`, '/unix/tmp/texmesh-fuzz-none', 'x'.repeat(256)] }])), cls: 'bad-addrs' }
    case 6: return { bytes: lpJson(withField({ id: 'x', addrs: [] }, rng.pick(['id', 'addrs']), rng.pick(HOSTILE_SCALARS))), cls: 'hostile' }
    default: return { bytes: lpJson(`[${deepJson(2000)}]`), cls: 'deep' }
  }
}
