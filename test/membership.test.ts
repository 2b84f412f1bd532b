import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { LevelDatastore } from 'datastore-level'
import { join } from 'node:path'
import { buildLibp2p, type TexmeshLibp2p } from '../node/daemon/libp2p.js'
import { decodeInvite, encodeInvite, type NetworkDescriptor } from '../node/datadir/invite.js'
import { DataDir } from '../node/datadir/datadir.js'
import { admit, initNetwork, joinNetwork } from '../node/datadir/network-admin.js'
import {
  decodeCertificateText, encodeCertificateText, issueCertificate, verifyCertificate, type MembershipCertificate, type PeerMembership
} from '../protocols/membership/index.js'
import { removeDir, tempDir, waitFor } from './helpers.js'

const DAY = 24 * 3600 * 1000

describe('invites', () => {
  it('round-trips through text and refuses damaged or foreign strings with a reason', async () => {
    const dir = await tempDir()
    try {
      const { invite, network } = await initNetwork(new DataDir(dir), 'physics-lab', ['/ip4/10.1.2.3/tcp/7474/p2p/12D3KooWGRUVh9HQxSKfJDDs1VRrsvqtqmPJQfXvf9VXbcLgUNBd'])
      assert.deepEqual(decodeInvite(invite), network)
      assert.equal(network.psk.length, 64)
      assert.equal(encodeInvite(decodeInvite(invite)), invite)

      const joinerDir = await tempDir()
      try {
        const joined = await joinNetwork(new DataDir(joinerDir), invite)
        assert.equal(joined.joined, true)
        assert.deepEqual(await new DataDir(joinerDir).network(), network)
        // joining again is harmless; joining another network is refused
        assert.equal((await joinNetwork(new DataDir(joinerDir), invite)).joined, false)
        const other = encodeInvite({ ...network, psk: randomBytes(32).toString('hex') })
        await assert.rejects(joinNetwork(new DataDir(joinerDir), other), { name: 'DataDirStateError' })
      } finally {
        await removeDir(joinerDir)
      }

      for (const bad of ['', 'hello', 'texmesh-invite-v1:!!!', 'texmesh-invite-v1:' + Buffer.from('{"name":1}').toString('base64url'), invite.slice(0, -10)]) {
        assert.throws(() => decodeInvite(bad), { name: 'InvalidInviteError' }, `accepted ${bad}`)
      }
      const noPeerId = encodeInvite({ ...network, bootstrap: [] }).replace(/.$/, '') // damaged tail
      assert.throws(() => decodeInvite(noPeerId), { name: 'InvalidInviteError' })
      const withoutP2p = 'texmesh-invite-v1:' + Buffer.from(JSON.stringify({ ...network, bootstrap: ['/ip4/1.2.3.4/tcp/1'] })).toString('base64url')
      assert.throws(() => decodeInvite(withoutP2p), { name: 'InvalidInviteError', message: /no \/p2p\// })
      const badPeer = 'texmesh-invite-v1:' + Buffer.from(JSON.stringify({ ...network, bootstrap: ['/ip4/1.2.3.4/tcp/1/p2p/QmInvalid0'] })).toString('base64url')
      assert.throws(() => decodeInvite(badPeer), { name: 'InvalidInviteError', message: /invalid peer id/ })
      await assert.rejects(initNetwork(new DataDir(dir), 'again', []), { name: 'DataDirStateError' })
      await assert.rejects(initNetwork(new DataDir(await tempDir()), 'bad name!', []), { name: 'InvalidInviteError' })
      // A refused --days leaves nothing behind: init can be run again
      const fresh = new DataDir(await tempDir())
      await assert.rejects(initNetwork(fresh, 'lab', [], 0), { name: 'DataDirStateError', message: /--days/ })
      assert.equal(await fresh.network(), undefined)
      assert.equal(await fresh.adminKey(), undefined)
      assert.equal((await initNetwork(fresh, 'lab', [])).network.name, 'lab')
      await removeDir(fresh.paths.root)
    } finally {
      await removeDir(dir)
    }
  })
})

describe('membership certificates', () => {
  it('admit signs a certificate that verifies offline; forged, expired, foreign and misapplied ones are refused with a reason', async () => {
    const adminDir = await tempDir()
    try {
      const dataDir = new DataDir(adminDir)
      const { network } = await initNetwork(dataDir, 'lab', [])
      const adminPublicKey = Buffer.from(network.admin, 'base64url')
      const member = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
      const cert = await admit(dataDir, member, 30)
      const ctx = { network: 'lab', adminPublicKey, peer: member }

      const ok = await verifyCertificate(decodeCertificateText(encodeCertificateText(cert)), ctx)
      assert.equal(ok.ok, true)
      assert.ok(cert.expiresAt - cert.issuedAt === 30 * DAY)

      const refusal = async (c: unknown, over: Partial<typeof ctx & { now: number }> = {}): Promise<string> => {
        const check = await verifyCertificate(c, { ...ctx, ...over })
        assert.equal(check.ok, false)
        return check.ok ? 'ok' : check.reason
      }
      // forged: signed by someone else's key, or a field changed after signing
      const otherAdmin = await generateKeyPair('Ed25519')
      const forged = await issueCertificate(otherAdmin, { network: 'lab', peer: member, issuedAt: Date.now(), expiresAt: Date.now() + DAY })
      assert.equal(await refusal(forged), 'bad-signature')
      assert.equal(await refusal({ ...cert, expiresAt: cert.expiresAt + 100 * DAY }), 'bad-signature')
      const otherPeer = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
      assert.equal(await refusal({ ...cert, peer: otherPeer }, { peer: otherPeer }), 'bad-signature')
      // expired
      const expired = await issueCertificate(await dataDir.adminKey() as any, { network: 'lab', peer: member, issuedAt: Date.now() - 10 * DAY, expiresAt: Date.now() - DAY })
      assert.equal(await refusal(expired), 'expired')
      assert.equal(await refusal(cert, { now: cert.expiresAt + 1 }), 'expired')
      // foreign: valid certificate of another network
      assert.equal(await refusal(cert, { network: 'another-lab' }), 'foreign-network')
      // presented by a peer it does not name
      assert.equal(await refusal(cert, { peer: otherPeer }), 'wrong-peer')
      // garbage
      assert.equal(await refusal({ hello: 'world' }), 'malformed')
      assert.equal(await refusal(null), 'malformed')
      assert.equal(await refusal({ ...cert, sig: 'x' }), 'malformed')

      // admit needs the admin key and a real peer id
      await assert.rejects(admit(dataDir, 'not-a-peer-id'), { name: 'DataDirStateError' })
      // Ids that can never be a texmesh node (RSA), and certificates that would expire at once
      await assert.rejects(admit(dataDir, 'QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N'), { name: 'DataDirStateError', message: /RSA peer id/ })
      await assert.rejects(admit(dataDir, member, 1e-9), { name: 'DataDirStateError', message: /--days/ })
      // The CID form of a peer id is named in the certificate as nodes print it
      const cid = peerIdFromString(member).toCID().toString()
      assert.equal((await admit(dataDir, cid, 1)).peer, member)
      const memberDir = await tempDir()
      try {
        await joinNetwork(new DataDir(memberDir), encodeInvite(network))
        await assert.rejects(admit(new DataDir(memberDir), member), { name: 'DataDirStateError', message: /no admin key/ })
        // a node installs only a certificate for itself, of its network, signed by its admin
        await assert.rejects(new DataDir(memberDir).installCertificate(encodeCertificateText(cert)), { name: 'InvalidCertificateError', message: /wrong-peer/ })
        const own = await admit(dataDir, (await new DataDir(memberDir).identity()).peerId.toString())
        await new DataDir(memberDir).installCertificate(encodeCertificateText(own))
        assert.deepEqual(await new DataDir(memberDir).certificate(), own)
      } finally {
        await removeDir(memberDir)
      }
    } finally {
      await removeDir(adminDir)
    }
  })

  describe('over the wire', { timeout: 60_000 }, () => {
    const cleanup: Array<() => Promise<void>> = []
    after(async () => { for (const c of cleanup.reverse()) await c() })

    async function peer (network: NetworkDescriptor, certificate: (peer: string) => Promise<MembershipCertificate | undefined>): Promise<{ node: TexmeshLibp2p, states: Map<string, PeerMembership> }> {
      const dir = await tempDir()
      const key = await generateKeyPair('Ed25519')
      const cert = await certificate(peerIdFromPrivateKey(key).toString())
      const datastore = new LevelDatastore(join(dir, 'peerstore'))
      await datastore.open()
      const states = new Map<string, PeerMembership>()
      const node = await buildLibp2p({
        privateKey: key,
        listen: ['/ip4/127.0.0.1/tcp/0'],
        bootstrap: [],
        model: 'test-model',
        mdns: false,
        network,
        datastore,
        membership: {
          network: { name: network.name, adminPublicKey: Buffer.from(network.admin, 'base64url') },
          certificate: () => cert,
          onPeerState: (p, s) => { states.set(p.toString(), s) }
        },
        peerExchange: { onPeers: () => {} }
      })
      await node.start()
      cleanup.push(async () => { await node.stop(); await datastore.close(); await removeDir(dir) })
      return { node, states }
    }

    it('a node refuses forged, expired and foreign certificates presented on connect, and accepts a valid one', async () => {
      const adminDir = await tempDir()
      cleanup.push(async () => { await removeDir(adminDir) })
      const adminData = new DataDir(adminDir)
      const { network } = await initNetwork(adminData, 'lab', [])
      const adminKey = (await adminData.adminKey())!
      const otherAdmin = await generateKeyPair('Ed25519')
      const now = Date.now()

      const verifier = await peer(network, async p => await admit(adminData, p))
      const cases: Array<[string, (p: string) => Promise<MembershipCertificate | undefined>]> = [
        ['member', async p => await admit(adminData, p)],
        ['bad-signature', async p => await issueCertificate(otherAdmin, { network: 'lab', peer: p, issuedAt: now, expiresAt: now + DAY })],
        ['expired', async p => await issueCertificate(adminKey, { network: 'lab', peer: p, issuedAt: now - 3 * DAY, expiresAt: now - DAY })],
        ['foreign-network', async p => await issueCertificate(adminKey, { network: 'elsewhere', peer: p, issuedAt: now, expiresAt: now + DAY })],
        ['wrong-peer', async () => await admit(adminData, peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString())],
        ['none', async () => undefined]
      ]
      for (const [expected, make] of cases) {
        const presenter = await peer(network, make)
        await presenter.node.dial(verifier.node.getMultiaddrs()[0]!)
        const state = await waitFor(`verifier's verdict on a ${expected} certificate`, () => {
          const s = verifier.node.services.membership.stateOf(presenter.node.peerId)
          return s.state === 'pending' ? undefined : s
        })
        if (expected === 'member' || expected === 'none') {
          assert.equal(state.state, expected)
        } else {
          assert.equal(state.state, 'refused')
          assert.equal((state as any).reason, expected)
          assert.ok((state as any).detail.length > 0)
        }
        assert.deepEqual(verifier.states.get(presenter.node.peerId.toString()), state)
        // and the presenter, holding no matter what certificate, sees the verifier as a member
        await waitFor('presenter to see the verifier as a member', () => presenter.node.services.membership.stateOf(verifier.node.peerId).state === 'member')
      }
    })
  })
})

describe('hostile input on the wire', { timeout: 60_000 }, () => {
  it('garbage, oversized and silent membership and peer-exchange streams are refused; the node keeps serving', async () => {
    const { lpStream } = await import('@libp2p/utils')
    const { MEMBERSHIP_PROTOCOL } = await import('../protocols/membership/index.js')
    const { PEER_EXCHANGE_PROTOCOL } = await import('../protocols/peer-exchange/index.js')
    const { startTestNode } = await import('./helpers.js')
    const adminDir = await tempDir()
    const attackerDir = await tempDir()
    const { invite } = await initNetwork(new DataDir(adminDir), 'lab', [])
    await joinNetwork(new DataDir(attackerDir), invite)
    const victim = await startTestNode(adminDir)
    const attacker = await startTestNode(attackerDir)
    try {
      const target = victim.libp2p.getMultiaddrs()[0]!
      await attacker.libp2p.dial(target)
      await waitFor('the honest exchange to finish', () => victim.libp2p.services.membership.stateOf(attacker.peerId).state === 'none')

      // not JSON
      let stream = await attacker.libp2p.dialProtocol(target, MEMBERSHIP_PROTOCOL)
      await lpStream(stream).write(new TextEncoder().encode('\u0000not json at all'))
      await waitFor('a malformed verdict', () => {
        const s = victim.libp2p.services.membership.stateOf(attacker.peerId)
        return s.state === 'refused' && s.reason === 'malformed'
      })
      stream.abort(new Error('done'))

      // JSON of the wrong shape
      stream = await attacker.libp2p.dialProtocol(target, MEMBERSHIP_PROTOCOL)
      await lpStream(stream).write(new TextEncoder().encode(JSON.stringify({ certificate: { v: 2 }, extra: 'x'.repeat(100) })))
      await waitFor('a malformed verdict for a wrong shape', () => {
        const s = victim.libp2p.services.membership.stateOf(attacker.peerId)
        return s.state === 'refused' && s.reason === 'malformed' && /membership message|certificate/.test(s.detail)
      })
      stream.abort(new Error('done'))

      // over the size cap: the victim resets the stream instead of buffering it
      stream = await attacker.libp2p.dialProtocol(target, MEMBERSHIP_PROTOCOL)
      await lpStream(stream, { maxDataLength: 1 << 20 }).write(new Uint8Array(100_000)).catch(() => {})
      await waitFor('the oversized stream to be closed by the victim', () => stream.status !== 'open')

      // a peer-exchange answerer sends junk back: the asker (victim) drops it
      let junkServed = 0
      await attacker.libp2p.handle(PEER_EXCHANGE_PROTOCOL, async (s) => {
        junkServed++
        await lpStream(s).write(new TextEncoder().encode(junkServed === 1 ? '[{"id":"nope","addrs":[1,2,3]},' : JSON.stringify([{ id: 'nope', addrs: ['/ip4/127.0.0.1/tcp/1'] }])))
        await s.close()
      }, { force: true })
      await attacker.libp2p.hangUp(victim.peerId)
      await attacker.libp2p.dial(target)
      await waitFor('the victim to ask the attacker for peers', () => junkServed >= 1)
      await attacker.libp2p.hangUp(victim.peerId)
      await attacker.libp2p.dial(target)
      await waitFor('the victim to ask again', () => junkServed >= 2)

      // still serving: status answers and a fresh honest peer gets in
      assert.equal((await victim.status()).peerId, victim.peerId.toString())
      const honestDir = await tempDir()
      await joinNetwork(new DataDir(honestDir), invite)
      const honest = await startTestNode(honestDir)
      try {
        await honest.libp2p.dial(target)
        await waitFor('an honest peer to be judged', () => victim.libp2p.services.membership.stateOf(honest.peerId).state === 'none')
      } finally {
        await honest.stop()
        await removeDir(honestDir)
      }
    } finally {
      await attacker.stop()
      await victim.stop()
      await removeDir(adminDir)
      await removeDir(attackerDir)
    }
  })
})

describe('peer exchange address filter', () => {
  it('passes on TCP and WebSockets addresses, loopback only between loopback peers, never another peer\'s or link-local ones', async () => {
    const { usableAddress } = await import('../protocols/peer-exchange/index.js')
    const { multiaddr } = await import('@multiformats/multiaddr')
    const id = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    const other = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    const ok = (a: string, loop = false): boolean => usableAddress(multiaddr(a), id, loop)
    assert.equal(ok('/ip4/10.0.0.5/tcp/7474'), true)
    assert.equal(ok('/ip4/10.0.0.5/tcp/7475/ws'), true)
    assert.equal(ok(`/ip4/10.0.0.5/tcp/7474/p2p/${id.toString()}`), true)
    assert.equal(ok(`/ip4/10.0.0.5/tcp/7474/p2p/${other.toString()}`), false)
    assert.equal(ok('/ip4/127.0.0.1/tcp/7474'), false)
    assert.equal(ok('/ip4/127.0.0.1/tcp/7474', true), true)
    assert.equal(ok('/ip6/::1/tcp/7474'), false)
    assert.equal(ok('/ip4/169.254.1.1/tcp/7474', true), false)
    assert.equal(ok('/ip4/10.0.0.5/udp/7474/quic-v1'), false)
  })
})
