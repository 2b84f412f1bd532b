/**
 * npm run sim:gossip -- [--nodes N] [--connections K] [--messages M] [--rate R] [--bytes B] [--no-flood-publish] [--json]
 *
 * How many copies of each store envelope a node receives on the gossip topic: the duplicate
 * factor that a network's gossip bandwidth is the envelope rate times (docs/store-at-scale.md).
 * N real libp2p nodes in this process, built as the daemon builds them (node/daemon/libp2p.ts:
 * TCP on 127.0.0.1, noise, yamux, gossipsub with texmesh's mesh degrees and message ids), each
 * dialling K random others (default: all, as the peer keeper does in a campus network; past about
 * 40 nodes one process on 2 cores cannot make that many handshakes within libp2p's dial timeout,
 * so use --connections 10 there), all on the store's topic. Once every node has a full mesh, M
 * envelopes of B bytes are published from random nodes at R a second; every copy each node
 * receives is counted (gossipsub drops the duplicates after counting them here), until every
 * node has every envelope and a few heartbeats more.
 */
import { Command, InvalidArgumentError } from 'commander'
import { positiveInt, until } from './script-options.js'
import { randomBytes } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { MemoryDatastore } from 'datastore-core'
import { buildLibp2p, GOSSIP_MESH, type TexmeshLibp2p } from '../node/daemon/libp2p.js'
import { CRDT_TOPIC } from '../protocols/crdt-sync/constants.js'

interface Counted { node: TexmeshLibp2p, copies: number, firsts: number, published: number }

/** The peers of a node's mesh on the store's topic (the gossipsub class has it; its exported interface does not). */
const meshOf = (n: Counted): string[] => (n.node.services.pubsub as unknown as { getMeshPeers: (topic: string) => string[] }).getMeshPeers(CRDT_TOPIC)

