/**
 * What the formula memory holds, compactly (node/daemon/memory-formulas.ts, memory-held.ts,
 * util/id-table.ts): ids found by their keys' hashes, formulas read back from the saved copy's
 * file, and store entries in arrays, each checked against a plain Map doing the same.
 */
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHash } from 'node:crypto'
import { IdTable, hashString } from '../util/id-table.js'
import { FormulaTable } from '../node/daemon/memory-formulas.js'
import { Entries, printFromText, printOf, samePrint } from '../node/daemon/memory-held.js'

const dirs: string[] = []
const tempDir = async (): Promise<string> => { const d = await mkdtemp(join(tmpdir(), 'texmesh-formulas-')); dirs.push(d); return d }

/** A small deterministic generator (xorshift) for the random operations. */
function random (seed: number): () => number {
  let s = seed >>> 0 || 1
  return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s / 2 ** 32 }
}

describe('the formula memory\'s compact tables', () => {
  after(async () => { await Promise.all(dirs.map(async d => await rm(d, { recursive: true, force: true }))) })

  it('an IdTable finds what a Map finds through inserts and removals, when hashes collide too, and refuses ids out of range', () => {
    for (const hashBits of [32, 3]) {
      const keys: string[] = []
      const hashes: number[] = []
      // With 3-bit hashes nearly every key collides: lookups must still tell keys apart.
      const hashOf = (s: string): number => hashBits === 32 ? hashString(s) : hashString(s) & 7
      const table = new IdTable(id => hashes[id]!)
      const reference = new Map<string, number>()
      const next = random(hashBits)
      for (let step = 0; step < 5000; step++) {
        const key = `k${Math.floor(next() * 800)}`
        const found = table.find(hashOf(key), id => keys[id] === key)
        assert.equal(found, reference.get(key), `step ${step}: ${key}`)
        if (found == null) {
          const id = keys.length
          keys.push(key)
          hashes.push(hashOf(key))
          table.insert(hashOf(key), id)
          reference.set(key, id)
        } else if (next() < 0.4) {
          assert.equal(table.remove(hashOf(key), found), true)
          reference.delete(key)
        }
        assert.equal(table.size, reference.size)
      }
      assert.equal(table.remove(hashOf('absent'), 123_456), false)
    }
    const table = new IdTable(() => 0)
    assert.throws(() => { table.insert(0, -1) }, /not a whole number/)
    assert.throws(() => { table.insert(0, 2 ** 31) }, /not a whole number/)
    assert.notEqual(hashString('\\alpha'), hashString('\\beta'))
  })

  it('a FormulaTable reads saved formulas back from the file it wrote, keeps adding, copies them on into the next file, and reads a file back whole', async () => {
    const dir = await tempDir()
    const table = new FormulaTable()
    // Unicode, quotes and backslashes, and lines long enough to cross the reader's 256 KiB chunks.
    const formulas = ['\\frac{a}{b}', 'x^{2}+y^{2}="r"', '\\text{Größe}=\\mu 🙂', ...Array.from({ length: 300 }, (_, i) => `\\sum_{k=${i}}^{n} ${'a_{k} + '.repeat(i * 7)}1`)]
    formulas.slice(0, 100).forEach((f, i) => { assert.equal(table.add(f), i) })
    const first = table.write(join(dir, 'one.jsonl'))
    table.savedIn(first)
    formulas.slice(100).forEach((f, i) => { assert.equal(table.add(f), 100 + i) })
    formulas.forEach((f, i) => { assert.equal(table.get(i), f); assert.equal(table.idOf(f), i) })
    assert.equal(table.idOf('\\frac{b}{a}'), undefined)
    const file = join(dir, 'two.jsonl')
    table.savedIn(table.write(file))
    // The file is what a copy's records are: one JSON string a line.
    assert.deepEqual((await readFile(file, 'utf8')).split('\n').slice(0, -1).map(l => JSON.parse(l) as unknown), formulas)
    formulas.forEach((f, i) => { assert.equal(table.get(i), f) })
    assert.deepEqual([...table], formulas)

    const read = new FormulaTable()
    assert.equal(await read.read(file, () => false), true)
    assert.equal(read.size, formulas.length)
    formulas.forEach((f, i) => { assert.equal(read.get(i), f); assert.equal(read.idOf(f), i) })
    assert.equal(read.add('new'), formulas.length)
    assert.equal(read.idOf('new'), formulas.length)
    // The table reads from its open file: the path may go (a copy replaced by the next save).
    await rm(file)
    assert.equal(read.get(3), formulas[3])
    assert.throws(() => read.get(formulas.length + 1), /no formula/)
    read.close()
    assert.throws(() => read.get(0), /closed/)
    assert.equal(read.get(formulas.length), 'new', 'one added since the save is still held')
    table.close()

    // A stop leaves it empty; a file that repeats a formula, is not JSON, or ends inside a line is refused.
    const again = join(dir, 'again.jsonl')
    await writeFile(again, formulas.map(f => `${JSON.stringify(f)}\n`).join(''))
    const stopped = new FormulaTable()
    assert.equal(await stopped.read(again, () => true), false)
    assert.equal(stopped.size, 0)
    for (const [text, error] of [['"a"\n"b"\n"a"\n', /not distinct/], ['"a"\n{x\n', /line 2: not JSON/], ['"a"\n7\n', /not distinct strings/], ['"a"\n"b', /ends inside a line/], [Buffer.from([0x22, 0x61, 0x22, 10, 0x22, 0xff, 0x22, 10]), /line 2: not JSON/]] as const) {
      await writeFile(again, text)
      const bad = new FormulaTable()
      await assert.rejects(bad.read(again, () => false), error)
      assert.equal(bad.size, 0)
    }
  })

  it('a save whose copy was not made leaves the table reading its earlier file', async () => {
    const dir = await tempDir()
    const table = new FormulaTable()
    table.add('a')
    table.savedIn(table.write(join(dir, 'one.jsonl')))
    table.add('b')
    const written = table.write(join(dir, 'two.jsonl'))
    table.discard(written)
    assert.deepEqual([table.get(0), table.get(1)], ['a', 'b'])
    table.savedIn(table.write(join(dir, 'three.jsonl')))
    assert.deepEqual([...table], ['a', 'b'])
    table.close()
  })

  it('Entries hold what a Map of entries holds through sets, rewrites and deletions, slots reused', () => {
    const entries = new Entries()
    const reference = new Map<string, { print: { time: number, hash: number }, ids: number[] }>()
    const next = random(7)
    for (let step = 0; step < 20_000; step++) {
      const key = `${'ab'.repeat(30)}${Math.floor(next() * 3000)}/author`
      if (next() < 0.2) {
        entries.delete(key)
        reference.delete(key)
      } else {
        const n = Math.floor(next() * 4)
        const value = { print: { time: 1_790_000_000_000 + step, hash: Math.floor(next() * 2 ** 32) }, ids: Array.from({ length: n }, () => Math.floor(next() * 1e6)) }
        entries.set(key, value.print, value.ids)
        reference.set(key, value)
      }
      if (step % 97 === 0) assert.deepEqual(entries.get(key), reference.get(key))
    }
    assert.equal(entries.size, reference.size)
    const all = [...entries].map(([key, print, ids]) => [key, { print, ids }] as const).sort(([a], [b]) => a < b ? -1 : 1)
    assert.deepEqual(all, [...reference].sort(([a], [b]) => a < b ? -1 : 1))
    entries.clear()
    assert.equal(entries.size, 0)
    assert.equal(entries.get([...reference.keys()][0]!), undefined)
  })

  it('a print is the entry\'s time and a hash of its formulas, and a print saved by earlier versions ("TIME:HASH") reads as the same', () => {
    const latex = ['\\int_{0}^{1} x d x', 'e^{x}']
    const print = printOf(1_790_000_000_123, latex)
    assert.equal(print.time, 1_790_000_000_123)
    assert.ok(samePrint(print, printOf(1_790_000_000_123, latex)))
    assert.ok(!samePrint(print, printOf(1_790_000_000_124, latex)))
    assert.ok(!samePrint(print, printOf(1_790_000_000_123, ['\\int_{0}^{1} x d x', 'e^{y}'])))
    // How versions before this one wrote it.
    const legacy = `1790000000123:${createHash('sha256').update(latex.join('\u0000')).digest('base64url').slice(0, 11)}`
    assert.deepEqual(printFromText(legacy), print)
    assert.equal(printFromText('print'), undefined)
    assert.equal(printFromText('12:short'), undefined)
  })
})
