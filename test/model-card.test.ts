/**
 * scripts/model-card.js on a copy of the shipped model's folder: the card it writes, and what it
 * says when the model is the moving average of a run's weights (checkpoint.py ema).
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { after, describe, it } from 'node:test'
import { DEFAULT_MODEL_DIR } from '../pipeline/recognizer.js'

const run = promisify(execFile)
const CARD = resolve(import.meta.dirname, '..', 'scripts', 'model-card.js')

describe('the model card', () => {
  const dirs: string[] = []
  after(async () => { for (const d of dirs) await rm(d, { recursive: true, force: true }) })

  async function card (edit?: (t: Record<string, any>) => void): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'texmesh-card-'))
    dirs.push(dir)
    const model = join(dir, 'texmesh-v2')
    await cp(DEFAULT_MODEL_DIR, model, { recursive: true })
    if (edit) {
      const t = JSON.parse(await readFile(join(model, 'training.json'), 'utf8')) as Record<string, any>
      edit(t)
      await writeFile(join(model, 'training.json'), JSON.stringify(t))
    }
    await run(process.execPath, [CARD, model])
    return await readFile(join(model, 'MODEL_CARD.md'), 'utf8')
  }

  it('is the shipped card again from the shipped files', async () => {
    assert.equal(await card(), await readFile(join(DEFAULT_MODEL_DIR, 'MODEL_CARD.md'), 'utf8'))
  })

  it('says when the model is the moving average of the weights, with the average\'s own dev checks', async () => {
    const plain = await card((t) => {
      for (const k of ['weights', 'dev_history_moving_average', 'final_dev_greedy_exact_moving_average']) delete t.training[k]
      t.training.final_dev_greedy_exact = 0.77
    })
    assert.doesNotMatch(plain, /This model is the moving average/)
    const text = await card((t) => {
      t.training.weights = "the moving average of the run's weights (decay 0.999)"
      t.training.dev_history_moving_average = [{ step: 100, minutes: 10, dev_exact: 0.785, n: 200 }, { step: 200, minutes: 20, dev_exact: 0.79, n: 200 }]
      t.training.final_dev_greedy_exact_moving_average = 0.8
      t.training.final_dev_greedy_exact = 0.77
    })
    assert.match(text, /This model is the moving average of the run's weights \(decay 0\.999\), not the weights of the last step/)
    assert.match(text, /\| 100 \| 10\.0 \| 78\.5 % \(200\) \|\n\| 200 \| 20\.0 \| 79\.0 % \(200\) \|\n\| \d+ \(end\) \| [\d.]+ \| 80\.0 % \|/)
    // The weights' table keeps the weights' own end-of-run figure.
    const end = (s: string) => s.match(/\| \d+ \(end\) \| [\d.]+ \| [\d.]+ % \|/)![0]
    assert.equal(end(text), end(plain))
    assert.match(end(plain), /\| 77\.0 % \|$/)
  })
})
