/**
 * Campaign 2: M publishes on the gossipsub topics the node subscribes to: random bytes, floods, hostile
 * values, valid loads and ballots (so the node steals from M and fetches its images: answers.ts),
 * signed votes at and over the caps, equivocations, replays and forgeries, and validly signed store
 * envelopes, taken and hostile.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import * as Y from 'yjs'
import { CRDT_TOPIC } from '../../protocols/crdt-sync/index.js'
import { TASKS_TOPIC } from '../../protocols/tasks/index.js'
import { VOTES_TOPIC } from '../../protocols/votes/index.js'
import { signVote, type SignedVote } from '../../protocols/votes/vote.js'
import { clientIdFor, newIncarnation } from '../../crdt/envelope.js'
import { sha256Hex } from '../../util/sha256.js'
import { serve } from './answers.js'
import type { Attacker } from './attacker.js'
import { concat, utf8 } from './encoding.js'
import { deepJson, hostileObjects, longString } from './hostile.js'
import { ACCEPTED_PREFIX, REFUSED_PREFIX } from './messages.js'
import { sleep } from './pace.js'
import type { Rng } from './rng.js'
import { deepSpliced, envelope, keyed, rawEnvelope, rawVote, resultEntry } from './signed.js'

export async function topics (a: Attacker): Promise<void> {
  const plans: Array<[string, () => Promise<Uint8Array[]>]> = []
  const rng = a.rng.fork()
  for (const [topic, gen] of [[TASKS_TOPIC, tasksMessages(rng)], [VOTES_TOPIC, votesMessages(a, rng)], [CRDT_TOPIC, crdtMessages(a, rng)]] as const) plans.push([topic, gen])
  for (const [index, [topic, gen]] of plans.entries()) {
    const target = `topic:${topic}`
    const until = Date.now() + Math.max(5_000, (a.deadline - Date.now()) / (plans.length - index))
    let sent = 0
    while (sent < a.init.count && Date.now() < Math.min(until, a.deadline) && !a.closing) {
      const batch = await gen()
      const flood = batch.length > 1
      for (const data of batch) {
        if (sent >= a.init.count) break
        sent++
        const cls = (data as { cls?: string }).cls ?? (flood ? 'flood' : 'hostile')
        const publish = a.m.services.pubsub.publish(topic, data)
          .then(() => { a.stats.count(target, 'topic', cls, 'answered') }, err => { a.stats.count(target, 'topic', cls, 'errors', (err as Error).message) })
        if (!flood) await publish
      }
      // Floods go out fast; other inputs are paced, so ballots and loads keep coming while the other campaigns run.
      if (!flood) await sleep(5 + rng.below(40))
      else await sleep(50)
      if (sent % 200 === 0) a.report()
    }
    a.report()
  }
}

/** An input with its attack class, as the counts name it. */
function tag (cls: string, b: Uint8Array): Uint8Array { return Object.assign(b, { cls }) }

/** texmesh/tasks/1: load messages. */
function tasksMessages (rng: Rng): () => Promise<Uint8Array[]> {
  const base = { v: 1, queued: 3, running: 0, capacity: 1, backups: 0, tasks: [] as Array<{ id: string, hash: string }> }
  return async () => {
    const r = rng.next()
    if (r < 0.12) return [tag('random', rng.bytes(rng.pick([0, 1, 100, 4096, 4097, 20_000])))]
    if (r < 0.14) return Array.from({ length: 25 }, () => tag('flood', rng.chance(0.5) ? rng.bytes(rng.below(300)) : utf8(JSON.stringify({ ...base, queued: rng.below(5) }))))
    if (r < 0.35) {
      // Valid load: the node steals from M, which answers with hostile replies and blobs.
      const tasks = Array.from({ length: rng.below(17) }, () => ({ id: rng.hex(20), hash: rng.hex(64) }))
      return [tag('valid', utf8(JSON.stringify({ ...base, queued: 1 + rng.below(50), backups: rng.below(3), tasks })))]
    }
    const texts = [
      ...hostileObjects(base),
      JSON.stringify({ ...base, queued: 2 ** 53 }), JSON.stringify({ ...base, tasks: Array.from({ length: 17 }, () => ({ id: rng.hex(8), hash: rng.hex(64) })) }),
      JSON.stringify({ ...base, tasks: [{ id: 'x'.repeat(65), hash: rng.hex(64) }] }), JSON.stringify({ ...base, tasks: [{ id: '__proto__', hash: rng.hex(64) }] }),
      JSON.stringify({ ...base }).padEnd(4096, ' '), JSON.stringify({ ...base }).padEnd(4097, ' '), '\ufeff' + JSON.stringify(base)
    ]
    if (rng.chance(0.05)) return [tag('hostile', Buffer.from([0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1]))] // not UTF-8
    return [tag('hostile', utf8(rng.pick(texts)))]
  }
}

