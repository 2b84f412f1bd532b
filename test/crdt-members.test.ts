import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { Replica } from '../crdt/replica.js'
import { type ResultEntry } from '../crdt/schemas.js'
import { DataDir } from '../node/datadir/datadir.js'
import { admit, initNetwork, joinNetwork, makeInvite } from '../node/datadir/network-admin.js'
import { encodeCertificateText } from '../protocols/membership/index.js'
import type { RunningNode } from '../node/daemon/start.js'
import { removeDir, startTestNode, tempDir, waitFor } from './helpers.js'

function result (latex: string): ResultEntry {
  return { latex, confidence: 0.8, alternatives: [], model: 'texmesh-v1+test', time: 1 }
}

const dirs: string[] = []
async function dir (): Promise<string> {
  const d = await tempDir('texmesh-crdt-members-')
  dirs.push(d)
  return d
}

async function writer (): Promise<{ replica: Replica, wire: Uint8Array[] }> {
  const replica = await Replica.open({ path: await dir(), key: await generateKeyPair('Ed25519') })
  const wire: Uint8Array[] = []
  replica.onEnvelope(b => wire.push(b))
  return { replica, wire }
}

describe('store admission from membership certificates', { timeout: 120_000 }, () => {
  const nodes: RunningNode[] = []
  after(async () => {
    for (const n of nodes) await n.stop().catch(() => {})
    for (const d of dirs) await removeDir(d)
  })

  it('admits an author whose certificate is in its member entry or in the envelope; holds the rest until it is', async () => {
    const now = Date.now()
    // Stand-in for the admin's signature: "cert:PEER:EXPIRY" certifies PEER until EXPIRY.
    const certifiedUntil = async (author: string, text: string): Promise<number | undefined> => {
      const [tag, peer, until] = text.split(':')
      return tag === 'cert' && peer === author ? Number(until) : undefined
    }
    const refused: string[] = []
    const reader = await Replica.open({ path: await dir(), key: await generateKeyPair('Ed25519'), admits: () => false, certifiedUntil, onReject: r => refused.push(r) })
    const member = await writer()
    await member.replica.putMember({ certificate: `cert:${member.replica.author}:${now + 60_000}`, time: 1 })
    await member.replica.putResult('h', result('x'))
    await member.replica.putResult('h2', result('y'))
    // A result before the member entry: refused for now and held.
    const early = await reader.receive(member.wire[1]!)
    assert.deepEqual([early.status, (early as { reason?: string }).reason], ['rejected', 'not-a-member'])
    assert.equal(reader.heldEnvelopes().notAdmitted, 1)
    // The member entry admits itself (its certificate names its author), and the held result follows.
    assert.equal((await reader.receive(member.wire[0]!)).status, 'applied')
    assert.equal(reader.results('h').get(member.replica.author)?.latex, 'x')
    assert.equal(reader.heldEnvelopes().notAdmitted, 0)
    assert.equal((await reader.receive(member.wire[2]!)).status, 'applied')

    // Someone else's certificate, or an expired one, admits nobody.
    const thief = await writer()
    await thief.replica.putMember({ certificate: `cert:${member.replica.author}:${now + 60_000}`, time: 1 })
    await thief.replica.putResult('h', result('stolen'))
    const lapsed = await writer()
    await lapsed.replica.putMember({ certificate: `cert:${lapsed.replica.author}:${now - 1}`, time: 1 })
    await lapsed.replica.putResult('h', result('late'))
    const state = JSON.stringify(reader.snapshot())
    for (const b of [...thief.wire, ...lapsed.wire]) assert.equal((await reader.receive(b)).status, 'rejected')
    assert.equal(JSON.stringify(reader.snapshot()), state)
    assert.deepEqual(refused.filter(r => r !== 'not-a-member'), [])
    assert.ok(reader.heldEnvelopes().notAdmitted <= 4)
    for (const r of [reader, member.replica, thief.replica, lapsed.replica]) await r.close()
  })

  it('in a private network, C takes A\'s envelopes relayed by B while A is offline', async () => {
    const adminDir = await dir()
    await initNetwork(new DataDir(adminDir), 'lab', [])
    let a = await startTestNode(adminDir)
    nodes.push(a)
    const { invite } = await makeInvite(new DataDir(adminDir), a.libp2p.getMultiaddrs().map(String))
    const joined: string[] = []
    for (let i = 0; i < 2; i++) {
      const d = await dir()
      await joinNetwork(new DataDir(d), invite)
      const cert = await admit(new DataDir(adminDir), (await new DataDir(d).identity()).peerId.toString())
      await new DataDir(d).installCertificate(encodeCertificateText(cert))
      joined.push(d)
    }
    const b = await startTestNode(joined[0]!)
    nodes.push(b)
    await waitFor('A and B to connect', () => b.libp2p.getPeers().length === 1)
    const author = a.peerId.toString()
    assert.ok(a.replica.members().has(author), 'A publishes its certificate in the members map')
    await a.replica.putResult('img', result('e^{i\\pi}'))
    await waitFor('B to get A\'s result', () => b.replica.results('img').get(author)?.latex === 'e^{i\\pi}')
    const headsOfA = a.replica.heads()
    await a.stop()

    // C has never met A: it knows A only through B, and A's certificate in the envelopes B relays.
    const c = await startTestNode(joined[1]!, { bootstrap: [b.libp2p.getMultiaddrs()[0]!.toString()] })
    nodes.push(c)
    await waitFor('C to get A\'s result through B', () => c.replica.results('img').get(author)?.latex === 'e^{i\\pi}', 30_000)
    assert.ok(c.replica.members().has(author))
    // B's own entry is in another log than A's result, and may arrive a moment later.
    await waitFor('B\'s certificate at C', () => c.replica.members().has(b.peerId.toString()), 10_000)
    assert.equal(c.libp2p.getPeers().map(String).includes(author), false)
    // A comes back with the same data dir: no new member entry for an unchanged certificate.
    a = await startTestNode(adminDir)
    nodes.push(a)
    assert.deepEqual(a.replica.heads(), headsOfA)
  })
})
