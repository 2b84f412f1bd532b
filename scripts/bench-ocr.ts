/**
 * npm run bench:ocr -- [DIR] [--limit N] [--beam N] [--json]
 *
 * Latency and throughput of the whole OCR pipeline (decode, segment,
 * recognise, check, calibrate) on a folder of images with a truth.jsonl
 * (default: datasets/heldout-a), in one process with 1 and with 2
 * onnxruntime threads, on a pool of two worker threads in one process (what
 * `texmesh ocr` and a daemon with --workers 2 do), and as two one-thread
 * worker processes. Prints percentiles, throughput, peak memory and the ratios to the
 * targets: p50 <= 50 ms on one core, >= 20 formulas/s on two cores.
 */
import { Command, InvalidArgumentError } from 'commander'
import { fork } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { OcrPipeline } from '../pipeline/ocr.js'
import { OcrPool } from '../pipeline/pool.js'
import { readTruth } from './eval.js'

const DEFAULT_DIR = fileURLToPath(new URL('../../datasets/heldout-a', import.meta.url))
// The speed budget of issue 18 (model v2): p50 on one core, and images a second on two.
const TARGET_P50_MS = 80
const TARGET_PER_S = 25
const WARMUP = 5

interface Run {
  setting: string;
  images: number;
  p50: number;
  p95: number;
  p99: number;
  mean: number;
  perSecond: number;
  peakRssMiB: number;
}

function percentile (sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN
}

/**
 * Recognise every image once, `atOnce` at a time: on one pipeline in this
 * thread, or (`atOnce` > 1) on a pool of that many worker threads, which is
 * what `texmesh ocr` and a daemon with several workers do. Latencies in ms
 * and the wall time.
 */
async function measure (images: Buffer[], threads: number, beam: number, atOnce = 1, modelDir?: string): Promise<{ ms: number[]; wallMs: number }> {
  const model = modelDir != null ? { modelDir } : {}
  const pipeline = atOnce > 1 ? await OcrPool.load({ size: atOnce, threads, ...model }) : await OcrPipeline.load({ threads, ...model })
  try {
    for (const img of images.slice(0, WARMUP)) await pipeline.recognize(img, 'warm-up', { beam })
    const ms: number[] = []
    let next = 0
    const t0 = performance.now()
    await Promise.all(
      Array.from({ length: atOnce }, async () => {
        while (next < images.length) {
          const img = images[next++]!
          const t = performance.now()
          await pipeline.recognize(img, 'bench', { beam })
          ms.push(performance.now() - t)
        }
      })
    )
    return { ms, wallMs: performance.now() - t0 }
  } finally {
    await pipeline.release()
  }
}

function summarise (setting: string, ms: number[], wallMs: number, peakRssKiB: number): Run {
  const sorted = [...ms].sort((a, b) => a - b)
  return {
    setting,
    images: ms.length,
    p50: percentile(sorted, 0.5),
    p95: percentile(sorted, 0.95),
    p99: percentile(sorted, 0.99),
    mean: ms.reduce((a, b) => a + b, 0) / ms.length,
    perSecond: (1000 * ms.length) / wallMs,
    peakRssMiB: peakRssKiB / 1024,
  }
}

async function loadImages (dir: string, limit?: number): Promise<{ files: string[]; images: Buffer[] }> {
  let truth = await readTruth(dir)
  if (limit) truth = truth.slice(0, limit)
  const files = truth.map((t) => join(dir, t.file))
  return { files, images: await Promise.all(files.map((f) => readFile(f))) }
}

/** Worker mode: recognise the files given on stdin's message, one thread, report back. */
async function worker (): Promise<void> {
  process.once('message', async (msg: { files: string[]; beam: number; model?: string }) => {
    const images = await Promise.all(msg.files.map((f) => readFile(f)))
    const { ms, wallMs } = await measure(images, 1, msg.beam, 1, msg.model)
    process.send!({ ms, wallMs, peakRssKiB: process.resourceUsage().maxRSS })
    process.disconnect()
  })
}

