/**
 * Campaign 1: streams to every protocol the node speaks, from S and the extra stream attackers: random
 * bytes, framing attacks, hostile and valid inputs (profiles.ts), bursts of concurrent streams past the
 * node's per-connection limit, and in the background slowloris streams and stalls held until the
 * node's own deadline.
 */
import type { Libp2p } from 'libp2p'
import { TASKS_PROTOCOL } from '../../protocols/tasks/index.js'
import type { Attacker } from './attacker.js'
import { concat, frames, json, lp, varint } from './encoding.js'
import { pool, sleep } from './pace.js'
import { genericProfile, gossipProfile, isGossipProtocol, profiles, type Profile } from './profiles.js'
import type { Rng } from './rng.js'
import type { Outcome } from './stats.js'
import { runProbe, type Probe } from './stream-io.js'

export async function streams (a: Attacker): Promise<void> {
  const ctx = { stolen: a.stolen, knownHashes: a.knownHashes, mLog: undefined as string | undefined, ...(a.certS != null ? { certS: a.certS } : {}), ...(a.certM != null ? { certM: a.certM } : {}) }
  const byProtocol = profiles(ctx)
  const gossipProtocols = a.init.protocols.filter(p => isGossipProtocol(p.protocol))
  const background: Array<Promise<void>> = []
  // Two passes: a few inputs of every kind to every protocol first, so that each is exercised however short
  // the run; then the rest of the count, each protocol with its share of the time left.
  const FIRST = 8
  for (const pass of [0, 1]) {
    for (const [index, { protocol, maxInbound }] of a.init.protocols.entries()) {
      // The first pass reaches every protocol even past the deadline (a second or so each); the second stops there.
      if (a.closing || (pass === 1 && !a.timeLeft())) break
      const isGossip = gossipProtocols.some(g => g.protocol === protocol)
      // The gossipsub RPC protocols share one handler: the count is split among them.
      const total = isGossip ? Math.max(1, Math.ceil(a.init.count / gossipProtocols.length)) : a.init.count
      const count = pass === 0 ? Math.min(total, FIRST) : total - Math.min(total, FIRST)
      if (count <= 0) continue
      const profile = isGossip ? gossipProfile(a.s.peerId) : byProtocol.get(protocol) ?? genericProfile()
      // Shown to be a member again (a hostile certificate may have just been presented), so member-only paths answer.
      if (a.certS != null) for (const n of [a.s, ...a.extra]) await (n.services.membership as any).reannounce().catch(() => {})
      // Share of the remaining time: protocols left (the topics and answers campaigns run beside this one).
      const left = (pass === 0 ? a.init.protocols.length : 0) + a.init.protocols.length - index
      const until = Date.now() + Math.max(pass === 0 ? 1_000 : 5_000, (a.deadline - Date.now()) / left)
      background.push((await attackProtocol(a, protocol, profile, Math.max(1, maxInbound), count, pass === 0 ? until : Math.min(until, a.deadline), isGossip, pass === 1)).background)
      a.report()
    }
  }
  // Stalled streams wait for the node's own deadlines (gossipsub's protocols come first, so the reconnects
  // they need do not cut the long stalls of the others short).
  await Promise.all(background)
}

/** Resolves, once the inputs are sent, with the stalls and slowloris streams still running. */
async function attackProtocol (a: Attacker, protocol: string, profile: Profile, limit: number, count: number, until: number, isGossip: boolean, longStall: boolean): Promise<{ background: Promise<void> }> {
  const rng = a.rng.fork()
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
    a.stats.count(target, 'stream', cls, r.outcome, r.detail)
  }
  const peer = a.nodePeer
  // gossipsub's RPC streams come from S alone (it is the one gossipsub knows); the rest from every stream attacker.
  const streamers: Libp2p[] = isGossip ? [a.s] : [a.s, ...a.extra]
  const run = async (p: Probe, from = 0): Promise<void> => {
    if (isGossip) await ensureGossipPeer(a)
    count1(p.cls, await runProbe(streamers[from % streamers.length]!, peer, protocol, { ...p, ...(profile.judge != null && p.judge == null ? { judge: profile.judge } : {}) }))
  }
  // Background: stalls held until the node's own deadline (at most 65 s), and slowloris streams.
  const background = (async () => {
    const stallJobs = Array.from({ length: stalls }, (_, i) => i)
    await pool(stallJobs, stalls, a.deadline, async i => {
      const from = i
      // The first stall waits for the node's own deadline (it must end the stream); the others give up sooner.
      const hold = i === 0 && longStall && a.init.longStalls === true ? Math.min(profile.timeoutMs + 2000, 65_000, Math.max(1000, a.deadline + 30_000 - Date.now())) : 2000
      await run({ cls: 'stall', steps: [], closeWrite: false, waitMs: hold }, from)
    })
    await pool(Array.from({ length: slow }, (_, i) => i), Math.max(1, Math.floor(limit / 2)) * streamers.length, a.deadline, async (i) => {
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
        const p = framing(rng, max ?? 1024, profile)
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
        await run({ cls, steps: v.length > 0 ? v : [rng.bytes(8)], closeWrite: true, waitMs: 4000, ...(protocol === TASKS_PROTOCOL ? { judge: bytes => noteLeases(a, bytes) } : {}) }, from)
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
function noteLeases (a: Attacker, bytes: Uint8Array): 'answered' | 'refused' {
  const r = json(frames(bytes, 1)[0])
  if (r == null) return 'refused'
  for (const l of (Array.isArray(r.leases) ? r.leases : [])) {
    if (typeof l?.id === 'string' && a.stolen.length < 256) a.stolen.push(l.id)
    if (typeof l?.hash === 'string' && a.knownHashes.length < 256) a.knownHashes.push(l.hash)
  }
  return 'answered'
}

/** Framing attacks on a protocol whose frames are at most `max` bytes: lying, truncated, oversized, endless and tiny frames. */
function framing (rng: Rng, max: number, profile: Profile): Probe {
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
async function ensureGossipPeer (a: Attacker): Promise<void> {
  if (++a.gossipChecks % 8 !== 0) return
  await a.s.hangUp(a.nodePeer).catch(() => {})
  await a.s.dial(a.nodeAddr, { signal: AbortSignal.timeout(10_000) }).catch(() => {})
  await sleep(50)
}
