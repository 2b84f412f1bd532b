import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, readdir } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import sharp from 'sharp'
import type { ChildProcess } from 'node:child_process'
import type { RunningNode } from '../node/daemon/start.js'
import type { TaskView } from '../node/daemon/work.js'
import { DataDir } from '../node/datadir/datadir.js'
import { removeDir, runCli, SIMNET_NODE, spawnCli, startTestNode, tempDir, waitFor } from './helpers.js'

const HELDOUT = fileURLToPath(new URL('../../datasets/heldout-a/', import.meta.url))

async function heldoutImages (n: number): Promise<Array<{ file: string, bytes: Buffer }>> {
  const files = (await readdir(HELDOUT)).filter(f => /\.(png|jpg)$/.test(f)).sort().slice(0, n)
  return await Promise.all(files.map(async file => ({ file, bytes: await readFile(join(HELDOUT, file)) })))
}

async function waitDone (node: RunningNode, ids: string[], timeoutMs: number): Promise<TaskView[]> {
  return await waitFor(`${ids.length} tasks to finish`, async () => {
    const views = await Promise.all(ids.map(async id => await node.task(id)))
    return views.every(v => v?.state === 'done') ? views as TaskView[] : undefined
  }, timeoutMs, 100)
}

/** A node as a child process (so it can be killed with SIGKILL); resolves once it is up, with its peer id. */
async function spawnNode (dataDir: string, flags: string[]): Promise<{ child: ChildProcess, peerId: string }> {
  // simnet's node process: `texmesh node` that also takes --modelled-compute.
  const child = spawnCli(['node', '--data-dir', dataDir, '--listen', '/ip4/127.0.0.1/tcp/0', '--api-port', '0', '--no-mdns', '--log-level', 'warn', ...flags], undefined, SIMNET_NODE)
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString() })
  const peerId = await waitFor(`the node in ${dataDir} to start`, () => {
    if (child.exitCode != null) throw new Error(`node exited ${child.exitCode}: ${stderr}`)
    return /texmesh node (\S+) running/.exec(stderr)?.[1]
  }, 30_000)
  return { child, peerId }
}

async function killed (child: ChildProcess): Promise<void> {
  if (child.exitCode != null || child.signalCode != null) return
  const gone = new Promise(resolve => child.once('exit', resolve))
  child.kill('SIGKILL')
  await gone
}

