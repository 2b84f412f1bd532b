import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { request } from 'node:http'
import { DataDir } from '../node/datadir/datadir.js'
import { Sessions, SIGNIN_CODE_MS, SESSION_IDLE_MS, cookieValue } from '../node/daemon/sessions.js'
import type { RunningNode } from '../node/daemon/start.js'
import { removeDir, runCli, startTestNode, tempDir } from './helpers.js'

interface Answer { status: number, body: string, json: any, headers: Record<string, string | string[] | undefined> }

/** A raw request, so the test controls every header; an event stream is read for `streamMs` and cut. */
async function call (port: number, method: string, path: string, headers: Record<string, string> = {}, body?: string, streamMs = 600): Promise<Answer> {
  return await new Promise((resolve, reject) => {
    const all = { ...(body != null ? { 'content-type': 'application/json' } : {}), ...headers }
    const req = request({ host: '127.0.0.1', port, method, path, headers: all }, (res) => {
      let data = ''
      const done = (): void => {
        let json: any = null
        try { json = JSON.parse(data) } catch {}
        resolve({ status: res.statusCode ?? 0, body: data, json, headers: res.headers })
      }
      res.on('data', (d: Buffer) => { data += d.toString() })
      res.on('end', done)
      if (String(res.headers['content-type']).startsWith('text/event-stream')) setTimeout(() => { req.destroy(); done() }, streamMs)
    })
    req.on('error', (err) => { if (!req.destroyed) reject(err) })
    req.setTimeout(10_000, () => req.destroy(new Error('request timed out')))
    req.end(body)
  })
}

describe('browser sessions', () => {
  it('codes are single-use and short-lived; sessions end when idle', () => {
    let now = 1_000_000
    const sessions = new Sessions(() => now)
    const { code } = sessions.createCode()
    const id = sessions.redeem(code)
    assert.ok(id != null && id.length >= 40)
    assert.equal(sessions.redeem(code), undefined, 'a code works once')
    assert.ok(sessions.valid(id))
    assert.equal(sessions.valid('forged'), false)
    const late = sessions.createCode().code
    now += SIGNIN_CODE_MS + 1
    assert.equal(sessions.redeem(late), undefined, 'an expired code does not work')
    now += SESSION_IDLE_MS + 1
    assert.equal(sessions.valid(id), false, 'an idle session ends')
    assert.equal(cookieValue('a=1; texmesh_session_7=xyz; b=2', 'texmesh_session_7'), 'xyz')
  })
})

