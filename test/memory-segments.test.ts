/**
 * The formula index in segments (memory/index.ts): what a save freezes is read from its file
 * (memory-mapped) rather than held, searches span every segment, and saved copies link the
 * frozen files rather than write them again.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readdir, readFile, rename, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { exhaustive, HNSW_M, VectorIndex } from '../memory/index.js'
import { readSnapshot, writeSnapshot } from '../memory/snapshot.js'
import { Rng } from '../formulas/rng.js'
import { releaseFreedMemory } from '../util/release-memory.js'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { removeDir, tempDir } from './helpers.js'

const DIM = 16
const FREEZE = 20

function units (n: number, seed: number): Float32Array[] {
  const rng = new Rng(seed)
  return Array.from({ length: n }, () => {
    const v = Float32Array.from({ length: DIM }, () => rng.next() - 0.5)
    const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0))
    return v.map(x => x / norm)
  })
}

/** Every query's ten best by the index equal the exhaustive ten (ef_search above the size: exact). */
function assertExact (index: VectorIndex, vectors: Float32Array[], queries: Float32Array[]): void {
  for (const q of queries) {
    const want = exhaustive(vectors, q, 10).map(h => h.id)
    assert.deepEqual(index.search(q, 10, id => vectors[id]!, 40).map(h => h.id), want)
  }
}

/** The copy saved in `dir`, read back (usable), searched with ef_search 100. */
async function readBack (dir: string): Promise<VectorIndex> {
  const read = await readSnapshot(dir, DIM, 'e')
  assert.ok(!('unusable' in read), JSON.stringify(read))
  read.index.efSearch = 100
  return read.index
}