/** texmesh/votes/1: ballots and signed votes. */
function votesMessages (a: Attacker, rng: Rng): () => Promise<Uint8Array[]> {
  const nodeId = a.init.node.peerId
  const model = 'texmesh-fuzz+0000'
  let images = 0
  const manyImagesTask = `many-${rng.hex(8)}`
  return async () => {
    const r = rng.next()
    const m = a.who.m
    const vote = async (over: Record<string, unknown> = {}): Promise<SignedVote> =>
      await signVote(m.key, { task: `t-${rng.hex(10)}`, image: rng.hex(64), model, latex: 'x', confidence: 0.5, voter: m.id, time: Date.now(), ...over } as any)
    const wrap = (v: unknown): Uint8Array => utf8(JSON.stringify({ kind: 'vote', vote: v }))
    if (r < 0.1) return [tag('random', rng.bytes(rng.pick([0, 3, 500, 8192, 8193, 30_000])))]
    if (r < 0.12) return Array.from({ length: 25 }, () => tag('flood', rng.chance(0.3) ? rng.bytes(rng.below(9000)) : utf8(JSON.stringify({ kind: 'vote', vote: { task: 'x' } }))))
    if (r < 0.3) {
      // A ballot naming the node: it fetches the image from M (hostile blob answers) and votes.
      const image = serve(a, rng)
      const voters = [nodeId, ...Array.from({ length: 3 }, () => rng.pick([m.id, a.who.s.id, a.who.p.id]))]
      return [tag('valid', utf8(JSON.stringify({ kind: 'ballot', task: `b-${rng.hex(12)}`, image, model, file: longString(rng, rng.below(1025)), voters, round: 1 })))]
    }
    if (r < 0.42) {
      // Signed votes at and over the caps (4096 characters of LaTeX), with every field hostile in turn.
      const base = { task: `t-${rng.hex(10)}`, image: rng.hex(64), model, latex: 'x', confidence: 0.5, voter: m.id, time: Date.now() }
      const variants: Array<Record<string, unknown>> = [
        { ...base, latex: longString(rng, 4096) }, { ...base, latex: longString(rng, 4097) }, { ...base, task: 't'.repeat(65) }, { ...base, model: 'm'.repeat(129) },
        { ...base, confidence: 1.0000001 }, { ...base, confidence: -0 }, { ...base, time: -1 }, { ...base, time: 1.5 }, { ...base, time: 2 ** 60 },
        { ...base, voter: a.who.s.id }, { ...base, voter: 'not-a-peer-id' }, { ...base, image: rng.hex(63) }, { ...base, extra: 1 }
      ]
      const v = rng.pick(variants)
      if (rng.chance(0.5) && JSON.stringify(v).length < 6000) {
        try { return [tag('signed', wrap(await signVote(m.key, v as any)))] } catch { /* the schema refuses to sign it: sign it raw below */ }
      }
      return [tag('signed', wrap(await rawVote(m, v)))]
    }
    if (r < 0.52) {
      // Many images under one task (the per-task cap on remembered ballots).
      images++
      return [tag('many-images', wrap(await vote({ task: manyImagesTask, image: sha256Hex(utf8(`img${images}`)), latex: longString(rng, 200) })))]
    }
    if (r < 0.6) {
      // Equivocation: two different answers on one ballot, by M (and by fresh keys, which count in an open network).
      const voterKey = rng.chance(0.5) ? m : await keyed(await generateKeyPair('Ed25519'))
      const base = { task: `e-${rng.hex(10)}`, image: rng.hex(64), model, confidence: 0.5, voter: voterKey.id, time: Date.now() }
      // LaTeX of plain characters, so the vote messages stay under their 8 KiB cap and reach the equivocation check.
      const first = await signVote(voterKey.key, { ...base, latex: `a${rng.hex(rng.pick([10, 1000, 3000]))}` })
      const second = await signVote(voterKey.key, { ...base, latex: `b${rng.hex(rng.pick([10, 1000, 3000]))}` })
      return [tag('equivocation', wrap(first)), tag('equivocation', wrap(second))]
    }
    if (r < 0.68) {
      // Replays and forgeries: a vote again, a vote with its signature moved to another voter.
      const v = await vote()
      return [tag('replay', wrap(v)), tag('replay', wrap(v)), tag('forged', wrap({ ...v, voter: a.who.s.id })), tag('forged', wrap({ ...v, latex: 'y' }))]
    }
    const ballot = { kind: 'ballot', task: `b-${rng.hex(8)}`, image: rng.hex(64), model, file: 'f.png', voters: [nodeId], round: 1 }
    const texts = [
      ...hostileObjects(ballot),
      JSON.stringify({ ...ballot, voters: Array.from({ length: 65 }, () => nodeId) }), JSON.stringify({ ...ballot, round: 65 }),
      JSON.stringify({ ...ballot, file: 'f'.repeat(1025) }), JSON.stringify({ kind: 'vote', vote: deepJson(10) }),
      `{"kind":"vote","vote":${deepJson(3000)}}`, JSON.stringify({ kind: 'vote' }), JSON.stringify({ kind: 'vote', vote: null, extra: 1 })
    ]
    return [tag('hostile', utf8(rng.pick(texts)))]
  }
}

