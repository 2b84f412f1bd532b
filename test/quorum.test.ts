import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { Ed25519PrivateKey } from '@libp2p/interface'
import { decodeRevocationText, encodeCertificateText, encodeRevocationText, issueCertificate, issueRevocation, verifyRevocation } from '../protocols/membership/index.js'
import { isEquivocation, signVote, verifyQuorumCertificate, verifyVote, type QuorumCertificate, type SignedVote } from '../protocols/votes/index.js'
import { sha256Hex } from '../util/sha256.js'
import { encodeJson } from '../protocols/json.js'
import { startNode, type RunningNode } from '../node/daemon/start.js'
import { DEFAULT_CONFIG, type NodeConfig } from '../node/datadir/config.js'
import { createLog } from '../node/log.js'
import { byzantineVoter, wrongAnswer, type Attack } from '../simnet/byzantine.js'
import { modelledCompute } from '../simnet/compute.js'
import type { TaskView } from '../node/daemon/work.js'
import { removeDir, runCli, tempDir, waitFor } from './helpers.js'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'

const DAY = 86_400_000
const IMAGE = fileURLToPath(new URL('../../test/fixtures/ocr/sum.png', import.meta.url))

describe('votes and quorum certificates (offline)', () => {
  async function setup (): Promise<{ keys: Ed25519PrivateKey[], ids: string[], members: string[], admin: Ed25519PrivateKey, cert: (latex: string, n: number) => Promise<QuorumCertificate> }> {
    const admin = await generateKeyPair('Ed25519')
    const keys = await Promise.all([0, 1, 2, 3, 4].map(async () => await generateKeyPair('Ed25519')))
    const ids = keys.map(k => peerIdFromPrivateKey(k).toString())
    const now = Date.now()
    const members = await Promise.all(ids.slice(0, 4).map(async peer => encodeCertificateText(await issueCertificate(admin, { network: 'lab', peer, issuedAt: now - DAY, expiresAt: now + DAY }))))
    const image = sha256Hex(new TextEncoder().encode('an image'))
    const cert = async (latex: string, n: number): Promise<QuorumCertificate> => ({
      v: 1,
      task: 't1',
      image,
      model: 'm1',
      latex,
      f: 1,
      network: 'lab',
      votes: await Promise.all(keys.slice(0, n).map(async (k, i) => await signVote(k, { task: 't1', image, model: 'm1', latex, confidence: 0.9, voter: ids[i]!, time: now }))),
      members: members.slice(0, n)
    })
    return { keys, ids, members, admin, cert }
  }
  const lab = (admin: Ed25519PrivateKey): { network: { name: string, adminPublicKey: Uint8Array } } => ({ network: { name: 'lab', adminPublicKey: admin.publicKey.raw } })

  it('a vote signs exactly its fields; a changed field or another signer fails', async () => {
    const { keys, ids } = await setup()
    const v = await signVote(keys[0]!, { task: 't', image: 'a'.repeat(64), model: 'm', latex: 'x^{2}', confidence: 0.5, voter: ids[0]!, time: 1 })
    assert.equal((await verifyVote(v)).ok, true)
    for (const changed of [{ latex: 'x^{3}' }, { confidence: 0.6 }, { time: 2 }, { task: 'u' }, { voter: ids[1]! }]) {
      const check = await verifyVote({ ...v, ...changed })
      assert.equal(check.ok, false, JSON.stringify(changed))
    }
    assert.deepEqual(await verifyVote({ ...v, sig: 'x' }).then(c => c.ok ? '' : c.reason), 'malformed')
  })

  it('equivocation is two answers to one task, image and model; another image or model under a task id is not', () => {
    const v = { task: 't', image: 'a'.repeat(64), model: 'm', latex: 'x^{2}', confidence: 0.5, voter: 'v', time: 1 }
    assert.equal(isEquivocation(v, { ...v, latex: 'x^{3}' }), true)
    assert.equal(isEquivocation(v, { ...v, confidence: 0.9, time: 2 }), false, 'a re-vote')
    assert.equal(isEquivocation(v, { ...v, image: 'b'.repeat(64), latex: 'y' }), false, 'a ballot that reuses the task id for another image')
    assert.equal(isEquivocation(v, { ...v, model: 'm2', latex: 'y' }), false, 'after a model upgrade')
    assert.equal(isEquivocation(v, { ...v, voter: 'w', latex: 'y' }), false)
  })

  it('a certificate of 2f+1 member votes verifies offline; tampered ones do not', async () => {
    const { admin, cert, keys, ids, members } = await setup()
    const good = await cert('\\sum_{i=1}^{n}i', 3)
    const ok = await verifyQuorumCertificate(JSON.parse(JSON.stringify(good)), lab(admin))
    assert.equal(ok.ok, true)
    assert.equal(ok.ok && ok.voters.length, 3)

    const reason = async (c: unknown, ctx = lab(admin)): Promise<string> => { const r = await verifyQuorumCertificate(c, ctx); return r.ok ? 'ok' : r.reason }
    assert.equal(await reason({ ...good, latex: 'x' }), 'mismatch', 'changed LaTeX')
    assert.equal(await reason({ ...good, votes: good.votes.slice(0, 2) }), 'too-few-votes', 'dropped signature')
    assert.equal(await reason({ ...good, votes: [...good.votes.slice(0, 2), good.votes[0]!] }), 'duplicate-voter')
    const badSig: SignedVote = { ...good.votes[2]!, sig: good.votes[1]!.sig }
    assert.equal(await reason({ ...good, votes: [...good.votes.slice(0, 2), badSig] }), 'bad-signature')
    // Voter 4 has no membership certificate of this network.
    const { sig: _sig, ...vote0 } = good.votes[0]!
    const outsider = await signVote(keys[4]!, { ...vote0, voter: ids[4]! })
    assert.equal(await reason({ ...good, votes: [...good.votes.slice(0, 2), outsider] }), 'not-a-member')
    // A membership certificate from another admin does not make a member.
    const otherAdmin = await generateKeyPair('Ed25519')
    assert.equal(await reason(good, lab(otherAdmin)), 'not-a-member')
    assert.equal(await reason(good, {} as any), 'foreign-network')
    assert.equal(await reason({ ...good, members: members.slice(0, 2) }), 'not-a-member', 'a voter without its certificate attached')
    assert.equal(await reason({ nonsense: true }), 'malformed')
    // A certificate cannot lower its own bar: f = 0 would take one vote.
    const one = await cert('\\sum_{i=1}^{n}i', 1)
    assert.equal(await reason({ ...one, f: 0 }), 'weak-quorum')
    assert.equal((await verifyQuorumCertificate({ ...one, f: 0 }, { ...lab(admin), minF: 0 })).ok, true, 'unless the verifier accepts f = 0')
  })

  it('a revoked voter\'s votes count only from before its revocation; revocations are the admin\'s alone', async () => {
    const { admin, cert, ids } = await setup()
    const good = await cert('\\sum_{i=1}^{n}i', 3)
    const votedAt = good.votes[1]!.time
    const revokedAt = (peer: string, at: number) => (p: string) => p === peer ? at : undefined
    const with_ = async (at: number): Promise<string> => {
      const r = await verifyQuorumCertificate(good, { ...lab(admin), revokedAt: revokedAt(good.votes[1]!.voter, at) })
      return r.ok ? 'ok' : r.reason
    }
    assert.equal(await with_(votedAt + 1000), 'ok', 'revoked after it voted: the vote counts')
    assert.equal(await with_(votedAt), 'revoked', 'revoked when it voted: it does not')
    // Signed by the admin key only, for its network only.
    const r = await issueRevocation(admin, { network: 'lab', peer: ids[1]!, revokedAt: 1 })
    const ctx = { network: 'lab', adminPublicKey: admin.publicKey.raw }
    assert.equal((await verifyRevocation(decodeRevocationText(encodeRevocationText(r)), ctx)).ok, true)
    assert.equal(((await verifyRevocation(r, { ...ctx, network: 'other' })) as { reason: string }).reason, 'foreign-network')
    const forger = await generateKeyPair('Ed25519')
    assert.equal(((await verifyRevocation(await issueRevocation(forger, { network: 'lab', peer: ids[1]!, revokedAt: 1 }), ctx)) as { reason: string }).reason, 'bad-signature')
    assert.equal(((await verifyRevocation({ ...r, peer: ids[2]! }, ctx)) as { reason: string }).reason, 'bad-signature', 'the peer is signed')
  })
})