describe('formula index in segments', () => {
  it('a save freezes what grew enough, reads it from the file, and searches span the segments', async () => {
    const dir = await tempDir()
    try {
      const vectors = units(75, 3)
      const queries = units(20, 4)
      const index = new VectorIndex(DIM, 100, HNSW_M, undefined, FREEZE)
      for (const v of vectors.slice(0, 30)) index.add(v)
      writeSnapshot(dir, index, 'e', {})
      // 30 >= max(20, 30 / 4): frozen, and read from the copy's file.
      assert.deepEqual(index.segments, { frozen: 1, inMemory: 0 })
      for (const v of vectors.slice(30, 40)) index.add(v)
      assert.deepEqual(index.segments, { frozen: 1, inMemory: 10 })
      assertExact(index, vectors.slice(0, 40), queries)
      // The next copy links the frozen file (the same inode) and writes the rest; the first copy is gone.
      const first = (await readdir(dir)).find(n => n.startsWith('snap-'))!
      const inode = (await stat(join(dir, first, 'seg-0.usearch'))).ino
      writeSnapshot(dir, index, 'e', {})
      const second = (await readdir(dir)).find(n => n.startsWith('snap-'))!
      assert.notEqual(second, first)
      assert.deepEqual((await readdir(join(dir, second))).filter(n => n.endsWith('.usearch')).sort(), ['seg-0.usearch', 'seg-30.usearch'])
      assert.equal((await stat(join(dir, second, 'seg-0.usearch'))).ino, inode)
      // Still searched from the file its first copy was deleted under.
      assertExact(index, vectors.slice(0, 40), queries)
      // Read back: the frozen segment viewed, the small one loaded, taking additions where it left off.
      const read = await readSnapshot(dir, DIM, 'e')
      assert.ok(!('unusable' in read), JSON.stringify(read))
      const again = read.index
      again.efSearch = 100
      again.freezeAt = FREEZE
      assert.deepEqual([again.size, again.segments], [40, { frozen: 1, inMemory: 10 }])
      for (const v of vectors.slice(40)) assert.equal(again.add(v), vectors.indexOf(v))
      assertExact(again, vectors, queries)
      writeSnapshot(dir, again, 'e', {})
      assert.deepEqual(again.segments, { frozen: 2, inMemory: 0 })
      const third = await readBack(dir)
      // Read with the default (65,536), the last segment is small enough to take additions: loaded, not viewed.
      assert.deepEqual([third.size, third.segments], [75, { frozen: 1, inMemory: 45 }])
      assertExact(third, vectors, queries)
    } finally {
      await removeDir(dir)
    }
  })

  it('a copy deleted under a running index (memory/ removed to rebuild) does not stop the next save: frozen segments are written from their mappings', async () => {
    const dir = await tempDir()
    try {
      const vectors = units(50, 7)
      const queries = units(10, 8)
      const index = new VectorIndex(DIM, 100, HNSW_M, undefined, FREEZE)
      for (const v of vectors.slice(0, 30)) index.add(v)
      writeSnapshot(dir, index, 'e', {})
      assert.deepEqual(index.segments, { frozen: 1, inMemory: 0 })
      await removeDir(dir)
      for (const v of vectors.slice(30)) index.add(v)
      writeSnapshot(dir, index, 'e', {})
      const read = await readBack(dir)
      assert.equal(read.size, 50)
      assertExact(read, vectors, queries)
      // It now reads the segment from the file it wrote again, not the deleted one (whose disk space
      // goes back once the graph that mapped it is collected, as a node collects after such a save).
      releaseFreedMemory('regular')
      await nextTurn()
      assert.ok(!(await readFile('/proc/self/maps', 'utf8')).split('\n').some(l => l.includes(dir) && l.endsWith('(deleted)')), 'a deleted segment file still mapped')
      writeSnapshot(dir, index, 'e', {})
      assertExact(index, vectors, queries)
    } finally {
      await removeDir(dir)
    }
  })

  it('past mergePast frozen segments, the two adjacent ones smallest together are merged into one storing the same int8 vectors; an unfinished merge changes nothing', async () => {
    const dir = await tempDir()
    try {
      const vectors = units(100, 9)
      const queries = units(10, 10)
      const index = new VectorIndex(DIM, 100, HNSW_M, undefined, FREEZE)
      index.mergePast = 2
      // Grown by saves every 20: four frozen segments of 20, and 20 in memory.
      vectors.forEach((v, i) => { index.add(v); if ((i + 1) % 20 === 0) writeSnapshot(dir, index, 'e', {}) })
      assert.deepEqual(index.segments, { frozen: 4, inMemory: 20 })
      // The int8 vectors of the two segments a merge takes (at the head of their files).
      const head = async (file: string, rows: number): Promise<Buffer> => (await readFile(file)).subarray(8, 8 + rows * DIM)
      const before = (await readdir(dir)).find(n => n.startsWith('snap-'))!
      const int8 = Buffer.concat([await head(join(dir, before, 'seg-0.usearch'), 20), await head(join(dir, before, 'seg-20.usearch'), 20)])
      const partial = index.merging(id => vectors[id]!)![Symbol.iterator]()
      for (let i = 0; i < 5; i++) partial.next()
      assert.deepEqual(index.segments, { frozen: 4, inMemory: 20 })
      let steps = [...index.merging(id => vectors[id]!)!].length
      assert.equal(steps, 40)
      assert.deepEqual(index.segments, { frozen: 3, inMemory: 20 })
      assertExact(index, vectors, queries)
      // Saved as one segment, read back whole.
      writeSnapshot(dir, index, 'e', {})
      const snap = (await readdir(dir)).find(n => n.startsWith('snap-'))!
      assert.deepEqual((await readdir(join(dir, snap))).filter(n => n.endsWith('.usearch')).sort(), ['seg-0.usearch', 'seg-40.usearch', 'seg-60.usearch', 'seg-80.usearch'])
      assert.deepEqual(await head(join(dir, snap, 'seg-0.usearch'), 40), int8, 'the merge stores the very int8 vectors it merged')
      assertExact(await readBack(dir), vectors, queries)
      // Still three frozen: the next merge takes the two smallest together (40 and 60, 20 each).
      steps += [...index.merging(id => vectors[id]!)!].length
      assert.deepEqual([steps, index.segments], [80, { frozen: 2, inMemory: 20 }])
      assertExact(index, vectors, queries)
      assert.equal(index.merging(id => vectors[id]!), undefined)
    } finally {
      await removeDir(dir)
    }
  })

  it('reads an index saved in one file before segments, and refuses segments with a gap', async () => {
    const dir = await tempDir()
    try {
      const vectors = units(30, 5)
      const index = new VectorIndex(DIM, 100, HNSW_M, undefined, FREEZE)
      for (const v of vectors) index.add(v)
      index.save(dir)
      await rename(join(dir, 'seg-0.usearch'), join(dir, 'vectors-graph.usearch'))
      await rename(join(dir, 'seg-0.check.json'), join(dir, 'vectors-graph.check.json'))
      const legacy = VectorIndex.load(dir, DIM, 100, HNSW_M, FREEZE)
      assert.deepEqual([legacy.size, legacy.segments], [30, { frozen: 1, inMemory: 0 }])
      assertExact(legacy, vectors, units(10, 6))
      await rename(join(dir, 'vectors-graph.usearch'), join(dir, 'seg-5.usearch'))
      await rename(join(dir, 'vectors-graph.check.json'), join(dir, 'seg-5.check.json'))
      assert.throws(() => VectorIndex.load(dir, DIM), /a segment from 5 where 0 was due/)
      await removeDir(dir)
      assert.throws(() => VectorIndex.load(dir, DIM), /ENOENT|no such file/)
    } finally {
      await removeDir(dir)
    }
  })
})