/** texmesh/crdt/2: envelopes, validly signed and not. */
function crdtMessages (a: Attacker, rng: Rng): () => Promise<Uint8Array[]> {
  const nodeId = a.init.node.peerId
  let accepted = 0
  /** an envelope of S's that the node takes, for M's foreign deletes and overwrites */
  let sDoc: { update: Uint8Array, key: string } | undefined
  return async () => {
    const m = a.who.m
    const r = rng.next()
    const key = (prefix: string): string => `${prefix}${rng.hex(12)}/${m.id}`
    if (r < 0.1) return [tag('random', rng.bytes(rng.pick([0, 1, 50, 300, 5000, 300_000])))]
    if (r < 0.12) {
      // A flood of small envelopes that overwrite an entry of an incarnation never sent: held (pending), within the held caps.
      const out: Uint8Array[] = []
      for (let i = 0; i < 25; i++) {
        const k = key(REFUSED_PREFIX)
        const ghost = await envelope(m, doc => { doc.getMap('results').set(k, resultEntry(rng)) })
        const held = await envelope(m, doc => { doc.getMap('results').set(k, resultEntry(rng)) }, { base: ghost.update })
        out.push(tag('flood', rng.chance(0.8) ? held.bytes : held.bytes.subarray(0, rng.below(held.bytes.length))))
      }
      return out
    }
    if (r < 0.24) {
      // Framing of the envelope itself: truncations, lying lengths, another version, trailing bytes.
      const e = await envelope(m, doc => { doc.getMap('results').set(key(REFUSED_PREFIX), resultEntry(rng)) })
      const b = Uint8Array.from(e.bytes)
      const v = rng.below(6)
      if (v === 0) return [tag('framing', b.subarray(0, rng.below(b.length)))]
      if (v === 1) { b[0] = 2; return [tag('framing', b)] }
      if (v === 2) return [tag('framing', concat([b, rng.bytes(1 + rng.below(10))]))]
      if (v === 3) { new DataView(b.buffer).setUint32(1, 0xffffffff); return [tag('framing', b)] } // author length lies
      if (v === 4) { const at = 1 + 4 + m.id.length + 16 + 24; new DataView(b.buffer).setUint32(at, 0xfffffff0); return [tag('framing', b)] } // update length lies
      b[b.length - 1] = b[b.length - 1]! ^ 1
      return [tag('framing', b)] // a signature that does not verify
    }
    if (r < 0.36) {
      // Valid envelopes by M and S: taken. Some at the update cap.
      accepted++
      if (accepted % 2 === 0 || sDoc != null) {
        const k = key(ACCEPTED_PREFIX)
        a.keys.push(k)
        const big = rng.chance(0.05) && accepted < 200
        const e = await envelope(m, doc => { doc.getMap('corrections').set(k, { latex: big ? longString(rng, 4096) : 'x', time: Date.now(), note: big ? longString(rng, 1024) : undefined }) })
        return [tag('valid', e.bytes)]
      }
      const k = `${ACCEPTED_PREFIX}s-${rng.hex(8)}/${a.who.s.id}`
      a.keys.push(k)
      const e = await envelope(a.who.s, doc => { doc.getMap('results').set(k, resultEntry(rng)) })
      sDoc = { update: e.update, key: k }
      return [tag('valid', e.bytes), tag('duplicate', e.bytes)]
    }
    // Validly signed, hostile: every one must be refused whole.
    const k = key(REFUSED_PREFIX)
    a.keys.push(k)
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
        e = await rawEnvelope(m, { incarnation, client: clientIdFor(a.who.s.key.publicKey.raw, incarnation), first: 0, seq: 0, update: (await envelope(m, doc => { doc.getMap('results').set(k, resultEntry(rng)) })).update })
        break
      }
      case 14: e = (await envelope(m, doc => { doc.getMap('evidence').set(k, { votes: [{ a: 'x'.repeat(8193) }, {}], time: 1 }) })).bytes; break
      default: e = (await envelope(m, doc => { doc.getMap('calibration').set(k, { model: 'm', curve: [[0, 0]], fittedOn: [], time: 1 }) })).bytes
    }
    return [tag('signed', e)]
  }
}
