import { it } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { signVote } from '../protocols/votes/index.js'
import { LEDGER_MAX_AGE_MS, LevelVoteLedger, MemoryVoteLedger } from '../protocols/votes/ledger.js'
import { removeDir, tempDir } from './helpers.js'

async function aVote (task: string): Promise<Awaited<ReturnType<typeof signVote>>> {
  const key = await generateKeyPair('Ed25519')
  return await signVote(key, { task, image: 'a'.repeat(64), model: 'm', latex: 'x', confidence: 0.5, voter: peerIdFromPrivateKey(key).toString(), time: 1 })
}

it('the votes a node signed outlive a restart; entries older than the limit are dropped when it opens', async () => {
  const dir = await tempDir()
  try {
    const path = join(dir, 'votes')
    const v = await aVote('t1')
    const ledger = await LevelVoteLedger.open(path)
    assert.equal(await ledger.get('t1'), undefined)
    await ledger.put('t1', [v])
    await ledger.close()
    const reopened = await LevelVoteLedger.open(path)
    assert.deepEqual(await reopened.get('t1'), [v])
    await reopened.close()
    const later = await LevelVoteLedger.open(path, { now: () => Date.now() + LEDGER_MAX_AGE_MS + 1000 })
    assert.equal(await later.get('t1'), undefined)
    await later.close()
  } finally {
    await removeDir(dir)
  }
})

it('the in-memory ledger keeps the most recent tasks', async () => {
  const ledger = new MemoryVoteLedger(2)
  for (const t of ['a', 'b', 'c']) await ledger.put(t, [await aVote(t)])
  assert.equal(await ledger.get('a'), undefined)
  assert.equal((await ledger.get('c'))?.[0]?.task, 'c')
})
