import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { Level } from 'level'
import { Key } from 'interface-datastore'
import { CachedLevelDatastore } from '../node/daemon/peer-store-cache.js'
import { removeDir, tempDir } from './helpers.js'

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)
const text = (b: Uint8Array): string => new TextDecoder().decode(b)

describe('peer store datastore (memory in front of LevelDB)', () => {
  const dirs: string[] = []
  after(async () => { for (const d of dirs) await removeDir(d) })

  async function open (path: string): Promise<CachedLevelDatastore> {
    const store = new CachedLevelDatastore(new Level<string, Uint8Array>(path, { keyEncoding: 'utf8', valueEncoding: 'view' }))
    await store.open()
    return store
  }

  it('answers from memory, writes behind, and loses nothing on close', async () => {
    const dir = await tempDir()
    dirs.push(dir)
    const path = join(dir, 'peers')
    const a = await open(path)
    await a.put(new Key('/peers/a'), bytes('one'))
    await a.put(new Key('/peers/a'), bytes('two'))
    await a.put(new Key('/peers/b'), bytes('bee'))
    assert.equal(text(await a.get(new Key('/peers/a'))), 'two')
    assert.equal(await a.has(new Key('/peers/b')), true)
    // Not in LevelDB yet: the write is behind.
    await assert.rejects(a.db.get('/peers/a').then(v => { if (v == null) throw new Error('absent') }))
    // A query sees every write (it flushes first).
    const seen = []
    for await (const { key, value } of a.query({ prefix: '/peers' })) seen.push(`${key.toString()}=${text(value)}`)
    assert.deepEqual(seen.sort(), ['/peers/a=two', '/peers/b=bee'])
    await a.put(new Key('/peers/c'), bytes('sea'))
    await a.delete(new Key('/peers/b'))
    await a.close()

    const again = await open(path)
    assert.equal(text(await again.get(new Key('/peers/a'))), 'two')
    assert.equal(text(await again.get(new Key('/peers/c'))), 'sea', 'written on close')
    assert.equal(await again.has(new Key('/peers/b')), false, 'deleted')
    await assert.rejects(again.get(new Key('/peers/b')))
    await again.close()
  })
})
