import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { cp, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Worker } from 'node:worker_threads'
import { OcrPipeline } from '../pipeline/ocr.js'
import { OcrPool } from '../pipeline/pool.js'
import { ImageError } from '../pipeline/preprocess.js'
import { DEFAULT_MODEL_DIR } from '../pipeline/recognizer.js'
import { removeDir, tempDir, waitFor } from './helpers.js'

const FIXTURES = fileURLToPath(new URL('../../test/fixtures/ocr/', import.meta.url))
const NAMES = ['one-formula.png', 'fraction.png', 'sum.png', 'three-lines.png']

/** The pool's worker threads (private): the tests kill one to see the pool replace it. */
const workersOf = (pool: OcrPool): Worker[] => (pool as unknown as { slots: Array<{ worker: Worker }> }).slots.map(s => s.worker)

describe('OcrPool: pipelines on worker threads', { timeout: 120_000 }, () => {
  let pool: OcrPool
  let images: Buffer[]
  before(async () => {
    pool = await OcrPool.load({ size: 2 })
    images = await Promise.all(NAMES.map(async n => await readFile(FIXTURES + n)))
  })
  after(async () => { await pool?.release() })

  it('reads what one pipeline in this thread reads, with several images at once on separate workers', async () => {
    const single = await OcrPipeline.load({ threads: 1 })
    try {
      const want: Awaited<ReturnType<OcrPipeline['recognize']>>[] = []
      for (const [i, img] of images.entries()) want.push(await single.recognize(img, NAMES[i]!))
      const got = await Promise.all(images.map(async (img, i) => await pool.recognize(img, NAMES[i]!)))
      assert.equal(pool.size, 2)
      assert.equal(pool.peakBusy, 2, 'two images were on two workers at the same moment')
      assert.equal(pool.model, single.model)
      got.forEach((g, i) => {
        assert.equal(g.latex, want[i]!.latex, NAMES[i])
        assert.deepEqual(g.regions.map(r => [r.bbox, r.latex]), want[i]!.regions.map(r => [r.bbox, r.latex]))
        assert.ok(Math.abs(g.confidence - want[i]!.confidence) < 1e-6)
      })
    } finally {
      await single.release()
    }
  })

  it('refuses bad images with an ImageError naming the file, and goes on', async () => {
    await assert.rejects(pool.recognize(Buffer.from('not an image'), 'notes.txt'),
      (err: unknown) => err instanceof ImageError && err.reason === 'not-an-image' && err.file === 'notes.txt' && err.message.startsWith('notes.txt: '))
    await assert.rejects(pool.recognize(new Uint8Array(0), 'empty.png'), (err: unknown) => err instanceof ImageError && err.reason === 'empty')
    const r = await pool.recognize(images[2]!, 'sum.png')
    assert.equal(r.regions.length, 1)
  })

  it('replaces a worker that dies: its image fails, the next ones are read', async () => {
    const [victim] = workersOf(pool)
    const doomed = pool.recognize(images[3]!, 'three-lines.png')
    await victim!.terminate()
    await assert.rejects(doomed, /the OCR worker exited with code \d+ while reading three-lines\.png/)
    await waitFor('a replacement worker', () => pool.size === 2, 30_000)
    assert.ok(!workersOf(pool).includes(victim!))
    const after = await Promise.all(images.map(async (img, i) => await pool.recognize(img, NAMES[i]!)))
    assert.equal(after.length, 4)
  })

  it('keeps the caller\'s buffer: the worker gets a copy', async () => {
    const img = Buffer.from(images[1]!)
    await pool.recognize(img, 'fraction.png')
    assert.equal(img.length, images[1]!.length)
    assert.ok(img.equals(images[1]!))
  })
})

describe('OcrPool: loading and release', { timeout: 120_000 }, () => {
  it('fails to load with the model folder\'s error', async () => {
    const dir = await tempDir()
    try {
      await cp(DEFAULT_MODEL_DIR, dir, { recursive: true })
      await writeFile(join(dir, 'vocab.json'), '[]')
      await assert.rejects(OcrPool.load({ size: 2, modelDir: dir }), /vocab\.json has SHA-256/)
    } finally {
      await removeDir(dir)
    }
  })

  it('refuses a size below one, fails waiting images on release, and refuses work after it', async () => {
    await assert.rejects(OcrPool.load({ size: 0 }), RangeError)
    const pool = await OcrPool.load({ size: 1 })
    const img = await readFile(FIXTURES + 'sum.png')
    const first = pool.recognize(img, 'a.png')
    const waiting = assert.rejects(pool.recognize(img, 'b.png'), /released/)
    first.catch(() => {})
    await pool.release()
    await waiting
    await assert.rejects(pool.recognize(img, 'c.png'), /released/)
  })
})
