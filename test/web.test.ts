/**
 * The web interface in a real browser: Debian's chromium (CHROMIUM, default /usr/bin/chromium),
 * driven by puppeteer-core, against a real node with the shipped model and three peers (also
 * with the shipped model), so that a critical task gets a quorum certificate (f = 1, 4 voters).
 * Screenshots go to test-artifacts/web/ (git-ignored). Without chromium it fails, saying so:
 * .ci/run installs it.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import puppeteer, { type Browser, type ElementHandle, type Page } from 'puppeteer-core'
import { DataDir } from '../node/datadir/datadir.js'
import type { RunningNode } from '../node/daemon/start.js'
import { removeDir, startTestNode, tempDir, waitFor } from './helpers.js'

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium'
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/web/', import.meta.url))
const FIXTURE = fileURLToPath(new URL('../../test/fixtures/ocr/sum.png', import.meta.url))
const FIXTURE_TASK = fileURLToPath(new URL('../../test/fixtures/ocr/fraction.png', import.meta.url))
const FIXTURE_PDF = fileURLToPath(new URL('../../test/fixtures/documents/two-pages.pdf', import.meta.url))

describe('web interface in chromium', { timeout: 180_000 }, () => {
  let dir: string
  let profile: string
  let node: RunningNode
  const peers: Array<{ dir: string, node: RunningNode }> = []
  let browser: Browser
  let page: Page
  let base: string
  let token: string

  const shot = async (name: string): Promise<void> => { await page.screenshot({ path: `${ARTIFACTS}${name}.png` }) }
  /**
   * page.waitForFunction, and on a timeout what the page shows and what the node answers for its
   * documents (with a bound of its own: an answer that never comes is said so).
   */
  const waitOnPage = async (what: string, fn: () => boolean, timeout: number): Promise<void> => {
    try {
      await page.waitForFunction(fn, { timeout })
    } catch (err) {
      const shown = await page.evaluate(() => document.querySelector('main')?.innerText ?? '').catch((e: Error) => `(page unreadable: ${e.message})`)
      const answer = await fetch(base + '/v1/documents?limit=5', { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(5_000) })
        .then(async r => `${r.status} ${await r.text()}`, (e: Error) => `(no answer in 5 s: ${e.message})`)
      throw new Error(`${what}: ${(err as Error).message}\n--- the page shows:\n${shown.slice(0, 3000)}\n--- GET /v1/documents:\n${answer.slice(0, 4000)}`)
    }
  }

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `no chromium at ${CHROMIUM}: install Debian's chromium (apt-get install chromium), as .ci/run does, or set CHROMIUM`)
    await mkdir(ARTIFACTS, { recursive: true })
    dir = await tempDir()
    profile = await tempDir('texmesh-chromium-')
    node = await startTestNode(dir)
    const bootstrap = [node.libp2p.getMultiaddrs()[0]!.toString()]
    for (let i = 0; i < 3; i++) {
      const peerDir = await tempDir()
      peers.push({ dir: peerDir, node: await startTestNode(peerDir, { bootstrap }) })
    }
    const all = [node, ...peers.map(p => p.node)]
    await waitFor('a full mesh of four', () => all.every(x => x.libp2p.getPeers().length === 3), 30_000)
    await waitFor('the vote topic mesh', () => all.every(x => x.libp2p.services.pubsub.getSubscribers('texmesh/votes/1').length === 3), 20_000)
    base = `http://127.0.0.1:${node.apiPort}`
    token = (await readFile(new DataDir(dir).paths.apiToken, 'utf8')).trim()
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      userDataDir: profile,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']
    })
    page = await browser.newPage()
    await page.setViewport({ width: 1280, height: 800 })
  })

  after(async () => {
    await browser?.close()
    await node?.stop()
    for (const p of peers) await p.node.stop()
    await removeDir(dir)
    for (const p of peers) await removeDir(p.dir)
    await removeDir(profile)
  })

  it('refuses a browser without a session', async () => {
    await page.goto(base + '/')
    await page.waitForSelector('[data-testid=signed-out]')
    const csp = (await page.goto(base + '/'))?.headers()['content-security-policy']
    assert.match(csp ?? '', /default-src 'self'/)
    await page.waitForSelector('[data-testid=signed-out]')
    const answer = await page.evaluate(async () => {
      const r = await fetch('/v1/tasks')
      const w = await fetch('/v1/ocr', { method: 'POST', headers: { 'x-texmesh': '1', 'content-type': 'image/png' }, body: new Uint8Array([1]) })
      return [r.status, w.status]
    })
    assert.deepEqual(answer, [401, 401])
    await shot('signed-out')
  })

  it('signs in through the link of texmesh open', async () => {
    const link = await (await fetch(base + '/v1/session-link', { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{}' })).json() as { url: string }
    await page.goto(link.url)
    assert.equal(page.url(), base + '/')
    await page.waitForSelector('nav a[aria-current=page]')
    const cookies = await browser.cookies()
    const session = cookies.find(c => c.name === `texmesh_session_${node.apiPort}`)
    assert.ok(session != null && session.httpOnly && session.sameSite === 'Strict')
    // The cookie is not readable by the page.
    assert.equal(await page.evaluate(() => document.cookie), '')
  })

  it('reads a dropped image: the typeset answer, its source, confidence and boxes', async () => {
    const bytes = (await readFile(FIXTURE)).toString('base64')
    await page.evaluate((b64: string) => {
      const data = Uint8Array.from(atob(b64), c => c.charCodeAt(0))
      const transfer = new DataTransfer()
      transfer.items.add(new File([data], 'sum.png', { type: 'image/png' }))
      document.querySelector('[data-testid=drop]')!.dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }))
    }, bytes)
    await page.waitForSelector('.reading.done .answer .katex', { timeout: 60_000 })
    const seen = await page.evaluate(() => ({
      source: document.querySelector('.reading .source code')?.textContent ?? '',
      confidence: document.querySelector('.reading .confidence')?.textContent ?? '',
      boxes: document.querySelectorAll('.reading svg rect').length,
      box: ['x', 'y', 'width', 'height'].map(k => Number(document.querySelector('.reading svg rect')?.getAttribute(k))),
      katexFont: getComputedStyle(document.querySelector('.reading .katex')!).fontFamily
    }))
    assert.ok(seen.source.length > 0)
    assert.match(seen.confidence, /confidence [01]\.\d\d/)
    assert.ok(seen.boxes >= 1)
    // The box is the pipeline's region, in the image's pixels (sum.png's formula is at 16,12, 49 x 72).
    const regions = (await node.ocr(await readFile(FIXTURE), { file: 'sum.png' })).regions
    assert.deepEqual(seen.box, [regions[0]!.bbox.x, regions[0]!.bbox.y, regions[0]!.bbox.width, regions[0]!.bbox.height])
    assert.match(seen.katexFont, /KaTeX_Main/)
    await shot('read')
    await page.emulateMediaFeatures([{ name: 'prefers-color-scheme', value: 'dark' }])
    await shot('read-dark')
    await page.emulateMediaFeatures([{ name: 'prefers-color-scheme', value: 'light' }])
  })

  it('submits a task and follows it live to done', async () => {
    await page.click('nav a[href="#/tasks"]')
    const input = await page.waitForSelector('form.submit input[type=file]')
    await input!.uploadFile(FIXTURE_TASK)
    await page.click('form.submit button[type=submit]')
    await page.waitForFunction(() => document.querySelector('[data-testid=task-state]')?.textContent === 'done', { timeout: 60_000 })
    await page.waitForSelector('.details .answer .katex')
    const row = await page.evaluate(() => document.querySelector('table.tasks tbody tr')?.getAttribute('data-state'))
    assert.equal(row, 'done')
    await shot('tasks')
  })

  it('opens a critical task\'s certificate, with its voters, and verifies it', async () => {
    const input = await page.waitForSelector('form.submit input[type=file]')
    await input!.uploadFile(FIXTURE)
    await page.click('form.submit input[type=checkbox]')
    await page.click('form.submit button[type=submit]')
    // The newest task is selected; its details follow it live to a certificate.
    await page.waitForFunction(() => document.querySelector('.details h3')?.textContent?.startsWith('sum.png') === true &&
      document.querySelector('[data-testid=task-state]')?.textContent === 'done', { timeout: 90_000 })
    await page.waitForSelector('.details section.certificate')
    const voters = await page.evaluate(() => Array.from(document.querySelectorAll('.details section.certificate tbody tr')).map(r => r.textContent ?? ''))
    assert.ok(voters.length >= 3, `${voters.length} voters shown`)
    const ids = [node, ...peers.map(p => p.node)].map(n => n.peerId.toString())
    const shown = (await page.evaluate(() => Array.from(document.querySelectorAll('.details section.certificate tbody tr td:first-child [title]')).map(e => e.getAttribute('title') ?? '')))
    assert.ok(shown.length >= 3 && shown.every(v => ids.includes(v)), `voters ${shown.join(', ')} are the four nodes'`)
    await page.click('.details section.certificate button')
    await page.waitForSelector('[data-testid=verified]')
    const verdict = await page.evaluate(() => ({ cls: document.querySelector('[data-testid=verified]')!.className, text: document.querySelector('[data-testid=verified]')!.textContent ?? '' }))
    assert.equal(verdict.cls, 'ok', verdict.text)
    assert.match(verdict.text, /The certificate holds: \d signed votes agree; matches answer, image hash, model/)
    await shot('certificate')
  })

  it('corrects a result in the inline editor, with a live preview; every page then shows the correction, and the Reviews page counts it', async () => {
    await page.click('button[aria-label="details of fraction.png"]')
    await page.waitForSelector('[data-testid=review-state]')
    const model = await page.evaluate(() => document.querySelector('.details .source code')?.textContent ?? '')
    await page.click('[data-testid=correct]')
    const box = await page.waitForSelector('.editor textarea')
    // What does not parse cannot be saved, and says why.
    await box!.click({ count: 3 })
    await page.keyboard.press('Backspace')
    await box!.type('\\frac{1}{')
    await page.waitForFunction(() => document.querySelector('[data-testid=preview] .error')?.textContent?.startsWith('Does not parse') === true)
    assert.equal(await page.evaluate(() => (document.querySelector('.editor button[type=submit]') as HTMLButtonElement).disabled), true)
    await box!.type('2}+x')
    await page.waitForSelector('[data-testid=preview] .katex')
    await shot('review-editor')
    await page.click('.editor button[type=submit]')
    await page.waitForSelector('[data-testid=reviewed]')
    // The event stream brings the task back corrected: the answer is the correction, the model's answer beside it.
    await page.waitForSelector('[data-testid=review-state][data-state=corrected]', { timeout: 10_000 })
    const seen = await page.evaluate(() => ({ source: document.querySelector('.details .source code')?.textContent ?? '', confidence: document.querySelector('.details .meta .confidence')?.textContent ?? '' }))
    assert.equal(seen.source, '\\frac{1}{2}+x')
    assert.match(seen.confidence, /confidence 1\.00/)
    assert.notEqual(model, seen.source)
    const task = (await node.tasks(10)).find(t => t.file === 'fraction.png')!
    assert.equal(task.result?.review?.state, 'corrected')
    assert.deepEqual(task.result?.review?.by, [node.peerId.toString()])
    await shot('review')

    await page.click('nav a[href="#/reviews"]')
    await page.waitForSelector('[data-testid=model-stats]')
    const stats = await page.evaluate(() => ({ text: document.querySelector('[data-testid=model-stats]')?.textContent ?? '', bars: document.querySelectorAll('.plot rect.bar').length }))
    assert.match(stats.text, /reviews1/)
    assert.match(stats.text, /accuracy0\.0 % of reviewed answers/)
    assert.equal(stats.bars, 1)
    await shot('reviews')
  })

  it('searches what the network has read: the correction just made comes first, marked as a correction', async () => {
    await page.click('nav a[href="#/search"]')
    const box = await page.waitForSelector('#query')
    await box!.type('\\frac{1}{2}+y')
    await page.waitForSelector('.editor .preview .katex')
    await page.click('form[role=search] button[type=submit]')
    await page.waitForSelector('[data-testid=hit]')
    const first = await page.evaluate(() => {
      const hit = document.querySelector('[data-testid=hit]')!
      return { source: hit.querySelector('.source code')?.textContent ?? '', tags: Array.from(hit.querySelectorAll('.tag')).map(t => t.textContent) }
    })
    assert.equal(first.source, '\\frac{1}{2}+x')
    assert.ok(first.tags.includes('a correction'), first.tags.join(', '))
    await shot('search')

    // By image: the image read as a task comes back first, with its correction, marked as one.
    const input = await page.waitForSelector('input[data-testid=search-image]') as ElementHandle<HTMLInputElement> | null
    await input!.uploadFile(FIXTURE_TASK)
    await page.waitForFunction(() => /of the \d+ images/.test(document.querySelector('[data-testid=search-summary]')?.textContent ?? ''), { timeout: 30_000 })
    const byImage = await page.evaluate(() => ({
      summary: document.querySelector('[data-testid=search-summary]')?.textContent ?? '',
      first: document.querySelector('[data-testid=hit] .source code')?.textContent ?? '',
      score: document.querySelector('[data-testid=hit] h3')?.textContent ?? '',
      tags: Array.from(document.querySelectorAll('[data-testid=hit]:first-child .tag')).map(t => t.textContent)
    }))
    assert.equal(byImage.first, '\\frac{1}{2}+x')
    assert.match(byImage.score, /^(1\.000|0\.99\d)/)
    assert.ok(byImage.tags.includes('a correction'), byImage.tags.join(', '))
  })

  it('hands a PDF to the network on the Documents page, and shows its formulas in reading order as they are read', async () => {
    await page.click('nav a[href="#/documents"]')
    const input = await page.waitForSelector('form.submit input[type=file]') as ElementHandle<HTMLInputElement> | null
    await input!.uploadFile(FIXTURE_PDF)
    await page.click('form.submit button[type=submit]')
    await page.waitForFunction(() => document.querySelector('[data-testid=document-progress]')?.textContent?.startsWith('done: 2 of 2 pages done, 7 formulas') === true, { timeout: 60_000 })
    // Each formula is typeset once its answer is in (KaTeX runs as the answers arrive).
    await page.waitForFunction(() => Array.from(document.querySelectorAll('[data-testid=document-formula]')).every(li => li.querySelector('.katex') != null), { timeout: 10_000 })
    const formulas = await page.evaluate(() => Array.from(document.querySelectorAll('[data-testid=document-formula]')).map(li => ({
      head: li.querySelector('h4')?.textContent ?? '',
      source: li.querySelector('.source code')?.textContent ?? '',
      typeset: li.querySelector('.katex') != null
    })))
    assert.equal(formulas.length, 7)
    assert.match(formulas[4]!.head, /^page 1, display · done · /)
    assert.equal(formulas[4]!.source, 'E=mc^{2}')
    assert.ok(formulas.every(f => f.typeset))
    // The export links give the document as Markdown, with the session the page has.
    const markdown = await page.evaluate(async () => await (await fetch(document.querySelector<HTMLAnchorElement>('a[download$=".md"]')!.href)).text())
    assert.match(markdown, /\$\$\nE=mc\^\{2\}\n\$\$/)
    await shot('documents')
    // A document that needs nothing has no retry; a refused one is tried again from the page, and refused again with its reason.
    assert.equal(await page.$('[data-testid=retry]'), null)
    const bad = join(tmpdir(), `texmesh-web-bad-${process.pid}.pdf`)
    await writeFile(bad, '%PDF-1.4 and then nothing')
    try {
      await input!.uploadFile(bad)
      await page.click('form.submit button[type=submit]')
      await waitOnPage('the refusal of a broken PDF', () => document.querySelector('.details .error[role=status]')?.textContent?.includes('cannot be opened as a PDF') === true, 30_000)
      const [retried] = await Promise.all([page.waitForResponse(r => r.url().endsWith('/retry') && r.request().method() === 'POST'), page.click('[data-testid=retry]')])
      assert.equal(retried.status(), 200)
      assert.equal((await retried.json() as { state: string }).state, 'preparing')
      // The page shows the node's answer (preparing, and the delete button off) until its next look at the list, 2 s on.
      await waitOnPage('the retried PDF preparing', () => document.querySelector('[data-testid=document-progress]')?.textContent?.startsWith('preparing') === true &&
        document.querySelector<HTMLButtonElement>('[data-testid=delete]')?.disabled === true, 10_000)
      await waitOnPage('the refusal of the retried PDF', () => document.querySelector('[data-testid=document-progress]')?.textContent?.startsWith('refused') === true &&
        document.querySelector('.details .error[role=status]') != null && document.querySelector<HTMLButtonElement>('[data-testid=delete]')?.disabled === false, 30_000)
      assert.equal(await page.$('.details [role=alert]'), null)
      // Deleted from the page, once confirmed: gone from the list.
      const rows = (await page.$$('table.tasks tbody tr')).length
      page.once('dialog', dialog => { void dialog.accept() })
      const [deleted] = await Promise.all([page.waitForResponse(r => r.request().method() === 'DELETE'), page.click('[data-testid=delete]')])
      assert.equal(deleted.status(), 200)
      await page.waitForFunction((n: number) => document.querySelectorAll('table.tasks tbody tr').length === n - 1 && document.querySelector('.details') == null, { timeout: 10_000 }, rows)
    } finally {
      await rm(bad, { force: true })
    }
  })

  it('shows the network page: this node, and each peer\'s load, workers and model', async () => {
    await page.click('nav a[href="#/network"]')
    await page.waitForSelector('[data-testid=load]', { timeout: 10_000 })
    const text = await page.evaluate(() => document.querySelector('main')?.textContent ?? '')
    assert.ok(text.includes(node.peerId.toString()))
    // Peers say their load on joining the task topic and then every 30 s; the page refreshes with each status.
    const rows = await page.waitForFunction(() => {
      const cells = Array.from(document.querySelectorAll('[data-testid=peer]')).map(r => [r.querySelector('[data-testid=peer-load]')?.textContent ?? '', r.querySelector('[data-testid=peer-model]')?.textContent ?? ''])
      return cells.length === 3 && cells.every(([load]) => load !== 'not heard yet') ? cells : false
    }, { timeout: 20_000 }).then(async h => await h.jsonValue() as string[][])
    const { model, tasks } = await peers[0]!.node.status()
    for (const [load, shownModel] of rows) {
      assert.match(load!, new RegExp(`^\\d/${tasks!.capacity} busy, \\d+ queued`))
      assert.ok(shownModel!.endsWith(`, ${model!}`), shownModel)
    }
    await shot('network')
  })
})
