/**
 * The attacker of `npm run fuzz` (run.ts starts it). It runs on a worker thread
 * of its own, so its work (signing, encoding) does not sit on the node's event
 * loop and its heap is not counted as the node's, and talks to the node only
 * over libp2p and TCP on 127.0.0.1.
 *
 * Identities, all real libp2p nodes (attacker.ts):
 * - S ("streams"): opens streams to every protocol the node speaks and sends
 *   random bytes, framing attacks, hostile values, slowloris, stalls and bursts
 *   of concurrent streams. A member (with a certificate) in a private network,
 *   so the member-only paths answer; it presents hostile certificates too, and
 *   presents its real one again before each protocol (campaign-streams.ts).
 * - M ("member"): publishes on the gossipsub topics (random bytes, hostile
 *   values, validly signed hostile store updates and votes, floods:
 *   campaign-topics.ts) and answers the node's own requests to it with hostile
 *   data (answers.ts): steal replies (it announces load so the node steals from
 *   it), blob transfers (the node fetches images of its leases and ballots from
 *   it), catch-up pages, peer lists.
 * - liars: fresh identities without libp2p's identify and ping services that
 *   answer the node's identify, ping, membership, peer-exchange and catch-up
 *   requests with hostile data, reconnecting over and over (campaign-liars.ts).
 * - raw TCP sockets: garbage, slowloris and stalls before any handshake (campaign-tcp.ts).
 * - P ("probe"): at the end, an honest member checks it is still served (honest-probe.ts).
 *
 * Every stream has a deadline and is aborted at the end; every campaign is
 * bounded by its count and by the run's deadline.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { answerAsM } from './answers.js'
import { Attacker } from './attacker.js'
import { liars } from './campaign-liars.js'
import { streams } from './campaign-streams.js'
import { pendingSlots, rawTcp } from './campaign-tcp.js'
import { topics } from './campaign-topics.js'
import { honestProbe } from './honest-probe.js'
import type { AttackerInit, AttackerMessage } from './messages.js'
import { sleep } from './pace.js'

async function main (): Promise<void> {
  const init = workerData as AttackerInit
  const attacker = new Attacker(init)
  // A hard stop: whatever is still running at the deadline is abandoned.
  const hardStop = setTimeout(() => { void attacker.close() }, Math.max(0, init.deadline - Date.now()) + 70_000)
  hardStop.unref()
  try {
    await attacker.start()
    await answerAsM(attacker)
    await attacker.connect()
    const t0 = Date.now()
    const timed = async (name: string, run: Promise<void>): Promise<void> => {
      try { await run } finally { attacker.notes.push(`campaign ${name} ended after ${Math.round((Date.now() - t0) / 1000)} s`) }
    }
    const campaigns = [timed('streams', streams(attacker)), timed('topics', topics(attacker)), timed('liars', liars(attacker)), timed('raw tcp', rawTcp(attacker))]
    const results = await Promise.allSettled(campaigns)
    for (const r of results) if (r.status === 'rejected') attacker.notes.push(`a campaign broke off: ${(r.reason as Error)?.message ?? String(r.reason)}`)
    // Answers the node asks for late (pulls, exchanges of the last connections) are let in for a moment.
    await sleep(1000)
    // While all of the node's pending-connection slots are held by stalled sockets, can a peer still connect?
    attacker.notes.push(await pendingSlots(attacker).catch(err => `pending-slot probe failed: ${(err as Error).message}`))
    const refusedConnections = attacker.stats.of('answer:connections', 'answer')
    if (refusedConnections.refused > 0) attacker.notes.push(`${refusedConnections.refused} of ${refusedConnections.sent} liar connections were refused by the node (${refusedConnections.samples.slice(0, 2).join('; ')})`)
    await sleep(2000)
    const probe = await honestProbe(attacker)
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