describe('web interface sessions over HTTP', { timeout: 60_000 }, () => {
  let dir: string
  let node: RunningNode
  let token: string
  let port: number

  before(async () => {
    dir = await tempDir()
    node = await startTestNode(dir)
    port = node.apiPort
    token = (await readFile(new DataDir(dir).paths.apiToken, 'utf8')).trim()
  })

  after(async () => {
    await node?.stop()
    await removeDir(dir)
  })

  async function signIn (): Promise<string> {
    const link = await call(port, 'POST', '/v1/session-link', { authorization: `Bearer ${token}` }, '{}')
    assert.equal(link.status, 200)
    const url = new URL(link.json.url)
    const signin = await call(port, 'GET', url.pathname + url.search, { 'sec-fetch-site': 'none' })
    assert.equal(signin.status, 303)
    const cookie = String(signin.headers['set-cookie'])
    return cookie.split(';')[0]!
  }

  it('a sign-in link needs the token, works once, and sets a strict HttpOnly cookie', async () => {
    assert.equal((await call(port, 'POST', '/v1/session-link', {}, '{}')).status, 401)
    const link = await call(port, 'POST', '/v1/session-link', { authorization: `Bearer ${token}` }, '{}')
    assert.equal(link.status, 200)
    const url = new URL(link.json.url)
    assert.equal(url.origin, `http://127.0.0.1:${port}`)
    assert.equal(url.pathname, '/signin')
    assert.ok(Date.parse(link.json.expiresAt) - Date.now() <= SIGNIN_CODE_MS)

    const signin = await call(port, 'GET', url.pathname + url.search)
    assert.equal(signin.status, 303)
    assert.equal(signin.headers.location, '/')
    const cookie = String(signin.headers['set-cookie'])
    assert.match(cookie, new RegExp(`^texmesh_session_${port}=[A-Za-z0-9_-]{43}; HttpOnly; SameSite=Strict; Path=/$`))
    assert.equal((await call(port, 'GET', url.pathname + url.search)).status, 403, 'a used code')
    assert.equal((await call(port, 'GET', '/signin?code=made-up')).status, 403)
    assert.equal((await call(port, 'GET', '/signin')).status, 403)

    // A session that signed in may not mint links of its own: that takes the token.
    const session = cookie.split(';')[0]!
    assert.equal((await call(port, 'POST', '/v1/session-link', { cookie: session, 'x-texmesh': '1' }, '{}')).status, 401)
  })

  it('a session reads like the token; changes need X-Texmesh: 1; other origins are refused', async () => {
    const cookie = await signIn()
    const own = `http://127.0.0.1:${port}`
    assert.equal((await call(port, 'GET', '/v1/tasks')).status, 401)
    assert.deepEqual((await call(port, 'GET', '/v1/session')).json, { signedIn: false })
    assert.deepEqual((await call(port, 'GET', '/v1/session', { cookie })).json, { signedIn: true })
    const tasks = await call(port, 'GET', '/v1/tasks', { cookie, 'sec-fetch-site': 'same-origin' })
    assert.equal(tasks.status, 200)
    assert.deepEqual(tasks.json, [])
    assert.equal(tasks.headers['cache-control'], 'no-store')
    assert.equal((await call(port, 'GET', '/v1/tasks', { cookie: `texmesh_session_${port}=forged` })).status, 401)

    // A change: without the header refused, with it past authentication (then 400 for the empty body).
    const noHeader = await call(port, 'POST', '/v1/membership/certificate', { cookie, origin: own }, '{}')
    assert.equal(noHeader.status, 401)
    assert.match(noHeader.json.error, /x-texmesh: 1/)
    assert.equal((await call(port, 'POST', '/v1/membership/certificate', { cookie, origin: own, 'x-texmesh': '1' }, '{}')).status, 400)
    // The header alone is nothing.
    assert.equal((await call(port, 'POST', '/v1/membership/certificate', { 'x-texmesh': '1' }, '{}')).status, 401)

    // Only the API's own origin may send an Origin header; same-site is not same-origin.
    const foreign: Array<Record<string, string>> = [{ origin: 'http://evil.example' }, { origin: `http://localhost:${port}` }, { origin: `http://127.0.0.1:${port + 1}` }, { origin: 'null' }, { 'sec-fetch-site': 'same-site' }, { 'sec-fetch-site': 'cross-site' }]
    for (const headers of foreign) {
      const r = await call(port, 'POST', '/v1/membership/certificate', { cookie, 'x-texmesh': '1', ...headers }, '{}')
      assert.equal(r.status, 403, JSON.stringify(headers))
    }
    // localhost as the Host: then that is the own origin
    assert.equal((await call(port, 'GET', '/v1/tasks', { cookie, host: `localhost:${port}`, origin: `http://localhost:${port}` })).status, 200)

    // Signing out ends the session.
    assert.equal((await call(port, 'POST', '/v1/signout', { cookie, 'x-texmesh': '1' })).status, 200)
    assert.equal((await call(port, 'GET', '/v1/tasks', { cookie })).status, 401)
  })

  it('streams events to a session, not to strangers', async () => {
    assert.equal((await call(port, 'GET', '/v1/events')).status, 401)
    const cookie = await signIn()
    const stream = await call(port, 'GET', '/v1/events', { cookie }, undefined, 2500)
    assert.equal(stream.status, 200)
    assert.match(String(stream.headers['content-type']), /^text\/event-stream/)
    const status = stream.body.split('\n\n').find(e => e.startsWith('event: status'))
    assert.ok(status != null, stream.body.slice(0, 300))
    assert.equal(JSON.parse(status.split('\ndata: ')[1]!).peerId, node.peerId.toString())
  })

  it('texmesh open prints a sign-in link that works', async () => {
    const out = await runCli(['open', '--data-dir', dir, '--json'])
    assert.equal(out.code, 0, out.stderr)
    const link = JSON.parse(out.stdout)
    assert.equal(link.opened, false)
    const url = new URL(link.url)
    assert.equal((await call(port, 'GET', url.pathname + url.search)).status, 303)
  })
})