async function main (): Promise<void> {
  const cmd = new Command('sim:gossip')
    .description('copies of each store envelope a node receives over gossipsub, among real libp2p nodes built as texmesh builds them')
    .option('--nodes <n>', 'libp2p nodes in the network', positiveInt, 40)
    .option('--connections <k>', 'random peers each node dials (default: all of them)', positiveInt)
    .option('--messages <m>', 'envelopes published', positiveInt, 200)
    .option('--rate <r>', 'envelopes published a second', positiveInt, 20)
    .option('--bytes <b>', 'bytes an envelope', positiveInt, 1000)
    .option('--no-flood-publish', 'publish to the mesh only (gossipsub floods a node\'s own messages to every peer on the topic by default, as texmesh does)')
    .option('--json', 'print the results as JSON')
    .parse()
  const o = cmd.opts<{ nodes: number, connections?: number, messages: number, rate: number, bytes: number, floodPublish: boolean, json?: boolean }>()
  if (o.nodes < 2) throw new InvalidArgumentError('--nodes: at least 2')
  const nodes: Counted[] = []
  try {
    for (let i = 0; i < o.nodes; i++) {
      const node = await buildLibp2p({
        privateKey: await generateKeyPair('Ed25519'),
        listen: ['/ip4/127.0.0.1/tcp/0'],
        bootstrap: [],
        model: 'sim',
        mdns: false,
        datastore: new MemoryDatastore(),
        membership: { certificate: () => undefined },
        peerExchange: { onPeers: () => {} },
        floodPublish: o.floodPublish
      })
      await node.start()
      const counted: Counted = { node, copies: 0, firsts: 0, published: 0 }
      // Every copy that reaches gossipsub, before it is found a duplicate.
      const pubsub = node.services.pubsub as unknown as { handleReceivedMessage: (from: unknown, msg: { topic: string }) => Promise<void> }
      const handle = pubsub.handleReceivedMessage.bind(pubsub)
      pubsub.handleReceivedMessage = async (from, msg) => {
        if (msg.topic === CRDT_TOPIC) counted.copies++
        await handle(from, msg)
      }
      node.services.pubsub.addEventListener('message', evt => { if (evt.detail.topic === CRDT_TOPIC) counted.firsts++ })
      node.services.pubsub.subscribe(CRDT_TOPIC)
      nodes.push(counted)
    }
    const say = (line: string): void => { if (o.json !== true) process.stderr.write(`${line}\n`) }
    say(`${o.nodes} nodes listening`)
    const k = Math.min(o.connections ?? o.nodes - 1, o.nodes - 1)
    const pairs = new Set<string>()
    let failed = 0
    for (const [i, a] of nodes.entries()) {
      const others = nodes.map((_, j) => j).filter(j => j !== i).sort(() => Math.random() - 0.5).slice(0, k)
      for (const j of others) {
        const key = i < j ? `${i}-${j}` : `${j}-${i}`
        if (pairs.has(key)) continue
        pairs.add(key)
        // A hundred nodes in one process answer slowly: a dial that fails is left out, and counted.
        await a.node.dial(nodes[j]!.node.getMultiaddrs()[0]!, { signal: AbortSignal.timeout(60_000) }).catch(() => { pairs.delete(key); failed++ })
      }
    }
    say(`${pairs.size} connections made${failed > 0 ? ` (${failed} dials failed)` : ''}; waiting for the meshes`)
    const meshed = (): boolean => nodes.every(n => meshOf(n).length >= GOSSIP_MESH.Dlo)
    await until('every node to have a mesh', meshed, 120_000, 100)
    say(`meshes formed; publishing ${o.messages} envelopes`)
    const start = performance.now()
    for (let m = 0; m < o.messages; m++) {
      const from = nodes[Math.floor(Math.random() * nodes.length)]!
      from.published++
      await from.node.services.pubsub.publish(CRDT_TOPIC, randomBytes(o.bytes))
      // Paced from the start, so that the time a publish takes does not slow the rate.
      const wait = start + (m + 1) * 1000 / o.rate - performance.now()
      if (wait > 0) await new Promise(resolve => setTimeout(resolve, wait))
    }
    const publishedRate = o.messages / ((performance.now() - start) / 1000)
    // Each node gets each envelope from someone else once, except the one it published itself.
    const expected = o.messages * (o.nodes - 1)
    const firsts = (): number => nodes.reduce((s, n) => s + n.firsts, 0)
    await until('every node to have every envelope', () => firsts() >= expected, 120_000, 100)
      .catch((err: Error) => { throw new Error(`${err.message}: ${firsts()} of ${expected} deliveries`) })
    // Copies still on their way, and those that gossip (IHAVE / IWANT) asks for, in the next heartbeats.
    await new Promise(resolve => setTimeout(resolve, 3000))
    // A node's own envelopes come back to it too (a mesh peer forwards them): counted against what it received from others.
    const perNode = nodes.map(n => n.copies / (o.messages - n.published))
    const copies = nodes.reduce((s, n) => s + n.copies, 0)
    const out = {
      nodes: o.nodes,
      dialledEach: k,
      connectionsMean: 2 * pairs.size / o.nodes,
      meshDegree: GOSSIP_MESH.D,
      floodPublish: o.floodPublish,
      messages: o.messages,
      publishedPerS: publishedRate,
      bytes: o.bytes,
      seconds: (performance.now() - start) / 1000,
      /** copies a node received of each envelope (1 would be no duplicates) */
      copiesPerNodeMean: copies / expected,
      copiesPerNodeMax: Math.max(...perNode),
      meshPeersMean: nodes.reduce((s, n) => s + meshOf(n).length, 0) / nodes.length
    }
    if (o.json === true) {
      console.log(JSON.stringify(out))
      return
    }
    console.log(`${out.nodes} nodes, each dialling ${k} (${out.connectionsMean.toFixed(1)} connections a node), mesh degree ${out.meshDegree} (mean mesh ${out.meshPeersMean.toFixed(1)} peers)`)
    console.log(`${out.messages} envelopes of ${out.bytes} bytes at ${publishedRate.toFixed(1)}/s${o.floodPublish ? '' : ', published to the mesh only'}: each node received ${out.copiesPerNodeMean.toFixed(2)} copies of each (max over nodes ${out.copiesPerNodeMax.toFixed(2)})`)
    console.log(`gossip bytes a node receives per envelope written anywhere: ${(out.copiesPerNodeMean * out.bytes).toFixed(0)} (${out.copiesPerNodeMean.toFixed(2)} x its size)`)
  } finally {
    await Promise.all(nodes.map(async n => { await n.node.stop() }))
  }
}

main().then(() => process.exit(0), (err: unknown) => {
  console.error(`sim:gossip: ${err instanceof Error ? err.message : String(err)}`)
  process.exit(1)
})