interface Net { nodes: RunningNode[], dirs: string[] }

async function startNet (attacks: Array<Attack | undefined>, extra: Partial<NodeConfig> = {}): Promise<Net> {
  const net: Net = { nodes: [], dirs: [] }
  for (const attack of attacks) {
    const dir = await tempDir()
    net.dirs.push(dir)
    const bootstrap = net.nodes.length > 0 ? [net.nodes[0]!.libp2p.getMultiaddrs()[0]!.toString()] : []
    net.nodes.push(await startNode({
      dataDir: dir,
      config: { ...DEFAULT_CONFIG, listen: ['/ip4/127.0.0.1/tcp/0'], apiPort: 0, mdns: false, logLevel: 'silent', workers: 0, bootstrap, ...extra },
      log: createLog('silent'),
      hooks: { compute: modelledCompute([20, 40]), ...(attack != null ? { tamper: key => byzantineVoter(attack, key) } : {}) }
    }))
  }
  const n = net.nodes.length
  try {
    await waitFor('a full mesh', () => net.nodes.every(x => x.libp2p.getPeers().length === n - 1), 30_000)
    await waitFor('the vote topic mesh', () => net.nodes.every(x => x.libp2p.services.pubsub.getSubscribers('texmesh/votes/1').length === n - 1), 20_000)
  } catch (err) {
    const counts = net.nodes.map(x => `${x.libp2p.getPeers().length}/${x.libp2p.services.pubsub.getSubscribers('texmesh/votes/1').length}`).join(' ')
    await stopNet(net)
    throw new Error(`${(err as Error).message} (peers/vote-topic subscribers per node: ${counts})`)
  }
  return net
}

