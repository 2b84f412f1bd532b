import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { request } from 'node:http'
import { DataDir } from '../node/datadir/datadir.js'
import { initNetwork, admit, joinNetwork } from '../node/datadir/network-admin.js'
import { encodeCertificateText } from '../protocols/membership/index.js'
import type { RunningNode } from '../node/daemon/start.js'
import { removeDir, runCli, startTestNode, tempDir, waitFor } from './helpers.js'

/** A raw request, so tests control every header (fetch adds its own Origin handling). */
async function call (port: number, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<{ status: number, json: any, headers: Record<string, string | string[] | undefined> }> {
  return await new Promise((resolve, reject) => {
    // A header given as '' is left out (a request without that header).
    const all = Object.fromEntries(Object.entries({ ...(body != null ? { 'content-type': 'application/json' } : {}), ...headers }).filter(([, v]) => v !== ''))
    const req = request({ host: '127.0.0.1', port, method, path, headers: all }, (res) => {
      let data = ''
      res.on('data', (d: Buffer) => { data += d.toString() })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, json: data === '' ? null : JSON.parse(data), headers: res.headers }) })
    })
    req.on('error', reject)
    req.setTimeout(10_000, () => req.destroy(new Error('request timed out')))
    req.end(body)
  })
}

describe('local HTTP API', { timeout: 60_000 }, () => {
  let adminDir: string
  let memberDir: string
  let admin: RunningNode
  let member: RunningNode
  let token: string

  before(async () => {
    adminDir = await tempDir()
    memberDir = await tempDir()
    const { invite } = await initNetwork(new DataDir(adminDir), 'api-lab', [])
    await joinNetwork(new DataDir(memberDir), invite)
    admin = await startTestNode(adminDir)
    member = await startTestNode(memberDir, { bootstrap: [admin.libp2p.getMultiaddrs()[0]!.toString()] })
    token = (await readFile(new DataDir(memberDir).paths.apiToken, 'utf8')).trim()
    await waitFor('the member to connect', () => member.libp2p.getPeers().length === 1)
  })

  after(async () => {
    await member?.stop()
    await admin?.stop()
    await removeDir(adminDir)
    await removeDir(memberDir)
  })

  it('serves status and peers as JSON', async () => {
    const status = await call(member.apiPort, 'GET', '/v1/status')
    assert.equal(status.status, 200)
    assert.equal(status.json.peerId, member.peerId.toString())
    assert.ok(status.json.addresses.length > 0 && status.json.addresses.every((a: string) => a.endsWith(`/p2p/${member.peerId.toString()}`)))
    assert.deepEqual(status.json.network, { name: 'api-lab', private: true, admin: member.network?.admin, membership: { state: 'none' } })
    assert.equal(status.json.peers, 1)

    const peers = await waitFor('the admin to appear as a member', async () => {
      const r = await call(member.apiPort, 'GET', '/v1/peers')
      return r.json[0]?.membership.state === 'member' ? r : undefined
    })
    assert.equal(peers.status, 200)
    assert.equal(peers.json.length, 1)
    assert.equal(peers.json[0].id, admin.peerId.toString())

    // Unknown calls and bodies without a type answer in the API's own shape.
    const unknown = await call(member.apiPort, 'GET', `/v1/nothing-${'x'.repeat(5000)}`)
    assert.equal(unknown.status, 404)
    assert.match(unknown.json.error, /^no such call: GET \/v1\/nothing-x+/)
    assert.ok(unknown.json.error.length < 400)
    // a known call with another method: 405, with the methods it takes
    const auth = { authorization: `Bearer ${token}` }
    const wrongMethod = await call(member.apiPort, 'GET', '/v1/ocr', auth)
    assert.equal(wrongMethod.status, 405)
    assert.equal(wrongMethod.headers.allow, 'POST')
    assert.match(wrongMethod.json.error, /GET is not a method of \/v1\/ocr \(it takes POST\)/)
    const wrongOnParam = await call(member.apiPort, 'DELETE', '/v1/tasks/some-id', auth)
    assert.equal(wrongOnParam.status, 405)
    assert.equal(wrongOnParam.headers.allow, 'GET, HEAD')
    assert.equal((await call(member.apiPort, 'DELETE', '/v1/tasks/some-id/more', auth)).status, 404)
    const untyped = await call(member.apiPort, 'POST', '/v1/ocr', { authorization: `Bearer ${token}`, 'content-type': 'text/plain' }, 'hello')
    assert.equal(untyped.status, 415)
    assert.match(untyped.json.error, /Content-Type image/)
  })

  it('refuses cross-origin browser requests and foreign Host headers', async () => {
    const refused: Array<Record<string, string>> = [{ origin: 'http://evil.example' }, { origin: 'null' }, { 'sec-fetch-site': 'cross-site' }]
    for (const headers of refused) {
      const r = await call(member.apiPort, 'GET', '/v1/status', headers)
      assert.equal(r.status, 403, JSON.stringify(headers))
      assert.match(r.json.error, /cross-origin/)
    }
    // DNS rebinding: a page on evil.example resolved to 127.0.0.1 still sends its own Host
    const rebound = await call(member.apiPort, 'GET', '/v1/status', { host: 'evil.example:7373' })
    assert.equal(rebound.status, 403)
    // a cross-origin request is refused even with the right token
    const withToken = await call(member.apiPort, 'POST', '/v1/membership/certificate', { origin: 'http://evil.example', authorization: `Bearer ${token}` }, '{}')
    assert.equal(withToken.status, 403)
  })

  it('guards calls that change something with the token from the data dir', async () => {
    const cert = encodeCertificateText(await admit(new DataDir(adminDir), member.peerId.toString()))
    const body = JSON.stringify({ certificate: cert })
    const missing = await call(member.apiPort, 'POST', '/v1/membership/certificate', {}, body)
    assert.equal(missing.status, 401)
    // Reads of what users submitted need the token too; status and peers do not.
    for (const path of ['/v1/tasks', '/v1/tasks/0mhxk3f2a0000-3fa9c1', `/v1/results/${'a'.repeat(64)}`, `/v1/reviews/${'a'.repeat(64)}`, '/v1/reviews', `/v1/images/${'a'.repeat(64)}`]) {
      assert.equal((await call(member.apiPort, 'GET', path)).status, 401, path)
      assert.notEqual((await call(member.apiPort, 'GET', path, { authorization: `Bearer ${token}` })).status, 401, path)
    }
    // However the path is spelt: the router decodes %-escapes, and so does the guard.
    for (const path of ['/v1/%74asks', '/v1/t%61sks/0mhxk3f2a0000-3fa9c1', `/v1/r%65sults/${'a'.repeat(64)}`, '/v1/events', '/v1/%65vents', '/v1/tasks?limit=1']) {
      assert.equal((await call(member.apiPort, 'GET', path)).status, 401, path)
    }
    assert.equal((await call(member.apiPort, 'GET', '/v1/status')).status, 200)
    assert.equal((await call(member.apiPort, 'GET', '/v1/stats')).status, 200)
    const wrong = await call(member.apiPort, 'POST', '/v1/membership/certificate', { authorization: 'Bearer nope' }, body)
    assert.equal(wrong.status, 401)
    assert.deepEqual((await call(member.apiPort, 'GET', '/v1/status')).json.network.membership, { state: 'none' })

    const bad = await call(member.apiPort, 'POST', '/v1/membership/certificate', { authorization: `Bearer ${token}` }, JSON.stringify({ certificate: 'texmesh-cert-v1:AAAA' }))
    assert.equal(bad.status, 400)
    // Refusals that say what this call takes: a JSON body (not an image), and no prototype keys.
    const untyped = await call(member.apiPort, 'POST', '/v1/membership/certificate', { authorization: `Bearer ${token}`, 'content-type': '' }, body)
    assert.equal(untyped.status, 415)
    assert.match(untyped.json.error, /JSON body/)
    const poisoned = await call(member.apiPort, 'POST', '/v1/membership/certificate', { authorization: `Bearer ${token}` }, '{"certificate": "x", "__proto__": {"admin": true}}')
    assert.equal(poisoned.status, 400)
    assert.match(poisoned.json.error, /__proto__/)
    // One name limit for both calls that take an image.
    const long = 'n'.repeat(600)
    const ocrLong = await call(member.apiPort, 'POST', `/v1/ocr?name=${long}`, { authorization: `Bearer ${token}`, 'content-type': 'image/png' }, 'not an image')
    assert.notEqual(ocrLong.status, 400, JSON.stringify(ocrLong.json))
    const ocrTooLong = await call(member.apiPort, 'POST', `/v1/ocr?name=${'n'.repeat(1025)}`, { authorization: `Bearer ${token}`, 'content-type': 'image/png' }, 'not an image')
    assert.equal(ocrTooLong.status, 400)
    assert.match(ocrTooLong.json.error, /at most 1024 characters/)
    // A node that is not a member may not review: the others would refuse its store writes.
    const review = JSON.stringify({ target: 'a'.repeat(64), latex: 'x' })
    const outsider = await call(member.apiPort, 'POST', '/v1/reviews', { authorization: `Bearer ${token}` }, review)
    assert.equal(outsider.status, 403)
    assert.match(outsider.json.error, /not a member of network api-lab/)
    const ok = await call(member.apiPort, 'POST', '/v1/membership/certificate', { authorization: `Bearer ${token}` }, body)
    assert.equal(ok.status, 200, JSON.stringify(ok.json))
    // A member may (this image has no result: nothing to review).
    assert.equal((await call(member.apiPort, 'POST', '/v1/reviews', { authorization: `Bearer ${token}` }, review)).status, 404)
    assert.equal(ok.json.peer, member.peerId.toString())
    // times are ISO 8601 strings, as everywhere in the API
    const iso = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/
    assert.match(ok.json.expiresAt, iso)
    assert.match(ok.json.issuedAt, iso)
    assert.equal(ok.json.signature, undefined)
    const own = (await call(member.apiPort, 'GET', '/v1/status')).json.network.membership
    assert.deepEqual(own, { state: 'member', expiresAt: ok.json.expiresAt })
    // the running node presents the new certificate to its peers at once
    await waitFor('the admin to see the member as a member', async () => (await admin.peers())[0]?.membership && ((await admin.peers())[0]!.membership as any).state === 'member')
    assert.deepEqual((await call(admin.apiPort, 'GET', '/v1/peers')).json[0].membership, { state: 'member', expiresAt: ok.json.expiresAt })
    // The members the store knows of: both nodes, with their certificates' dates.
    const members = await waitFor('both members in the admin\'s store', async () => {
      const r = await call(admin.apiPort, 'GET', '/v1/members')
      return r.json.length === 2 ? r.json : undefined
    })
    assert.deepEqual(members.map((m: { peer: string }) => m.peer).sort(), [admin.peerId.toString(), member.peerId.toString()].sort())
    for (const m of members) assert.equal(m.valid, true)
    assert.equal(members.find((m: { peer: string }) => m.peer === member.peerId.toString()).expiresAt, ok.json.expiresAt)
    const listed = await runCli(['network', 'members', '--data-dir', adminDir])
    assert.equal(listed.code, 0, listed.stderr)
    assert.match(listed.stdout, new RegExp(`${member.peerId.toString()}\\s+\\d{4}-\\d\\d-\\d\\d\\s+valid\\s+yes`))

    // A review the member writes as a member counts on the admin's node...
    const adminToken = (await readFile(new DataDir(adminDir).paths.apiToken, 'utf8')).trim()
    const reviewed = 'c'.repeat(64)
    await member.replica.putCorrection(reviewed, { latex: 'y', reviewed: { latex: 'x', model: 'm', confidence: 0.5, alternatives: [] }, time: Date.now() })
    const counted = await waitFor('the member\'s review on the admin\'s node', async () => {
      const r = await call(admin.apiPort, 'GET', `/v1/reviews/${reviewed}`, { authorization: `Bearer ${adminToken}` })
      return Array.isArray(r.json) && r.json.length === 1 ? r.json : undefined
    })
    assert.equal(counted[0].revoked, undefined)
    assert.equal((await call(admin.apiPort, 'GET', '/v1/stats')).json.find((s: { model: string }) => s.model === 'm')?.reviews, 1)

    // The admin revokes the member: it is no member from then on, on every node, whatever certificate it holds.
    const notAdmin = await runCli(['network', 'revoke', admin.peerId.toString(), '--data-dir', memberDir])
    assert.equal(notAdmin.code, 1)
    assert.match(notAdmin.stderr, /no admin key/)
    const revoked = await runCli(['network', 'revoke', member.peerId.toString(), '--data-dir', adminDir])
    assert.equal(revoked.code, 0, revoked.stderr)
    assert.match(revoked.stdout, /^texmesh-revoke-v1:\S+\n$/)
    assert.match(revoked.stderr, /the running node publishes it now/)
    const after = (await call(admin.apiPort, 'GET', '/v1/members')).json.find((m: { peer: string }) => m.peer === member.peerId.toString())
    assert.equal(after.valid, false)
    assert.match(after.revokedAt, /^\d{4}-/)
    assert.match((await runCli(['network', 'members', '--data-dir', adminDir])).stdout, /REVOKED/)
    // It reaches the member's replica too, and the admin takes no more store writes from it.
    await waitFor('the revocation in the member\'s store', async () => (await call(member.apiPort, 'GET', '/v1/revocations')).json.length === 1)
    // ...and no longer once it is revoked: listed, marked revoked, left out of what is served and of the statistics.
    const uncounted = await call(admin.apiPort, 'GET', `/v1/reviews/${reviewed}`, { authorization: `Bearer ${adminToken}` })
    assert.equal(uncounted.json[0].revoked, true)
    assert.equal((await call(admin.apiPort, 'GET', '/v1/stats')).json.find((s: { model: string }) => s.model === 'm'), undefined)
    assert.deepEqual((await call(admin.apiPort, 'GET', '/v1/reviews', { authorization: `Bearer ${adminToken}` })).json.filter((r: { hash: string }) => r.hash === reviewed), [])
    const hash = 'b'.repeat(64)
    await member.replica.putResult(hash, { latex: 'x', confidence: 0.5, alternatives: [], model: 'm', time: 1 })
    await new Promise(resolve => setTimeout(resolve, 1500))
    assert.equal(admin.replica.results(hash).size, 0, 'a revoked member\'s write is refused')
    // A bad revocation is refused with the reason.
    const forged = await call(admin.apiPort, 'POST', '/v1/membership/revocations', { authorization: `Bearer ${(await readFile(new DataDir(adminDir).paths.apiToken, 'utf8')).trim()}` }, JSON.stringify({ revocation: 'texmesh-revoke-v1:AAAA' }))
    assert.equal(forged.status, 400)
  })
})
