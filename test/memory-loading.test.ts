/**
 * A node's memories are built from the store while the node serves (util/slices.ts): formula
 * search and search by image are refused as still loading until the build is done, changes that
 * arrive meanwhile are kept, and a stop in the middle ends the build.
 */
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { Replica } from '../crdt/replica.js'
import { FormulaMemory, MemoryLoadingError, MemoryUnavailableError } from '../node/daemon/memory.js'
import { ImageMemory } from '../node/daemon/image-memory.js'
import { createLog } from '../node/log.js'
import { giveWay, inSlices } from '../util/slices.js'
import { Backlog } from '../util/backlog.js'
import { canonicalize } from '../pipeline/latex/canonical.js'
import { sha256Hex } from '../util/sha256.js'
import { result, review, tempDirs } from './crdt-helpers.js'

const { dir, removeAll } = tempDirs()
const hashOf = (i: number): string => sha256Hex(new TextEncoder().encode(`loading test ${i}`))
const EMBEDDING = Buffer.from(Array.from({ length: 128 }, (_, k) => (k * 7) % 256)).toString('base64')

describe('memories built while the node serves', { timeout: 120_000 }, () => {
  after(removeAll)

  it('inSlices takes every item, lets the event loop turn between slices, reaches items added meanwhile, and stops when told', async () => {
    const items = new Map([[1, 'a'], [2, 'b'], [3, 'c']])
    const taken: string[] = []
    let turns = 0
    const timer = setInterval(() => { turns++ }, 0)
    const all = await inSlices(items.values(), v => {
      taken.push(v)
      if (v === 'a') items.set(4, 'd')
      const until = performance.now() + 3
      while (performance.now() < until) { /* a slow item */ }
    }, () => false, 1)
    clearInterval(timer)
    assert.equal(all, true)
    assert.deepEqual(taken, ['a', 'b', 'c', 'd'])
    assert.ok(turns >= 2, `${turns} timer turns while four slow items were taken`)
    let stop = false
    const some: number[] = []
    assert.equal(await inSlices([1, 2, 3, 4], v => { some.push(v); stop = v === 2 }, () => stop, 0), false)
    assert.deepEqual(some, [1, 2])
  })

  it('giving way between slices waits while urgent work is queued, until it has been away a while, and gives up waiting at its bound', async () => {
    // Counted in looks at busy(), one every 10 ms: quiet means three looks in a row find nothing queued.
    const looks = async (answers: boolean[], maxWaitMs = 500): Promise<number> => {
      let n = 0
      await giveWay(() => answers[Math.min(n++, answers.length - 1)]!, maxWaitMs)()
      return n
    }
    assert.equal(await looks([false]), 1, 'nothing queued: one look, no wait')
    assert.equal(await looks([true, true, false, true, false, false, false]), 7, 'busy, then away for three looks in a row')
    assert.equal(await looks([true], 100), 11, 'busy for good: it stops waiting after 100 ms')
    // inSlices pauses with it between slices.
    let pauses = 0
    assert.equal(await inSlices([1, 2, 3], () => {}, () => false, 0, async () => { pauses++ }), true)
    assert.equal(pauses, 3)
  })

  it('a backlog takes each key once with its latest value, waits while busy (a bounded while), drains at a stop', async () => {
    const taken: Array<[string, number]> = []
    let busy = true
    const backlog = new Backlog<number>((key, value) => { taken.push([key, value]) }, () => busy, 200)
    backlog.add('a', 1)
    backlog.add('b', 1)
    backlog.add('a', 2)
    await new Promise(resolve => setTimeout(resolve, 60))
    assert.deepEqual(taken, [], 'nothing is taken while the replica is busy')
    assert.equal(backlog.size, 2)
    // Busy for good: it goes on after its longest wait.
    await backlog.settled()
    assert.deepEqual(taken, [['b', 1], ['a', 2]])
    busy = false
    backlog.add('c', 3)
    await backlog.settled()
    assert.deepEqual(taken.at(-1), ['c', 3])
    // At a stop: what is pending is taken within the budget, then nothing more.
    busy = true
    backlog.add('d', 4)
    assert.equal(backlog.drain(1000), true)
    assert.deepEqual(taken.at(-1), ['d', 4])
    backlog.stop()
    backlog.add('e', 5)
    assert.equal(backlog.size, 0)
    await backlog.settled()
  })

  it('search is refused as loading until the store is taken; what arrives meanwhile is found; a stop ends the build', async () => {
    const replica = await Replica.open({ path: await dir(), key: await generateKeyPair('Ed25519') })
    const formulas = ['\\int_{0}^{1} x^{n} d x', 'e^{i \\pi}+1=0', '\\sum_{k=1}^{\\infty} \\frac{1}{k^{2}}']
    await Promise.all(formulas.map(async (latex, i) => { await replica.putResult(hashOf(i), { ...result(latex), embedding: EMBEDDING }) }))
    const memory = new FormulaMemory(replica, () => false, createLog('silent'))
    const images = new ImageMemory(replica)
    memory.begin()
    images.begin()
    assert.throws(() => memory.search(formulas[0]!, 1), MemoryLoadingError)
    assert.throws(() => { images.refuseWhileLoading() }, MemoryLoadingError)
    // Written while the build has not yet reached the store.
    await replica.putResult(hashOf(9), { ...result('a^{2}+b^{2}=c^{2}'), embedding: EMBEDDING })
    const started = await memory.ready
    await memory.settled()
    await images.ready
    // The write is in whether the walk reached it or the backlog took it after.
    assert.deepEqual([started.from, memory.size], ['built', 4])
    for (const latex of [...formulas, 'a^{2}+b^{2}=c^{2}']) assert.equal(memory.search(latex, 1)[0]?.latex, canonicalize(latex))
    images.refuseWhileLoading()
    assert.equal(images.size(), 4)
    memory.stop()
    images.stop()

    // From a saved copy, with entries rewritten while it loads: each formula once, and the copy it saves loads again.
    const dir2 = await dir()
    const many = Array.from({ length: 2000 }, (_, i) => `x^{${i}}+y_{${i % 7}}`)
    for (let i = 0; i < many.length; i += 500) await Promise.all(many.slice(i, i + 500).map(async (latex, k) => { await replica.putResult(hashOf(100 + i + k), result(latex)) }))
    const first = new FormulaMemory(replica, () => false, createLog('silent'), undefined, dir2)
    first.begin()
    const built = await first.ready
    first.stop()
    const loading = new FormulaMemory(replica, () => false, createLog('silent'), undefined, dir2)
    loading.begin()
    // Rewritten (a later time, as when a certificate is added) and written anew while it loads.
    const rewrites = Promise.all([0, 1999].map(async i => { await replica.putResult(hashOf(100 + i), result(many[i]!, 2)) }))
    await replica.putResult(hashOf(5000), result('z^{5000}'))
    await rewrites
    const again = await loading.ready
    assert.equal(again.from, 'saved')
    assert.equal(again.formulas, built.formulas + 1)
    for (const i of [0, 1999]) assert.deepEqual(loading.search(many[i]!, 3).filter(h => h.latex === canonicalize(many[i]!)).map(h => h.sourceCount), [1])
    // A node's result and its own review of one image share the store key: both are taken in.
    const same = hashOf(7000)
    await Promise.all([replica.putResult(same, result('q^{7000}')), replica.putCorrection(same, review('r^{7000}'))])
    await loading.settled()
    for (const latex of ['q^{7000}', 'r^{7000}']) assert.equal(loading.search(latex, 1)[0]?.latex, canonicalize(latex), latex)
    loading.stop()
    const third = new FormulaMemory(replica, () => false, createLog('silent'), undefined, dir2)
    third.begin()
    const last = await third.ready
    assert.deepEqual([last.from, last.unusable, last.formulas], ['saved', undefined, built.formulas + 3])
    third.stop()

    // A build that fails says why, in search and in `failed`, rather than loading for ever.
    const broken = Object.assign(Object.create(replica) as Replica, { eachResult: () => { throw new Error('the store could not be read') } })
    const failing = new FormulaMemory(broken, () => false, createLog('silent'))
    failing.begin()
    await assert.rejects(failing.ready, /could not be read/)
    assert.deepEqual([failing.loading, failing.failed], [false, 'the store could not be read'])
    assert.throws(() => failing.search('x', 1), (err: Error) => err instanceof MemoryUnavailableError && !(err instanceof MemoryLoadingError) && /could not be built \(the store could not be read\)/.test(err.message))
    failing.stop()

    // Stopped before its first slice: the build ends, and says so.
    const early = new FormulaMemory(replica, () => false, createLog('silent'))
    early.stop()
    await assert.rejects(early.ready, MemoryLoadingError)
    await nextTurn()
    await replica.close()
  })
})
