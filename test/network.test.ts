import { describe, it, after } from 'node:test'
import { likelyOtherNetwork } from '../node/daemon/peer-keeper.js'
import { agentOf, agentParts } from '../node/daemon/libp2p.js'
import assert from 'node:assert/strict'
import { multiaddr } from '@multiformats/multiaddr'
import { DataDir } from '../node/datadir/datadir.js'
import { initNetwork, joinNetwork, makeInvite } from '../node/datadir/network-admin.js'
import type { RunningNode } from '../node/daemon/start.js'
import { freePort, removeDir, startTestNode, tempDir, waitFor } from './helpers.js'

describe('private network on loopback', { timeout: 90_000 }, () => {
  const dirs: string[] = []
  const nodes: RunningNode[] = []
  after(async () => {
    await Promise.all(nodes.map(async n => { await n.stop() }))
    await Promise.all(dirs.map(removeDir))
  })

  async function dir (): Promise<string> {
    const d = await tempDir()
    dirs.push(d)
    return d
  }

  it('three nodes with one key find each other through bootstrap and exchange a gossipsub message; another key cannot connect', async () => {
    const adminDir = await dir()
    const { invite } = await initNetwork(new DataDir(adminDir), 'lab', [])
    const a = await startTestNode(adminDir)
    nodes.push(a)
    // An invite made while the node runs carries its real addresses.
    const { invite: liveInvite } = await makeInvite(new DataDir(adminDir), a.libp2p.getMultiaddrs().map(String))
    assert.notEqual(liveInvite, invite)

    const others: RunningNode[] = []
    for (let i = 0; i < 2; i++) {
      const d = await dir()
      await joinNetwork(new DataDir(d), liveInvite)
      const n = await startTestNode(d)
      nodes.push(n)
      others.push(n)
    }
    const [b, c] = others as [RunningNode, RunningNode]

    // b and c know only a (no mDNS here); they meet each other through peer exchange with a.
    await waitFor('a full mesh', () => nodes.slice(0, 3).every(n => n.libp2p.getPeers().length === 2))

    const topic = 'texmesh/test/hello'
    const received = new Map<string, string>()
    for (const n of [b, c]) {
      n.libp2p.services.pubsub.subscribe(topic)
      n.libp2p.services.pubsub.addEventListener('message', (evt) => {
        if (evt.detail.topic === topic) received.set(n.peerId.toString(), new TextDecoder().decode(evt.detail.data))
      })
    }
    a.libp2p.services.pubsub.subscribe(topic)
    await waitFor('gossipsub subscriptions to reach a', () => a.libp2p.services.pubsub.getSubscribers(topic).length === 2)
    await waitFor('a message delivered to b and c', async () => {
      await a.libp2p.services.pubsub.publish(topic, new TextEncoder().encode('hello from a')).catch(() => {})
      return received.size === 2
    }, 15_000, 500)
    assert.deepEqual([...received.values()], ['hello from a', 'hello from a'])

    // A node holding another network key fails at the pnet handshake.
    const strangerDir = await dir()
    await initNetwork(new DataDir(strangerDir), 'other-lab', [])
    const stranger = await startTestNode(strangerDir)
    nodes.push(stranger)
    await assert.rejects(stranger.libp2p.dial(a.libp2p.getMultiaddrs()[0]!, { signal: AbortSignal.timeout(5000) }))
    // What the logs say of such failures (the error depends on which side gives up first).
    for (const message of ['Message length too long - 14873 > 1024', 'read ECONNRESET']) assert.match(likelyOtherNetwork(new Error(message)) ?? '', /another network/)
    assert.equal(likelyOtherNetwork(new Error('connect ECONNREFUSED 127.0.0.1:7474')), undefined)
    await assert.rejects(a.libp2p.dial(stranger.libp2p.getMultiaddrs()[0]!, { signal: AbortSignal.timeout(5000) }))
    assert.equal(stranger.libp2p.getPeers().length, 0)
    assert.ok(!a.libp2p.getPeers().some(p => p.equals(stranger.peerId)))

    // and an open node (no key at all) cannot either
    const openNode = await startTestNode(await dir())
    nodes.push(openNode)
    await assert.rejects(openNode.libp2p.dial(a.libp2p.getMultiaddrs()[0]!, { signal: AbortSignal.timeout(5000) }))
  })

  it('members see each other as members, with latency, in the peers list', async () => {
    const a = nodes[0]!
    const peers = await waitFor('membership and latency of both peers', async () => {
      const list = await a.peers()
      return list.length >= 2 && list.filter(p => (p.membership as any).state === 'member' || (p.membership as any).state === 'none').length === 2 && list.every(p => p.latencyMs != null) ? list : undefined
    })
    const { version, model } = await a.status()
    for (const p of peers) {
      assert.match(p.id, /^12D3KooW/)
      assert.ok(p.addresses[0]?.startsWith('/ip4/127.0.0.1/tcp/'))
      // b and c joined but were never admitted: they present no certificate
      assert.deepEqual(p.membership, { state: 'none' })
      // What they run, from identify; their load is not listened to, since they are not members.
      assert.equal(p.version, version)
      assert.equal(p.model, model)
      assert.equal(p.load, undefined)
    }
    assert.deepEqual(agentParts(agentOf('1.2.3', 'texmesh-v2+0123456789abcdef')), { version: '1.2.3', model: 'texmesh-v2+0123456789abcdef' })
    assert.deepEqual(agentParts('texmesh/0.1.0'), { version: '0.1.0' })
    assert.equal(agentParts('js-libp2p/3.0.0 UserAgent=v24.0.0'), undefined)
  })

  it('redials a bootstrap peer that went away and came back', async () => {
    const port = await freePort()
    const serverDir = await dir()
    const { network } = await initNetwork(new DataDir(serverDir), 'redial', [])
    let server = await startTestNode(serverDir, { listen: [`/ip4/127.0.0.1/tcp/${port}`] })
    const bootstrapAddr = `/ip4/127.0.0.1/tcp/${port}/p2p/${server.peerId.toString()}`
    const clientDir = await dir()
    await joinNetwork(new DataDir(clientDir), (await makeInvite(new DataDir(serverDir), [bootstrapAddr])).invite)
    assert.equal(network.name, 'redial')
    const client = await startTestNode(clientDir)
    nodes.push(client)
    await waitFor('client to reach its bootstrap peer', () => client.libp2p.getPeers().some(p => p.equals(server.peerId)))

    await server.stop()
    await waitFor('client to notice the peer is gone', () => client.libp2p.getPeers().length === 0)
    server = await startTestNode(serverDir, { listen: [`/ip4/127.0.0.1/tcp/${port}`] })
    nodes.push(server)
    await waitFor('client to redial the restarted peer', () => client.libp2p.getPeers().some(p => p.equals(server.peerId)), 30_000)
    assert.ok(multiaddr(bootstrapAddr))
  })
})
