import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { formatReport } from '../scripts/fuzz/report.js'
import { runFuzz } from '../scripts/fuzz/run.js'

/**
 * The fuzz harness of `npm run fuzz` (scripts/fuzz/), CI-sized: 20 inputs per protocol and topic
 * against a real node in a private network, with the hostile peer a member. Every check must pass,
 * and every protocol the node speaks, every topic and every kind of answer must have been exercised.
 */
describe('fuzzing one node with one hostile member (CI-sized)', { timeout: 240_000 }, () => {
  it('the node keeps answering, stays within its bounds, still reads and restarts; every protocol and topic is exercised', async () => {
    const report = await runFuzz({ count: 20, seconds: 75, seed: 20_261_205, network: 'private' })
    const summary = formatReport(report)
    for (const c of report.checks) assert.ok(c.ok, `${c.name}: ${c.detail}\n\n${summary}`)
    assert.ok(report.ok, summary)
    const sent = (target: string): number => report.targets.find(t => t.target === target)?.sent ?? 0
    for (const p of report.protocols) assert.ok(sent(p) > 0, `protocol ${p} was not exercised\n${summary}`)
    for (const t of ['texmesh/tasks/1', 'texmesh/votes/1', 'texmesh/crdt/2']) assert.ok(sent(`topic:${t}`) > 0, `topic ${t} was not exercised\n${summary}`)
    for (const p of ['/texmesh/tasks/1.0.0', '/texmesh/blob/1.0.0', '/texmesh/crdt-sync/2.0.0', '/texmesh/membership/1.0.0', '/texmesh/peer-exchange/1.0.0', '/ipfs/id/1.0.0', '/ipfs/ping/1.0.0']) {
      assert.ok(report.protocols.includes(p), `the node no longer speaks ${p}`)
    }
    // The node's own requests answered with hostile data: catch-up, membership, peer exchange, identify, ping.
    for (const p of ['/texmesh/crdt-sync/2.0.0', '/texmesh/membership/1.0.0', '/texmesh/peer-exchange/1.0.0', '/ipfs/id/1.0.0', '/ipfs/ping/1.0.0']) {
      assert.ok(sent(`answer:${p}`) > 0, `no hostile answer to the node's ${p} requests\n${summary}`)
    }
    assert.ok(sent('tcp') > 0, summary)
    assert.equal(report.uncaught.length, 0)
    assert.ok(report.durationS < 150, `the run took ${report.durationS} s`)
  })
})