/** Two one-thread processes, each with half of the images; throughput over the slower one's wall time. */
async function twoProcesses (files: string[], beam: number, model?: string): Promise<Run> {
  const halves = [files.filter((_, i) => i % 2 === 0), files.filter((_, i) => i % 2 === 1)]
  const results = await Promise.all(
    halves.map(
      (part) =>
        new Promise<{ ms: number[]; wallMs: number; peakRssKiB: number }>((resolve, reject) => {
          const child = fork(fileURLToPath(import.meta.url), ['--worker'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
          child.once('message', (m) => resolve(m as { ms: number[]; wallMs: number; peakRssKiB: number }))
          child.once('error', reject)
          child.once('exit', (code) => {
            if (code !== 0) reject(new Error(`bench worker exited with ${code}`))
          })
          child.send({ files: part, beam, model })
        })
    )
  )
  const ms = results.flatMap((r) => r.ms)
  const wall = Math.max(...results.map((r) => r.wallMs))
  return summarise('2 processes x 1 thread', ms, wall, results.reduce((s, r) => s + r.peakRssKiB, 0))
}

async function main (): Promise<void> {
  const positiveInt = (v: string): number => {
    const n = Number(v)
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer')
    return n
  }
  const cmd = new Command('bench:ocr')
    .description('latency and throughput of the OCR pipeline')
    .argument('[dir]', 'folder with images and truth.jsonl', DEFAULT_DIR)
    .option('--limit <n>', 'only the first N images', positiveInt)
    .option('--beam <n>', 'beam width', positiveInt, 5)
    .option('--json', 'print the results as JSON')
    .option('--model <dir>', 'model folder (default: the shipped model)')
    .parse()
  const dir = cmd.args[0] ?? DEFAULT_DIR
  const o = cmd.opts<{ limit?: number; beam: number; json?: boolean; model?: string }>()
  const { files, images } = await loadImages(dir, o.limit)
  const runs: Run[] = []
  for (const [threads, atOnce] of [[1, 1], [2, 1], [1, 2]] as const) {
    const { ms, wallMs } = await measure(images, threads, o.beam, atOnce, o.model)
    const setting = atOnce > 1 ? `1 process, pool of ${atOnce} x 1 thread` : `1 process x ${threads} thread${threads > 1 ? 's' : ''}`
    runs.push(summarise(setting, ms, wallMs, process.resourceUsage().maxRSS))
  }
  runs.push(await twoProcesses(files, o.beam, o.model))
  const single = runs[0]!
  const best2 = Math.max(...runs.slice(1).map((r) => r.perSecond))
  const ratios = {
    p50VsTarget: single.p50 / TARGET_P50_MS,
    throughputVsTarget: best2 / TARGET_PER_S,
  }
  if (o.json) {
    console.log(JSON.stringify({ dir, beam: o.beam, runs, targets: { p50Ms: TARGET_P50_MS, perSecond: TARGET_PER_S }, ratios }))
    return
  }
  console.log(`${images.length} images from ${dir}, beam ${o.beam}, whole pipeline per image`)
  console.log('setting                               p50 ms   p95 ms   p99 ms  mean ms  images/s  peak RSS MiB')
  for (const r of runs) {
    console.log(
      `${r.setting.padEnd(36)} ${r.p50.toFixed(1).padStart(7)}  ${r.p95.toFixed(1).padStart(7)}  ${r.p99.toFixed(1).padStart(7)}  ` +
        `${r.mean.toFixed(1).padStart(7)}  ${r.perSecond.toFixed(1).padStart(8)}  ${r.peakRssMiB.toFixed(0).padStart(12)}`
    )
  }
  console.log(`p50 on one core: ${single.p50.toFixed(1)} ms, ${ratios.p50VsTarget.toFixed(2)}x the ${TARGET_P50_MS} ms target (<= 1 meets it)`)
  console.log(`throughput on two cores: ${best2.toFixed(1)}/s, ${ratios.throughputVsTarget.toFixed(2)}x the ${TARGET_PER_S}/s target (>= 1 meets it)`)
}

if (process.argv.includes('--worker')) {
  await worker()
} else if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(`bench:ocr: ${err instanceof Error ? err.message : String(err)}`)
    process.exit(1)
  })
}
