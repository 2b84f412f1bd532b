import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { TaskQueue } from '../protocols/tasks/queue.js'
import { MAX_FAILURES, MAX_LEASES_PER_PEER } from '../protocols/tasks/constants.js'
import { sha256Hex } from '../util/sha256.js'
import { removeDir, tempDir } from './helpers.js'

const image = (n: number): Uint8Array => new TextEncoder().encode(`image ${n}`)

describe('task queue (LevelDB)', () => {
  const dirs: string[] = []
  after(async () => { for (const d of dirs) await removeDir(d) })

  async function open (self = 'me', leaseMs = 1000, now = () => clock.t): Promise<{ q: TaskQueue, path: string }> {
    const dir = await tempDir()
    dirs.push(dir)
    const path = join(dir, 'tasks')
    return { q: await TaskQueue.open(path, { self, leaseMs, now }), path }
  }
  const clock = { t: 1_000_000 }

  it('grants oldest first, as many as asked and available, and keeps images by hash', async () => {
    const { q } = await open()
    const added = []
    for (let i = 0; i < 5; i++) added.push(await q.add(image(i), sha256Hex(image(i)), { file: `f${i}.png`, critical: false }))
    assert.equal(q.queued(), 5)
    const first = await q.grant('peerA', 2)
    assert.deepEqual(first.map(t => t.id), added.slice(0, 2).map(t => t.id))
    assert.ok(first.every(t => t.state === 'leased' && t.lease?.peer === 'peerA' && t.lease.expiresAt === clock.t + 1000))
    const rest = await q.grant('peerB', 10)
    assert.equal(rest.length, 3)
    assert.deepEqual(await q.grant('peerC', 1), [])
    assert.deepEqual(new Uint8Array(await q.blob(added[3]!.hash) ?? []), image(3))
    assert.equal(await q.blob('0'.repeat(64)), undefined)
    assert.equal(await q.blob('../etc/passwd'), undefined)
    await q.close()
  })

  it('grants a task again when its lease runs out, and counts it', async () => {
    const { q } = await open()
    const t = await q.add(image(1), sha256Hex(image(1)), { file: 'a.png', critical: false })
    await q.grant('peerA', 1)
    assert.equal(await q.expire(), 0)
    clock.t += 1001
    assert.equal(await q.expire(), 1)
    const again = await q.grant('peerB', 1)
    assert.equal(again[0]!.id, t.id)
    assert.equal(again[0]!.regrants, 1)
    assert.deepEqual(again[0]!.workers, ['peerA', 'peerB'])
    assert.equal(q.stats().regrants, 1)
    await q.close()
  })

  it('gives an idle worker one backup of a task another holds, only when nothing is queued', async () => {
    const { q } = await open()
    const t1 = await q.add(image(11), sha256Hex(image(11)), { file: 'a.png', critical: false })
    await q.grant('slow', 1)
    assert.deepEqual(await q.grant('slow', 1, { backups: true }), [], 'never a backup of its own lease')
    const t2 = await q.add(image(12), sha256Hex(image(12)), { file: 'b.png', critical: false })
    assert.deepEqual((await q.grant('fast', 1, { backups: true })).map(t => t.id), [t2.id], 'a queued task first')
    assert.equal(q.backupCandidates(), 2)
    const [b] = await q.grant('idle', 1, { backups: true })
    assert.equal(b?.id, t1.id, 'of two leases expected to end together, the first')
    assert.equal(b?.lease?.peer, 'slow', 'the first lease stays')
    assert.equal(b?.backup?.peer, 'idle')
    assert.deepEqual((await q.grant('idle2', 5, { backups: true })).map(t => t.id), [t2.id], 'one backup per task')
    assert.deepEqual(await q.grant('idle3', 1, { backups: true }), [])
    assert.deepEqual(await q.grant('idle3', 1), [], 'no backups unless asked')
    // A backup worker that gives up frees the task for another backup; the lease holder goes on.
    const freed = await q.release(t1.id, 'idle')
    assert.equal(freed?.state, 'leased')
    assert.equal(freed?.lease?.peer, 'slow')
    assert.equal(freed?.backup, undefined)
    assert.deepEqual((await q.grant('idle3', 1, { backups: true })).map(t => t.id), [t1.id])
    await q.fail(t1.id, 'idle3', 'could not read it')
    assert.equal((await q.get(t1.id))?.failures.length, 0, 'a backup worker\'s failure does not count against the task')
    await q.close()
  })

  it('backs up the task expected to finish last, and only for a worker that would finish it sooner unless it is overdue', async () => {
    const clk = { t: 5_000_000 }
    const { q } = await open('me', 60_000, () => clk.t)
    const add = async (n: number): Promise<string> => (await q.add(image(300 + n), sha256Hex(image(300 + n)), { file: `${n}.png`, critical: false })).hash
    // Teach the queue each worker's turnaround: fast 1 s, slow 3 s.
    const h1 = await add(1)
    const h2 = await add(2)
    await q.grant('fast', 1)
    await q.grant('slow', 1)
    clk.t += 1000
    await q.complete(h1, 'fast', { ms: 1000 })
    clk.t += 2000
    await q.complete(h2, 'slow', { ms: 3000 })
    // fast takes a task, then slow does; nothing else is queued.
    await add(3)
    const [onFast] = await q.grant('fast', 1)
    clk.t += 100
    await add(4)
    const [onSlow] = await q.grant('slow', 1)
    clk.t += 100
    // fast's lease is the older one, but slow's (3 s turnaround) is expected to end last: backed up first.
    assert.deepEqual((await q.grant('fast2', 1, { backups: true })).map(t => t.id), [onSlow!.id])
    // A worker as slow as the holder would not finish fast's task sooner: no backup for it.
    assert.deepEqual(await q.grant('slow', 1, { backups: true }), [], 'slow would not beat fast')
    assert.equal(q.backupCandidates(), 1)
    // Once fast's task is overdue (fast is stuck), any worker may back it up.
    clk.t += 2000
    assert.deepEqual((await q.grant('slow', 1, { backups: true })).map(t => t.id), [onFast!.id], 'an overdue task')
    await q.close()
  })

  it('is done when any result for its image exists, even a late duplicate', async () => {
    const { q } = await open()
    const h = sha256Hex(image(7))
    const t1 = await q.add(image(7), h, { file: 'a.png', critical: false })
    assert.equal(q.pendingFor(h)?.id, t1.id)
    await q.grant('peerA', 1)
    const done = await q.complete(h, 'peerB')
    assert.deepEqual(done.map(t => [t.id, t.state, t.doneBy]), [[t1.id, 'done', 'peerB']])
    assert.equal(q.pendingFor(h), undefined)
    assert.deepEqual(await q.complete(h, 'peerA'), [], 'a second result changes nothing')
    assert.equal((await q.get(t1.id))?.state, 'done')
    assert.equal(await q.get('nonsense'), undefined)
    await q.close()
  })

  it('fails a task for good after failure reports from distinct workers, and only from the lease holder', async () => {
    const { q } = await open()
    const t = await q.add(image(9), sha256Hex(image(9)), { file: 'a.png', critical: false })
    await q.grant('peerA', 1)
    assert.equal(await q.fail(t.id, 'peerB', 'not mine'), undefined, 'a peer without the lease is ignored')
    assert.equal((await q.fail(t.id, 'peerA', 'bad'))?.state, 'queued')
    assert.deepEqual(await q.grant('peerA', 1), [], 'a worker that failed a task is not granted it again')
    assert.equal((await q.get(t.id))?.state, 'queued')
    for (let i = 2; i <= MAX_FAILURES; i++) {
      assert.equal((await q.grant(`peer${i}`, 1)).length, 1)
      clock.t += 5000 // overdue: a backup would be granted to anyone else
      assert.deepEqual(await q.grant('peerA', 1, { backups: true }), [], 'nor as a backup')
      assert.equal((await q.fail(t.id, `peer${i}`, `bad ${i}`))?.state, i < MAX_FAILURES ? 'queued' : 'failed')
    }
    assert.equal(q.stats().failed, 1)
    assert.equal(q.queued(), 0)
    await q.close()
  })

  it('fails a task for good when the origin itself fails it twice, so a lone node does not retry it for ever', async () => {
    const { q } = await open()
    const t = await q.add(image(10), sha256Hex(image(10)), { file: 'a.png', critical: false })
    assert.equal((await q.grant('me', 1)).length, 1)
    assert.equal((await q.fail(t.id, 'me', 'output too long'))?.state, 'queued', 'one retry for a passing fault')
    assert.equal((await q.grant('me', 1)).length, 1, 'the origin may try its own task again')
    const failed = await q.fail(t.id, 'me', 'output too long')
    assert.equal(failed?.state, 'failed')
    assert.deepEqual(failed?.failures, [{ peer: 'me', reason: 'output too long' }])
    assert.deepEqual(await q.grant('me', 1), [])
    await q.close()
  })

  it('gives one worker at most MAX_LEASES_PER_PEER leases at a time', async () => {
    const { q } = await open()
    for (let i = 0; i < MAX_LEASES_PER_PEER + 4; i++) await q.add(image(100 + i), sha256Hex(image(100 + i)), { file: `${i}.png`, critical: false })
    assert.equal((await q.grant('greedy', 16)).length, MAX_LEASES_PER_PEER)
    assert.equal((await q.grant('greedy', 1)).length, 0)
    assert.equal((await q.grant('me', 16)).length, 4, 'the node itself is not capped')
    await q.close()
  })

  it('takes a task back without blame from the lease holder only', async () => {
    const { q } = await open()
    const t = await q.add(image(21), sha256Hex(image(21)), { file: 'a.png', critical: false })
    await q.grant('peerA', 1)
    assert.equal(await q.release(t.id, 'peerB'), undefined)
    const back = await q.release(t.id, 'peerA')
    assert.equal(back?.state, 'queued')
    assert.deepEqual(back?.failures, [])
    assert.equal(q.queued(), 1)
    await q.close()
  })

  it('keeps queue, leases and images across a restart; its own leases come back at once', async () => {
    const { q, path } = await open('me')
    const a = await q.add(image(1), sha256Hex(image(1)), { file: 'a.png', critical: false })
    const b = await q.add(image(2), sha256Hex(image(2)), { file: 'b.png', critical: false })
    const c = await q.add(image(3), sha256Hex(image(3)), { file: 'c.png', critical: false })
    await q.grant('me', 1) // a: leased to this node, which then dies
    await q.grant('other', 1) // b: leased to a peer
    await q.complete(c.hash, 'other')
    await q.close()

    const again = await TaskQueue.open(path, { self: 'me', leaseMs: 1000, now: () => clock.t })
    const byId = new Map(again.unfinished().map(t => [t.id, t]))
    assert.equal(byId.get(a.id)?.state, 'queued', 'own lease returned to the queue')
    assert.equal(byId.get(b.id)?.state, 'leased', "a peer's lease runs its course")
    assert.equal(byId.has(c.id), false)
    assert.equal((await again.get(c.id))?.state, 'done')
    assert.deepEqual(new Uint8Array(await again.blob(b.hash) ?? []), image(2))
    assert.deepEqual(again.stats(), { queued: 1, leased: 1, done: 1, failed: 0, regrants: 0, grants: 2 }, 'the two leases granted are counted after the restart')
    assert.deepEqual((await again.list(10)).map(t => t.id), [c.id, b.id, a.id], 'newest first')
    await again.close()
  })
})
