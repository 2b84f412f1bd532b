/**
 * The v2 trainer (scripts/train), run as the long run runs it but for seconds: its unit tests
 * (test_trainer.py: the batched matmul's backward, attention, the dev check split over ranks),
 * then a real run on a shard of fresh clean renders and a dev shard (build.js), on two ranks where
 * the machine has two cores, with dev checks of the weights and of their moving average, a
 * checkpoint, the moving average written out for export, pack and unpack, and resumes from both.
 * Needs Debian's python3-torch, python3-opencv and python3-pil (.ci/run installs them).
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { availableParallelism, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { after, before, describe, it } from 'node:test'

const run = promisify(execFile)
const ROOT = resolve(import.meta.dirname, '..', '..')
const TRAIN = join(ROOT, 'scripts', 'train')
const PY = '/usr/bin/python3'
const ENV = { ...process.env, OMP_NUM_THREADS: '1' }

/** A Python expression's value, printed as JSON, with the trainer's modules importable. */
async function py (code: string): Promise<unknown> {
  const { stdout } = await run(PY, ['-c', `import json, torch\n${code}`], { cwd: TRAIN, env: ENV, timeout: 60_000 })
  return JSON.parse(stdout.trim().split('\n').at(-1)!)
}

describe('the v2 trainer', { timeout: 600_000 }, () => {
  let dir = ''
  const ranks = Math.min(2, availableParallelism())
  const trainArgs = (out: string, minutes: number) => [
    'train2.py', '--data', join(dir, 'clean'), '--dev', join(dir, 'dev'), '--vocab', join(ROOT, 'models/texmesh-v1/vocab.json'),
    '--out', out, '--ranks', String(ranks), '--minutes', String(minutes), '--arch', 'v1net', '--glyph', '20', '--max-h', '160',
    '--max-w', '2560', '--pixels', '60000', '--pool', '64', '--dev-minutes', '0.04', '--dev-count', '16', '--checkpoint-minutes', '0.05',
  ]

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'texmesh-trainer-'))
    await run(PY, ['-c', 'import torch, cv2, PIL, numpy'], { env: ENV }).catch((err: unknown) => {
      throw new Error(`the trainer needs Debian's python3-torch, python3-opencv and python3-pil: ${String(err)}`)
    })
    const build = join(ROOT, 'dist/scripts/datagen/build.js')
    await run(process.execPath, [build, '--format', 'clean', '--profile', 'clean-v4', '--out', join(dir, 'clean'), '--seed', '99', '--count', '48', '--shards', '0:1'], { cwd: ROOT, timeout: 180_000 })
    await run(process.execPath, [build, '--format', 'ink', '--profile', 'train', '--out', join(dir, 'dev'), '--seed', '98', '--count', '16', '--shards', '0:1'], { cwd: ROOT, timeout: 180_000 })
  })
  after(async () => { if (dir) await rm(dir, { recursive: true, force: true }) })

  it('passes its unit tests', async () => {
    const { stderr } = await run(PY, ['-m', 'unittest', 'discover', '-s', '.', '-p', 'test_*.py'], { cwd: TRAIN, env: ENV, timeout: 120_000 })
    assert.match(stderr, /Ran \d+ tests[\s\S]*\nOK\b/)
  })

  it('trains, checks dev with the weights and their moving average, saves, exports the average, packs, and resumes', async () => {
    const out = join(dir, 'run')
    await run(PY, trainArgs(out, 0.12), { cwd: TRAIN, env: ENV, timeout: 240_000 })
    const log = await readFile(join(out, 'train.log'), 'utf8')
    assert.match(log, /new run: v1net, glyph geometry/)
    assert.match(log, /dev set [0-9a-f]{12}: 16 images/)
    assert.match(log, /dev greedy exact match [\d.]+, loss [\d.]+ \(200\).*, moving average of the weights/)
    assert.match(log, /moving average of the weights: dev exact [\d.]+/)
    assert.match(log, /done: \d+ steps, \d+ samples/)
    const saved = await py(`s = torch.load(${JSON.stringify(join(out, 'last.pt'))})
st = s["state"]
print(json.dumps({"keys": sorted(s), "decay": s["ema_decay"], "dev": [d["step"] for d in st["dev"]], "ema": [d["step"] for d in st["dev_ema"]],
                  "differs": any(not torch.equal(s["ema"][k], s["model"][k]) for k in s["model"] if s["model"][k].is_floating_point())}))`) as
      { keys: string[], decay: number, dev: number[], ema: number[], differs: boolean }
    assert.deepEqual(saved.keys, ['ema', 'ema_decay', 'model', 'opt', 'state', 'vocab'])
    assert.equal(saved.decay, 0.999)
    assert.ok(saved.ema.length >= 1, 'the average was checked on dev')
    assert.ok(saved.ema.every((s) => saved.dev.includes(s)), `the average is read at the weights' checks: ${saved.ema} in ${saved.dev}`)
    assert.ok(saved.differs, 'the average is not the weights')

    // The average written out for export, and the packed checkpoint unpacked again.
    await run(PY, ['checkpoint.py', 'ema', join(out, 'last.pt'), join(dir, 'ema.pt')], { cwd: TRAIN, env: ENV })
    await run(PY, ['checkpoint.py', 'pack', join(out, 'last.pt'), join(dir, 'weights.pt')], { cwd: TRAIN, env: ENV })
    await run(PY, ['checkpoint.py', 'unpack', join(dir, 'weights.pt'), join(dir, 'run2', 'last.pt')], { cwd: TRAIN, env: ENV })
    const ema = await py(`e = torch.load(${JSON.stringify(join(dir, 'ema.pt'))}); s = torch.load(${JSON.stringify(join(out, 'last.pt'))})
print(json.dumps({"keys": sorted(e), "same": all(torch.equal(e["model"][k], s["ema"][k]) for k in s["ema"]), "weights": e["state"]["weights"]}))`) as
      { keys: string[], same: boolean, weights: string }
    assert.deepEqual(ema.keys, ['model', 'state', 'vocab'])
    assert.ok(ema.same)
    assert.match(ema.weights, /the moving average of the run.s weights \(decay 0\.999\)/)
    await assert.rejects(run(PY, ['checkpoint.py', 'ema', join(dir, 'weights.pt'), join(dir, 'x.pt')], { cwd: TRAIN, env: ENV }), /no moving average/)

    // Resumed from its last.pt (the average with it) and from the unpacked checkpoint (the average afresh).
    await run(PY, trainArgs(out, 0.2), { cwd: TRAIN, env: ENV, timeout: 240_000 })
    await run(PY, trainArgs(join(dir, 'run2'), 0.2), { cwd: TRAIN, env: ENV, timeout: 240_000 })
    for (const r of [out, join(dir, 'run2')]) {
      const text = await readFile(join(r, 'train.log'), 'utf8')
      assert.match(text, /resumed at step \d+/)
      assert.equal(text.match(/done: /g)?.length ?? 0, r === out ? 2 : 1)
    }

    // A new run from the average, without canvas options, reads the canvases its checkpoint was trained
    // on (glyph 20, up to 160 x 2560, not the defaults): the same dev pixels, so the same fingerprint.
    const branch = join(dir, 'branch')
    const args = trainArgs(branch, 0.03)
    for (const flag of ['--glyph', '--max-h', '--max-w']) args.splice(args.indexOf(flag), 2)
    await run(PY, [...args, '--init', join(dir, 'ema.pt'), '--ema', '0'], { cwd: TRAIN, env: ENV, timeout: 240_000 })
    const branchLog = await readFile(join(branch, 'train.log'), 'utf8')
    assert.match(branchLog, /new run: v1net, glyph geometry \(glyph 20 px, canvases up to 160 x 2560\)/)
    const fingerprint = (text: string): string => /dev set ([0-9a-f]{12})/.exec(text)![1]!
    assert.equal(fingerprint(branchLog), fingerprint(log))
  })
})
