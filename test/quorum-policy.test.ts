import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { ballotsInFlight, countedVotes, dissentNow, FairSlots, median, pick, quorums, RateLimit, rankVoters, suspicionMs, votersLacking, type VoterStanding } from '../protocols/votes/policy.js'
import { DISSENT_HALF_LIFE_MS, MIN_SUSPECT_MS, SUSPECT_FACTOR } from '../protocols/votes/constants.js'
import { Rng } from '../formulas/rng.js'

/** The quorum's policy (protocols/votes/policy.ts), without a network. */
describe('quorum policy', () => {
  const standing = (table: Record<string, Partial<VoterStanding>>) => (p: string): VoterStanding => ({ suspected: false, dissenter: false, load: 0, self: false, ...table[p] })

  it('asks the trusted before the suspected and the dissenting, the least loaded first, this node on ties', () => {
    const rng = new Rng(1)
    const order = rankVoters(['a', 'b', 'c', 'd', 'e', 'me'], standing({
      a: { load: 3 }, b: { load: 1 }, c: { suspected: true }, d: { dissenter: true }, e: { load: 1 }, me: { load: 1, self: true }
    }), () => rng.next())
    assert.deepEqual(order.slice(0, 1), ['me'])
    assert.deepEqual(new Set(order.slice(1, 3)), new Set(['b', 'e']))
    assert.deepEqual(order.slice(3), ['a', 'd', 'c'])
  })

  it('breaks ties at random, and the same seed breaks them the same way', () => {
    const ties = ['p', 'q', 'r', 's', 't']
    const with_ = (seed: number): string[] => { const rng = new Rng(seed); return rankVoters(ties, standing({}), () => rng.next()) }
    assert.deepEqual(with_(5), with_(5))
    const orders = new Set(Array.from({ length: 20 }, (_, i) => with_(i).join('')))
    assert.ok(orders.size > 1, 'ties are not always broken the same way')
    assert.deepEqual([...with_(5)].sort(), ties)
  })

  it('suspects a voter after a few of its typical times, never sooner than the minimum nor later than the silence', () => {
    assert.equal(suspicionMs(10, 5, 30_000), MIN_SUSPECT_MS)
    assert.equal(suspicionMs(1_000, 500, 30_000), SUSPECT_FACTOR * 1_000)
    assert.equal(suspicionMs(500, 1_000, 30_000), SUSPECT_FACTOR * 1_000, 'the median of all voters when longer than its own')
    assert.equal(suspicionMs(60_000, 0, 30_000), 30_000)
  })

  it('lets dissent fade by half every half-life', () => {
    assert.equal(dissentNow(2, 0, 0), 2)
    assert.ok(Math.abs(dissentNow(2, 0, DISSENT_HALF_LIFE_MS) - 1) < 1e-12)
    assert.ok(Math.abs(dissentNow(2, 0, 2 * DISSENT_HALF_LIFE_MS) - 0.5) < 1e-12)
  })

  it('finds the answers with a quorum, leaving out those whose certificate failed', () => {
    const votes = [{ latex: 'x', voter: 1 }, { latex: 'y', voter: 2 }, { latex: 'x', voter: 3 }, { latex: 'x', voter: 4 }, { latex: 'y', voter: 5 }]
    assert.deepEqual(quorums(votes, 3, new Set()).map(q => [q.latex, q.votes.map(v => v.voter)]), [['x', [1, 3, 4]]])
    assert.deepEqual(quorums(votes, 3, new Set(['x'])), [])
    assert.deepEqual(quorums(votes, 2, new Set()).map(q => q.latex), ['x', 'y'])
  })

  it('grows a ballot by what a quorum lacks after the leading answer and the voters still awaited', () => {
    const v = (latex: string): { latex: string } => ({ latex })
    // 2f+1 = 3: one vote for x, one for y, nobody awaited: two more voters.
    assert.equal(votersLacking([v('x'), v('y')], new Set(), 0, 3), 2)
    assert.equal(votersLacking([v('x'), v('x')], new Set(), 1, 3), 0, 'one awaited voter may still make it')
    assert.equal(votersLacking([v('x'), v('x')], new Set(['x']), 0, 3), 3, 'votes for a failed answer do not count')
    assert.equal(votersLacking([], new Set(), 0, 5), 5)
  })

  it('counts one vote per voter, none of an equivocator nor of another model', () => {
    const v = (latex: string, model = 'm1'): { latex: string, model: string } => ({ latex, model })
    const votes = new Map([
      ['a', [v('x')]],
      ['b', [v('x'), v('y')]], // two different votes: equivocation on this ballot
      ['c', [v('x')]], // proven to equivocate elsewhere
      ['d', [v('x', 'm0')]], // read with another model
      ['e', [v('y')]]
    ])
    assert.deepEqual(countedVotes(votes, new Set(['c']), 'm1'), [v('x'), v('y')])
    assert.deepEqual(countedVotes(votes, new Set(), 'm0'), [v('x', 'm0')])
    assert.deepEqual(countedVotes(new Map(), new Set(), 'm1'), [])
  })

  it('counts the ballots each voter holds unanswered, not those it refused as busy or was given up on', () => {
    const a = (over: Partial<{ busy: boolean, gaveUp: boolean }> = {}): { busy: boolean, gaveUp: boolean } => ({ busy: false, gaveUp: false, ...over })
    const load = ballotsInFlight([
      { asked: new Map([['p', a()], ['q', a()], ['r', a({ busy: true })]]), votes: new Map([['q', []]]) },
      { asked: new Map([['p', a()], ['s', a({ gaveUp: true })]]), votes: new Map() }
    ])
    assert.deepEqual(load, new Map([['p', 2]]))
    assert.deepEqual(ballotsInFlight([]), new Map())
  })

  it('lets "busy" out at most a given rate, a full second\'s worth at once', () => {
    let now = 1_000
    const limit = new RateLimit(4, () => now)
    const taken = (): number => { let n = 0; while (limit.take()) n++; return n }
    assert.equal(taken(), 4, 'a full bucket at first')
    now += 500
    assert.equal(taken(), 2, 'half a second: half the rate')
    now += 100
    assert.equal(taken(), 0, 'under one token')
    now += 150
    assert.equal(taken(), 1, 'the fraction left over adds up')
    now += 10_000
    assert.equal(taken(), 4, 'never more than a second\'s worth')
  })

  it('shares a voter\'s pipeline between origins: a freed slot goes to the origin holding the fewest', async () => {
    const slots = new FairSlots(3)
    const order: string[] = []
    // Origin A fills every slot (its images slow to come), then queues four more ballots; B queues two.
    for (let i = 0; i < 3; i++) await slots.take('A')
    const waits = [...['A', 'A', 'A', 'A'], ...['B', 'B']].map(async (o, i) => { await slots.take(o); order.push(`${o}${i}`) })
    await new Promise(resolve => setImmediate(resolve))
    assert.deepEqual(order, [], 'no slot is free')
    const give = async (owner: string): Promise<void> => { slots.give(owner); await new Promise(resolve => setImmediate(resolve)) }
    await give('A')
    assert.deepEqual(order, ['B4'], 'B holds none: it goes first though A asked earlier')
    await give('A')
    assert.deepEqual(order, ['B4', 'A0'], 'A and B hold one each: the longest waiting goes first')
    await give('B')
    assert.deepEqual(order, ['B4', 'A0', 'B5'], 'B holds none again')
    for (const owner of ['A', 'B', 'A']) await give(owner)
    await Promise.all(waits)
    assert.deepEqual(order, ['B4', 'A0', 'B5', 'A1', 'A2', 'A3'], 'each origin in its own order')
  })

  it('hands out free slots at once, and no more than it has', async () => {
    const slots = new FairSlots(2)
    await slots.take('A')
    await slots.take('B')
    assert.deepEqual(slots.holders(), new Map([['A', 1], ['B', 1]]))
    let third = false
    const waiting = slots.take('C').then(() => { third = true })
    await new Promise(resolve => setImmediate(resolve))
    assert.equal(third, false)
    slots.give('A')
    await waiting
    assert.deepEqual(slots.holders(), new Map([['B', 1], ['C', 1]]))
  })

  it('picks distinct entries and takes the lower median', () => {
    const rng = new Rng(3)
    const two = pick([1, 2, 3, 4], 2, () => rng.next())
    assert.equal(new Set(two).size, 2)
    assert.equal(median([3, 1, 2]), 2)
    assert.equal(median([4, 1, 3, 2]), 2)
  })
})