describe('work sharing between real nodes', { timeout: 240_000 }, () => {
  const dirs: string[] = []
  const nodes: RunningNode[] = []
  const children: ChildProcess[] = []
  after(async () => {
    for (const c of children) await killed(c)
    for (const n of nodes) await n.stop().catch(() => {})
    for (const d of dirs) await removeDir(d)
  })
  const dir = async (): Promise<string> => { const d = await tempDir(); dirs.push(d); return d }

  it('60 images submitted to one of 3 nodes all complete with the shipped model, and every node did some', async () => {
    const a = await startTestNode(await dir(), { leaseMs: 60_000 })
    nodes.push(a)
    const addrA = a.libp2p.getMultiaddrs()[0]!.toString()
    const b = await startTestNode(await dir(), { bootstrap: [addrA], leaseMs: 60_000 })
    const c = await startTestNode(await dir(), { bootstrap: [addrA], leaseMs: 60_000 })
    nodes.push(b, c)
    await waitFor('the nodes to connect', () => a.libp2p.getPeers().length === 2)
    // gossipsub needs a heartbeat to form its mesh before load messages reach everyone
    await waitFor('the task topic mesh', () => a.libp2p.services.pubsub.getSubscribers('texmesh/tasks/1').length === 2)

    const images = await heldoutImages(60)
    const submitted: TaskView[] = []
    for (const img of images) submitted.push(await a.submit(img.bytes, { file: img.file, critical: false }))
    assert.equal(new Set(submitted.map(t => t.id)).size, 60)
    assert.ok(submitted.every(t => t.state === 'queued' || t.state === 'leased'))

    const done = await waitDone(a, submitted.map(t => t.id), 180_000)
    const byNode = new Map<string, number>()
    for (const t of done) {
      assert.ok(t.result != null, `${t.file} has a result`)
      byNode.set(t.result.by, (byNode.get(t.result.by) ?? 0) + 1)
    }
    for (const n of [a, b, c]) assert.ok((byNode.get(n.peerId.toString()) ?? 0) > 0, `node ${n.peerId.toString()} did some: ${JSON.stringify([...byNode])}`)

    // Whoever did it, the answer is the pipeline's: compare a few with a local run.
    for (const k of [0, 17, 42]) {
      const local = await a.ocr(images[k]!.bytes, { file: images[k]!.file })
      assert.equal(done[k]!.result!.latex, local.latex, images[k]!.file)
      assert.equal(done[k]!.result!.model, local.model)
    }
    // Every replica holds every result.
    for (const n of [b, c]) {
      await waitFor('results everywhere', () => done.every(t => n.replica.results(t.hash).size > 0), 30_000)
    }

    // The same bytes again: answered at once from the store.
    const again = await b.submit(images[5]!.bytes, { file: 'copy.png', critical: false })
    assert.equal(again.state, 'done')
    assert.equal(again.cached, true)
    assert.equal(again.result?.latex, done[5]!.result!.latex)
    // It stays known as answered from the store: asked for again, and listed.
    assert.equal((await b.task(again.id))?.cached, true)
    assert.equal((await b.tasks(10)).find(t => t.id === again.id)?.cached, true)
    const stats = a.taskStats()
    assert.equal(stats.queued, 0)
    assert.equal(stats.done, 60)
  })

  it('an image that cannot give a result fails on a lone node with the reason, after one retry, instead of going round for ever', async () => {
    const a = await startTestNode(await dir(), { workers: 1 })
    nodes.push(a)
    // 70 short strokes one under another: 70 formulas, more than a result may hold
    const rows = Array.from({ length: 70 }, (_, i) => ({ input: { create: { width: 24, height: 4, channels: 3 as const, background: '#000' } }, left: 20, top: 20 + i * 40 }))
    const bytes = await sharp({ create: { width: 80, height: 20 + 70 * 40, channels: 3, background: '#fff' } }).composite(rows).png().toBuffer()
    // The same image sent five times at once makes one task.
    const same = await Promise.all([1, 2, 3, 4, 5].map(async i => await a.submit(bytes, { file: `strokes${i}.png`, critical: false })))
    assert.equal(new Set(same.map(v => v.id)).size, 1)
    const t = same[0]!
    const view = await waitFor('the task to fail', async () => {
      const v = await a.task(t.id)
      return v?.state === 'failed' ? v : undefined
    }, 60_000)
    assert.equal(view.grants, 2)
    assert.deepEqual(view.failures.map(f => f.peer), [a.peerId.toString()])
    assert.match(view.failures[0]!.reason, /holds 70 formulas; a result holds at most 64/)
  })

  it('a worker killed mid-lease: the task is granted again and completes', async () => {
    const modelled = { modelledCompute: [20, 40] as [number, number] }
    const a = await startTestNode(await dir(), { workers: 0, leaseMs: 1500, ...modelled })
    nodes.push(a)
    const addrA = a.libp2p.getMultiaddrs()[0]!.toString()
    // B takes the task and sits on it (a minute per image) until it is killed.
    const b = await spawnNode(await dir(), ['--bootstrap', addrA, '--modelled-compute', '60000', '--lease-ms', '1500'])
    children.push(b.child)
    await waitFor('B to connect', () => a.libp2p.getPeers().some(p => p.toString() === b.peerId))
    await waitFor('B on the task topic', () => a.libp2p.services.pubsub.getSubscribers('texmesh/tasks/1').some(p => p.toString() === b.peerId))

    const [img] = await heldoutImages(1)
    const t = await a.submit(img!.bytes, { file: img!.file, critical: false })
    await waitFor('B to lease the task', async () => (await a.task(t.id))?.workers.includes(b.peerId), 20_000)
    await killed(b.child)

    const c = await startTestNode(await dir(), { bootstrap: [addrA], leaseMs: 1500, ...modelled })
    nodes.push(c)
    const [view] = await waitDone(a, [t.id], 30_000)
    // Granted again to C: as a backup while B's lease still ran, or after it ran out.
    assert.ok(view!.grants >= 2, `granted ${view!.grants} times`)
    assert.deepEqual(view!.workers.slice(0, 1), [b.peerId])
    assert.ok(view!.workers.includes(c.peerId.toString()))
    assert.equal(view!.result?.by, c.peerId.toString())
  })

  it('control characters in task and file names are shown escaped in human output, never sent to the terminal', async () => {
    const dirA = await dir()
    const a = await startTestNode(dirA, { workers: 0 })
    nodes.push(a)
    const fixtures = fileURLToPath(new URL('../../test/fixtures/ocr/', import.meta.url))
    await a.submit(await readFile(fixtures + 'sum.png'), { file: 'evil\n\u001b[31mRED', critical: false })
    const listed = await runCli(['tasks', '--data-dir', dirA], { timeoutMs: 30_000 })
    assert.equal(listed.code, 0, listed.stderr)
    assert.ok(!listed.stdout.includes('\u001b'), 'no escape character reaches the terminal')
    assert.match(listed.stdout, /evil\\x0a\\x1b\[31mRED/)
    assert.equal(listed.stdout.trim().split('\n').length, 2, 'one header and one row: no forged line')
    // The same name in --json is the name as it is.
    const json = await runCli(['tasks', '--data-dir', dirA, '--json'], { timeoutMs: 30_000 })
    assert.equal(JSON.parse(json.stdout.trim()).file, 'evil\n\u001b[31mRED')
    // A file name with one, read by texmesh ocr.
    const inputs = await dir()
    const { copyFile } = await import('node:fs/promises')
    await copyFile(fixtures + 'sum.png', join(inputs, 'x\u001b[2Jy.png'))
    const ocr = await runCli(['ocr', join(inputs, 'x\u001b[2Jy.png')], { timeoutMs: 60_000 })
    assert.equal(ocr.code, 0, ocr.stderr)
    assert.ok(!ocr.stdout.includes('\u001b'))
    assert.match(ocr.stdout, /x\\x1b\[2Jy\.png\t/)
  })

  it('a result says when the image is not something the model can read (an array), in the store and on the command line', async () => {
    const dirA = await dir()
    const a = await startTestNode(dirA)
    nodes.push(a)
    const matrix = fileURLToPath(new URL('../../test/fixtures/unreadable/matrix.png', import.meta.url))
    const r = await runCli(['submit', matrix, '--wait', '--data-dir', dirA], { timeoutMs: 90_000 })
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /confidence 0\.00, not read: an array of 2 rows and 2 columns/)
    const json = await runCli(['submit', matrix, '--wait', '--json', '--data-dir', dirA], { timeoutMs: 90_000 })
    const line = JSON.parse(json.stdout.trim())
    assert.equal(line.cached, true, 'answered from the store, which kept the reason')
    assert.equal(line.unreadable.reason, 'array')
    assert.equal(line.confidence, 0)
  })

  it('submit: a file over the size limit fails alone, and the files after it are submitted', async () => {
    const dirA = await dir()
    const a = await startTestNode(dirA, { workers: 0 })
    nodes.push(a)
    const inputs = await dir()
    const { writeFile, copyFile } = await import('node:fs/promises')
    const fixtures = fileURLToPath(new URL('../../test/fixtures/ocr/', import.meta.url))
    await copyFile(fixtures + 'sum.png', join(inputs, 'a.png'))
    await writeFile(join(inputs, 'b.png'), Buffer.alloc(34 * 1024 * 1024, 1))
    await copyFile(fixtures + 'fraction.png', join(inputs, 'c.png'))
    const r = await runCli(['submit', inputs, '--data-dir', dirA, '--json'], { timeoutMs: 60_000 })
    assert.equal(r.code, 1, r.stderr)
    const lines = r.stdout.trim().split('\n').map(l => JSON.parse(l) as { file: string, state?: string, reason?: string })
    assert.deepEqual(lines.map(l => [l.file.replace(inputs + '/', ''), l.state ?? l.reason]), [['a.png', 'queued'], ['b.png', 'too-large'], ['c.png', 'queued']])
  })

  it('an origin killed with SIGKILL resumes every unfinished task after restart', async () => {
    const dirA = await dir()
    const origin = await spawnNode(dirA, ['--workers', '0', '--modelled-compute', '20,40'])
    children.push(origin.child)
    const images = await heldoutImages(4)
    const inputs = await dir()
    const { writeFile } = await import('node:fs/promises')
    for (const img of images) await writeFile(join(inputs, img.file), img.bytes)
    const submit = await runCli(['submit', inputs, '--data-dir', dirA, '--json'], { timeoutMs: 30_000 })
    assert.equal(submit.code, 0, submit.stderr)
    const lines = submit.stdout.trim().split('\n').map(l => JSON.parse(l) as { id: string, state: string, file: string })
    assert.equal(lines.length, 4)
    assert.ok(lines.every(l => l.state === 'queued'))
    // A wait that runs out still prints every task (the same ones: the images are pending), then fails.
    const waited = await runCli(['submit', inputs, '--data-dir', dirA, '--json', '--wait', '--timeout', '1'], { timeoutMs: 30_000 })
    assert.equal(waited.code, 1)
    assert.match(waited.stderr, /4 of 4 tasks not finished after 1 s/)
    assert.deepEqual(waited.stdout.trim().split('\n').map(l => (JSON.parse(l) as { id: string }).id), lines.map(l => l.id))
    await killed(origin.child)
    await new DataDir(dirA).removeRuntime()

    const a = await startTestNode(dirA, { workers: 1, modelledCompute: [20, 40] })
    nodes.push(a)
    const done = await waitDone(a, lines.map(l => l.id), 30_000)
    assert.deepEqual(done.map(t => t.file), lines.map(l => l.file))
    assert.ok(done.every(t => t.result?.by === a.peerId.toString()))
  })
})