async function stopNet (net: Net): Promise<void> {
  for (const n of net.nodes) await n.stop().catch(() => {})
  for (const d of net.dirs) await removeDir(d)
}

async function finished (node: RunningNode, id: string): Promise<TaskView> {
  return await waitFor(`task ${id} to finish`, async () => {
    const t = await node.task(id)
    return t?.state === 'done' || t?.state === 'no-consensus' ? t : undefined
  }, 30_000)
}

describe('quorum for critical images between real nodes', { timeout: 240_000 }, () => {
  const nets: Net[] = []
  after(async () => { for (const n of nets) await stopNet(n) })
  const image = async (): Promise<Buffer> => await readFile(IMAGE)
  const honest = (bytes: Buffer): string => `\\mathrm{image}_{${sha256Hex(bytes).slice(0, 12)}}`

  it('4 honest nodes: a certificate that verifies offline, stored with the result in every replica', async () => {
    const net = await startNet([undefined, undefined, undefined, undefined])
    nets.push(net)
    const bytes = await image()
    const t = await net.nodes[0]!.submit(bytes, { file: 'sum.png', critical: true })
    assert.equal(t.critical, true)
    const done = await finished(net.nodes[0]!, t.id)
    assert.equal(done.state, 'done')
    const cert = done.result?.certificate
    assert.ok(cert != null, 'the result carries its certificate')
    assert.equal(cert.latex, honest(bytes))
    assert.ok(cert.votes.length >= 3)
    // The certified result has what an ordinary one has: the origin's own reading gives regions and time.
    assert.equal(done.result?.regions.length, 1)
    assert.equal(typeof done.result?.ms, 'number')
    const check = await verifyQuorumCertificate(JSON.parse(JSON.stringify(cert)))
    assert.equal(check.ok, true)
    for (const n of net.nodes) {
      await waitFor('the certified result everywhere', () => [...n.replica.results(t.hash).values()].some(r => r.certificate != null))
    }

    // texmesh verify: by task id through the running node, and offline from a file.
    const byId = await runCli(['verify', t.id, '--data-dir', net.dirs[0]!])
    assert.equal(byId.code, 0, byId.stderr)
    assert.match(byId.stdout, /the certificate holds: \d signed votes agree \(3 needed, f = 1\)/)
    for (const v of cert.votes) assert.ok(byId.stdout.includes(v.voter))
    // and as the web interface asks the node: POST /v1/tasks/ID/verify
    const apiToken = (await readFile(join(net.dirs[0]!, 'api-token'), 'utf8')).trim()
    const viaApi = await (await fetch(`http://127.0.0.1:${net.nodes[0]!.apiPort}/v1/tasks/${t.id}/verify`, { method: 'POST', headers: { authorization: `Bearer ${apiToken}` } })).json() as { ok: boolean, voters: string[], checked: string[] }
    assert.equal(viaApi.ok, true)
    assert.ok(viaApi.voters.length >= 3)
    assert.deepEqual(viaApi.checked, ['answer', 'image hash', 'model'])
    // A reviewer's correction meets the certificate: the certified answer stands, the correction beside it (disputed).
    const reviewerToken = (await readFile(join(net.dirs[1]!, 'api-token'), 'utf8')).trim()
    const correction = await (await fetch(`http://127.0.0.1:${net.nodes[1]!.apiPort}/v1/reviews`, { method: 'POST', headers: { authorization: `Bearer ${reviewerToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ target: t.hash, latex: 'x+1' }) })).json() as { served: { state: string, latex: string } }
    assert.deepEqual(correction.served, { state: 'disputed', latex: 'x+1' })
    const disputed = await waitFor('the origin to show the dispute', async () => { const v = await net.nodes[0]!.task(t.id); return v?.result?.review?.state === 'disputed' ? v : undefined })
    assert.equal(disputed.result!.latex, cert.latex, 'a certified answer is never replaced')
    assert.deepEqual([disputed.result!.review!.latex, disputed.result!.review!.by], ['x+1', [net.nodes[1]!.peerId.toString()]])
    assert.ok(disputed.result!.certificate != null)
    const file = join(net.dirs[0]!, 'result.json')
    const result = await runCli(['result', t.id, '--json', '--data-dir', net.dirs[0]!])
    await writeFile(file, result.stdout)
    const offline = await runCli(['verify', file, '--json', '--data-dir', net.dirs[1]!])
    assert.equal(offline.code, 0, offline.stderr)
    assert.equal(JSON.parse(offline.stdout).ok, true)
    await writeFile(file, JSON.stringify({ ...cert, latex: 'x' }))
    const tampered = await runCli(['verify', file, '--data-dir', net.dirs[1]!])
    assert.equal(tampered.code, 1)
    assert.match(tampered.stdout, /does not hold \(mismatch\)/)
    // A result file whose own answer, image hash or model was edited does not verify, though its certificate is intact.
    const submitted = JSON.parse(result.stdout)
    for (const edit of [{ latex: 'x=1' }, { hash: '0'.repeat(64) }, { model: 'texmesh-v9+0000000000000000' }]) {
      const edited = { ...submitted, ...edit }
      await writeFile(file, JSON.stringify(edited))
      const r = await runCli(['verify', file, '--data-dir', net.dirs[1]!])
      assert.equal(r.code, 1, `${JSON.stringify(edit)}: ${r.stdout}`)
      assert.match(r.stdout, /does not hold \(not-this-result\)/)
    }
    // The image itself: the one voted on, or not.
    await writeFile(file, result.stdout)
    const imageFile = join(net.dirs[0]!, 'sum.png')
    await writeFile(imageFile, bytes)
    const withImage = await runCli(['verify', file, '--image', imageFile, '--data-dir', net.dirs[1]!])
    assert.equal(withImage.code, 0, withImage.stdout)
    assert.match(withImage.stdout, /matches +answer, image hash, model, the image itself/)
    const otherImage = await runCli(['verify', file, '--image', fileURLToPath(new URL('../../test/fixtures/ocr/fraction.png', import.meta.url)), '--data-dir', net.dirs[1]!])
    assert.equal(otherImage.code, 1)
    assert.match(otherImage.stdout, /not-this-result.*SHA-256/)
    // An auditor names the network and its admin key instead of a data dir: this open network's certificate is not that network's.
    const auditor = await runCli(['verify', file, '--network', 'lab', '--admin-key', 'A'.repeat(43)])
    assert.equal(auditor.code, 1)
    assert.match(auditor.stdout, /foreign-network/)
    const badKey = await runCli(['verify', file, '--network', 'lab', '--admin-key', 'short'])
    assert.equal(badKey.code, 1)
    assert.match(badKey.stderr, /--admin-key must be/)

    // A member attaches that (valid) certificate to a wrong answer for another image: it certifies nothing.
    await net.nodes[1]!.stop()
    await net.nodes[2]!.stop()
    const t2 = await net.nodes[0]!.submit(await readFile(fileURLToPath(new URL('../../test/fixtures/ocr/fraction.png', import.meta.url))), { file: 'fraction.png', critical: true })
    assert.equal((await net.nodes[0]!.task(t2.id))?.quorum?.state, 'waiting', 'two of four online: it waits')
    await net.nodes[3]!.replica.putResult(t2.hash, { latex: cert.latex, confidence: 1, alternatives: [], model: cert.model, time: 0, certificate: cert })
    await net.nodes[3]!.replica.putResult(t2.hash, { latex: 'wrong', confidence: 1, alternatives: [], model: cert.model, time: 0, certificate: { ...cert, image: t2.hash } })
    await waitFor('the forged results to arrive', () => net.nodes[0]!.replica.results(t2.hash).size > 0)
    await new Promise(resolve => setTimeout(resolve, 300))
    const still = await net.nodes[0]!.task(t2.id)
    assert.equal(still?.state, 'queued')
    assert.equal(still?.result, undefined)
  })

  it('a member that names a voted task again with another image draws votes on that image, and no honest voter is framed as an equivocator', async () => {
    const net = await startNet([undefined, undefined, undefined, undefined])
    nets.push(net)
    const t = await net.nodes[0]!.submit(await image(), { file: 'sum.png', critical: true })
    assert.equal((await finished(net.nodes[0]!, t.id)).state, 'done')
    // Node 3 holds another image (a task of its own) and asks everyone to vote on it under the first task's id.
    const other = await readFile(fileURLToPath(new URL('../../test/fixtures/ocr/fraction.png', import.meta.url)))
    await net.nodes[3]!.submit(other, { file: 'fraction.png', critical: false })
    const voters = net.nodes.map(n => n.peerId.toString())
    const otherHash = sha256Hex(other)
    const votedOnOther = new Set<string>()
    net.nodes[3]!.libp2p.services.pubsub.addEventListener('message', (evt) => {
      if (evt.detail.topic !== 'texmesh/votes/1') return
      const msg = JSON.parse(new TextDecoder().decode(evt.detail.data)) as { kind: string, vote?: { image: string, voter: string } }
      if (msg.kind === 'vote' && msg.vote?.image === otherHash) votedOnOther.add(msg.vote.voter)
    })
    const ballot = { kind: 'ballot', task: t.id, image: otherHash, model: (await net.nodes[0]!.status()).model, file: 'fraction.png', voters, round: 1 }
    await net.nodes[3]!.libp2p.services.pubsub.publish('texmesh/votes/1', encodeJson(ballot))
    await waitFor('the honest nodes to vote on the other image', () => votedOnOther.size === 3, 20_000)
    await new Promise(resolve => setTimeout(resolve, 500))
    for (const n of net.nodes) {
      assert.deepEqual(n.replica.evidence(), [])
      assert.deepEqual((await n.peers()).filter(p => p.equivocated).map(p => p.id), [])
    }
    await stopNet(net)
    nets.splice(nets.indexOf(net), 1)
  })

  for (const attack of ['wrong', 'forge', 'equivocate', 'silent', 'replay', 'flood'] as const) {
    it(`one Byzantine voter of four (${attack}): the honest answer is certified`, async () => {
      const net = await startNet([undefined, undefined, undefined, attack])
      nets.push(net)
      // Ballots ask 2f+1 = 3 of the 4, the least loaded first: of three tasks at once, some ask the Byzantine one.
      const images = await Promise.all(['sum.png', 'fraction.png', 'one-formula.png'].map(async f => await readFile(fileURLToPath(new URL(`../../test/fixtures/ocr/${f}`, import.meta.url)))))
      const tasks = await Promise.all(images.map(async (bytes, i) => await net.nodes[0]!.submit(bytes, { file: `${i}.png`, critical: true })))
      const byzantine = net.nodes[3]!.peerId.toString()
      for (const [i, t] of tasks.entries()) {
        const done = await finished(net.nodes[0]!, t.id)
        assert.equal(done.state, 'done')
        assert.equal(done.result?.certificate?.latex, honest(images[i]!))
        assert.equal((await verifyQuorumCertificate(done.result?.certificate)).ok, true)
        // (A replayer's replays include its own honest vote on an earlier task, which counts if that task is still open.)
        if (attack === 'wrong' || attack === 'forge' || attack === 'silent') {
          assert.ok(!done.result!.certificate!.votes.some(v => v.voter === byzantine))
        }
      }
      assert.ok(net.nodes[3]!.quorumTimings().voter.readings > 0, 'the Byzantine node was asked to vote')
      if (attack === 'equivocate') {
        const peers = await net.nodes[0]!.peers()
        await waitFor('the equivocator flagged', async () => (await net.nodes[0]!.peers()).find(p => p.id === byzantine)?.equivocated === true)
        assert.equal(peers.length, 3)
        // The evidence is in the replicated store, so every node stops counting the equivocator.
        for (const n of net.nodes.slice(0, 3)) {
          await waitFor('evidence everywhere', () => n.replica.evidence().some(e => e.voter === byzantine && e.entry.votes.length === 2))
          await waitFor('flagged everywhere', async () => (await n.peers()).find(p => p.id === byzantine)?.equivocated === true)
        }
      }
      // the node still serves
      assert.ok((await net.nodes[0]!.status()).peers >= 3)
      await stopNet(net)
      nets.splice(nets.indexOf(net), 1)
    })
  }

  it('two colluding wrong voters of four (more than f): no certificate for the wrong answer, the task ends without consensus', async () => {
    const net = await startNet([undefined, undefined, 'wrong', 'wrong'], { quorumF: 1 })
    nets.push(net)
    const bytes = await image()
    const t = await net.nodes[0]!.submit(bytes, { file: 'sum.png', critical: true })
    const done = await finished(net.nodes[0]!, t.id)
    assert.equal(done.state, 'no-consensus')
    assert.equal(done.result, undefined)
    const latexes = (done.votes as SignedVote[]).map(v => v.latex).sort()
    assert.deepEqual(latexes, [honest(bytes), honest(bytes), wrongAnswer(honest(bytes)), wrongAnswer(honest(bytes))].sort())
    for (const n of net.nodes) assert.ok(![...n.replica.results(t.hash).values()].some(r => r.certificate != null))
  })

  it('a result less confident than --critical-below goes to a vote and comes back certified', async () => {
    // modelled recognition claims confidence 0.9
    const net = await startNet([undefined, undefined, undefined, undefined], { workers: 1, criticalBelow: 0.95 })
    nets.push(net)
    const bytes = await image()
    const t = await net.nodes[0]!.submit(bytes, { file: 'sum.png', critical: false })
    assert.equal(t.critical, false)
    const done = await finished(net.nodes[0]!, t.id)
    assert.equal(done.state, 'done')
    assert.equal(done.critical, true, 'made critical by its low confidence')
    assert.equal(done.result?.certificate?.latex, honest(bytes))
    await stopNet(net)
    nets.splice(nets.indexOf(net), 1)
  })

  it('too few members online: the task waits and says why', async () => {
    const net = await startNet([undefined, undefined])
    nets.push(net)
    const t = await net.nodes[0]!.submit(await image(), { file: 'sum.png', critical: true })
    const view = await net.nodes[0]!.task(t.id)
    assert.equal(view?.state, 'queued')
    assert.equal(view?.quorum?.state, 'waiting')
    assert.match(view?.quorum?.state === 'waiting' ? view.quorum.reason : '', /4 members needed for f = 1, 2 online/)
  })
})
