import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { signVote } from '../protocols/votes/vote.js'
import { MAX_RECENT_VOTE_BYTES, VOTES_TOPIC } from '../protocols/votes/index.js'
import { encodeJson } from '../protocols/json.js'
import type { RunningNode } from '../node/daemon/start.js'
import { removeDir, startTestNode, tempDir, waitFor } from './helpers.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

function heapAfterGc (): number {
  for (let i = 0; i < 3; i++) gc()
  return process.memoryUsage().heapUsed
}

describe('what a node bounds', { timeout: 240_000 }, () => {
  const dirs: string[] = []
  const nodes: RunningNode[] = []
  after(async () => {
    for (const n of nodes) await n.stop().catch(() => {})
    for (const d of dirs) await removeDir(d)
  })

  it('a flood of valid votes (4 KiB of LaTeX, distinct images) grows the heap no further once the vote memory is full', async () => {
    const start = async (): Promise<RunningNode> => {
      const d = await tempDir()
      dirs.push(d)
      const n = await startTestNode(d)
      nodes.push(n)
      return n
    }
    const a = await start()
    const b = await start()
    await b.libp2p.dial(a.libp2p.getMultiaddrs()[0]!)
    await waitFor('b to see a on the votes topic', () => b.libp2p.services.pubsub.getSubscribers(VOTES_TOPIC).some(p => p.equals(a.peerId)), 15_000)
    let arrived = 0
    a.libp2p.services.pubsub.addEventListener('message', evt => { if (evt.detail.topic === VOTES_TOPIC) arrived++ })
    const key = await generateKeyPair('Ed25519')
    const voter = peerIdFromPrivateKey(key).toString()
    const perRound = 1500
    const heaps: number[] = []
    for (let round = 0; round < 4; round++) {
      const before = arrived
      for (let i = 0; i < perRound; i++) {
        // Two tasks a round, 750 images each: within the old count caps (2,048 tasks of 1,024 ballots).
        const task = `flood-${round}-${i % 2}`
        const image = createHash('sha256').update(`${round}/${i}`).digest('hex')
        // Different LaTeX each time: no string is shared between votes.
        const latex = `${image} `.repeat(64).slice(0, 4096)
        const vote = await signVote(key, { task, image, model: 'texmesh-v1+flood', latex, confidence: 0.5, voter, time: Date.now() })
        await b.libp2p.services.pubsub.publish(VOTES_TOPIC, encodeJson({ kind: 'vote', vote }))
      }
      await waitFor(`round ${round} delivered`, () => arrived - before >= perRound * 0.95, 60_000, 200)
      await new Promise(resolve => setTimeout(resolve, 500))
      heaps.push(heapAfterGc())
    }
    const mib = (x: number): string => (x / 2 ** 20).toFixed(1)
    // Round 0 fills the vote memory (1,500 votes of about 9 KiB are more than its 8 MiB); later rounds only replace.
    const growth = heaps[3]! - heaps[1]!
    assert.ok(growth < 6 * 2 ** 20, `heap after GC ${heaps.map(mib).join(' -> ')} MiB: grew ${mib(growth)} MiB over two rounds of ${perRound} votes (bound ${mib(MAX_RECENT_VOTE_BYTES)} MiB)`)
  })
})
