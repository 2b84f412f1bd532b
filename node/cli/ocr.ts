import { readdir, readFile, stat } from 'node:fs/promises'
import { extname, join } from 'node:path'
import cliProgress from 'cli-progress'
import { OcrPipeline, DEFAULT_BEAM, type OcrResult } from '../../pipeline/ocr.js'
import { OcrPool } from '../../pipeline/pool.js'
import { ImageError } from '../../pipeline/preprocess.js'
import { imagesPerCore } from '../datadir/config.js'
import { printable } from './terminal.js'
import { Option, type Command } from 'commander'
import { parsePositive, parseProbability, withJson } from './options.js'
import { documentLine, humanDocument, isMultiPageTiff, isPdf, scansFromInputs, scansPdf, type DocumentLine, type ExportFormat } from './ocr-document.js'

/**
 * `texmesh ocr FILE_OR_DIR...`: recognise images on this machine with the
 * shipped model; no daemon, no network. Every file is processed even when
 * some fail; the caller turns `failed` into the exit code.
 */

/** File name endings taken from a directory (a file named on the command line is always tried). */
export const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.webp', '.tif', '.tiff', '.gif', '.pdf'])

export interface OcrCommandOptions {
  beam?: number
  json?: boolean
  threads?: number
  /** images recognised at once (default: imagesPerCore()) */
  jobs?: number
  model?: string
  /** answers less confident than this are misses: marked, and counted in the exit code */
  minConfidence?: number
  /** a PDF as Markdown with its formulas in place, or a LaTeX file of them, instead of the list */
  export?: ExportFormat
  /** the images are the pages of one document (a folder of page scans) */
  scans?: boolean
}

export type OcrLine = DocumentLine | ({ file: string } & Omit<OcrResult, 'regions'> & { regions: Array<{ bbox: OcrResult['regions'][number]['bbox'], latex: string, confidence: number }>, belowMinConfidence?: true }) | { file: string, error: string, reason: string }

/** Expand arguments into files: a directory gives its images (recursively, sorted); a missing path is an error entry. */
function describeCode (err: any): string {
  if (err?.code === 'EACCES' || err?.code === 'EPERM') return 'permission denied'
  return String(err?.message ?? err)
}

export async function expandInputs (inputs: readonly string[]): Promise<Array<{ file: string, error?: string }>> {
  const out: Array<{ file: string, error?: string }> = []
  // Directories by device and inode, so a symbolic link back up the tree is walked once.
  const seen = new Set<string>()
  const walk = async (dir: string): Promise<void> => {
    let entries
    try {
      const info = await stat(dir)
      const id = `${info.dev}:${info.ino}`
      if (seen.has(id)) return
      seen.add(id)
      entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }))
    } catch (err: any) {
      out.push({ file: dir, error: `cannot read the directory (${describeCode(err)})` })
      return
    }
    for (const e of entries) {
      const path = join(dir, e.name)
      let isDir = e.isDirectory()
      let isFile = e.isFile()
      if (e.isSymbolicLink()) {
        // Followed, as a link named on the command line is; a broken one is reported if it looks like an image.
        try {
          const target = await stat(path)
          isDir = target.isDirectory()
          isFile = target.isFile()
        } catch {
          if (IMAGE_EXTENSIONS.has(extname(e.name).toLowerCase())) out.push({ file: path, error: 'a broken symbolic link' })
          continue
        }
      }
      if (isDir) await walk(path)
      else if (isFile && IMAGE_EXTENSIONS.has(extname(e.name).toLowerCase())) out.push({ file: path })
    }
  }
  for (const input of inputs) {
    let info
    try {
      info = await stat(input)
    } catch (err: any) {
      out.push({ file: input, error: err?.code === 'ENOENT' ? 'no such file or directory' : `cannot read (${String(err?.message)})` })
      continue
    }
    if (info.isDirectory()) {
      const before = out.length
      await walk(input)
      if (out.length === before) out.push({ file: input, error: 'the directory holds no images (png, jpg, jpeg, webp, tif, tiff, gif)' })
    } else if (info.isFile()) {
      out.push({ file: input })
    } else {
      // A pipe or a device would block the read for ever.
      out.push({ file: input, error: 'not a regular file (a pipe, socket or device)' })
    }
  }
  return out
}

/** `--scans`: the files as the pages of one document, or why they cannot be. */
async function scansDocument (inputs: readonly string[], files: ReadonlyArray<{ file: string, error?: string }>,
  readCrop: (png: Uint8Array, name: string) => Promise<OcrResult>, format?: ExportFormat): Promise<OcrLine> {
  const made = await scansFromInputs(inputs, files)
  return 'error' in made ? made : await documentLine(made.pdf, made.name, readCrop, format)
}

function lineOf (file: string, r: OcrResult): OcrLine {
  return {
    file,
    latex: r.latex,
    confidence: r.confidence,
    alternatives: r.alternatives,
    regions: r.regions.map(g => ({ bbox: g.bbox, latex: g.latex, confidence: g.confidence, parse: g.parse, alternatives: g.alternatives, ...(g.unreadable != null ? { unreadable: g.unreadable } : {}) })),
    model: r.model,
    ms: r.ms,
    ...(r.rotated != null ? { rotated: r.rotated } : {}),
    ...(r.unreadable != null ? { unreadable: r.unreadable } : {})
  }
}

function human (raw: OcrLine): string {
  // File names come from the file system: their control characters are shown, not obeyed.
  const line = { ...raw, file: printable(raw.file) } as OcrLine
  if ('error' in line) return `${line.file}: error: ${printable(line.error)}`
  if ('formulas' in line) return humanDocument(raw as DocumentLine)
  const conf = `(confidence ${line.confidence.toFixed(2)}, ${line.ms.toFixed(0)} ms${line.rotated != null ? `, read turned ${line.rotated}°` : ''}${line.unreadable != null ? `, not read: ${line.unreadable.detail}` : ''}${line.belowMinConfidence === true ? ', below --min-confidence: not trusted' : ''})`
  if (line.regions.length === 1) return `${line.file}\t${line.latex}\t${conf}`
  return [`${line.file}\t${line.regions.length} regions\t${conf}`, ...line.regions.map((g, i) => `  ${i + 1}. ${g.latex}\t(confidence ${g.confidence.toFixed(2)})`)].join('\n')
}

/** Run the command; returns how many files failed. */
export async function runOcr (inputs: readonly string[], options: OcrCommandOptions): Promise<{ failed: number, unreadable: number, below: number, total: number }> {
  const files = await expandInputs(inputs)
  // One image at a time runs in this thread; more run on a pool of worker threads (onnxruntime
  // blocks the thread that calls it, so images in one thread only take turns).
  const jobs = Math.max(1, Math.min(options.jobs ?? imagesPerCore(), files.length))
  const common = {
    ...(options.model != null ? { modelDir: options.model } : {}),
    ...(options.threads != null ? { threads: options.threads } : {})
  }
  const pipeline: Pick<OcrPipeline, 'recognize' | 'release'> = jobs > 1 ? await OcrPool.load({ ...common, size: jobs }) : await OcrPipeline.load(common)
  // (--scans reads one document: no bar by images.)
  const barWanted = files.length > 1 && process.stderr.isTTY === true && options.scans !== true
  // When results and the bar share one terminal, results are printed above the bar.
  const shared = barWanted && process.stdout.isTTY === true
  const multibar = barWanted
    ? new cliProgress.MultiBar({ stream: process.stderr, format: 'ocr [{bar}] {value}/{total} images | {eta_formatted} left', hideCursor: true, clearOnComplete: true }, cliProgress.Presets.shades_classic)
    : undefined
  const bar = multibar?.create(files.length, 0)
  const emit = (text: string, error: boolean): void => {
    if (shared && multibar != null) multibar.log(text + '\n')
    else if (error && options.json !== true) process.stderr.write(text + '\n')
    else process.stdout.write(text + '\n')
  }
  const readCrop = async (png: Uint8Array, name: string): Promise<OcrResult> => await pipeline.recognize(png, name, { beam: options.beam ?? DEFAULT_BEAM })
  if (options.scans === true) {
    // One document of every image named: its pages in the order given (a folder's in name order).
    try {
      const line = await scansDocument(inputs, files, readCrop, options.export)
      emit(options.json === true ? JSON.stringify(line) : human(line), 'error' in line)
      return { failed: 'error' in line ? 1 : 0, unreadable: 0, below: 0, total: 1 }
    } finally {
      await pipeline.release()
    }
  }
  const recognise = async (f: { file: string, error?: string }): Promise<OcrLine> => {
    if (f.error != null) return { file: f.file, error: f.error, reason: 'unreadable' }
    try {
      const bytes = await readFile(f.file)
      if (isPdf(bytes)) return await documentLine(bytes, f.file, readCrop, options.export)
      if (await isMultiPageTiff(bytes)) {
        const made = await scansPdf([{ name: f.file, bytes }], f.file)
        return 'error' in made ? made : await documentLine(made.pdf, made.name, readCrop, options.export)
      }
      return lineOf(f.file, await pipeline.recognize(bytes, f.file, { beam: options.beam ?? DEFAULT_BEAM }))
    } catch (err: any) {
      if (err instanceof ImageError) return { file: f.file, error: err.message.replace(`${f.file}: `, ''), reason: err.reason }
      if (typeof err?.code === 'string') return { file: f.file, error: `cannot read (${String(err.message)})`, reason: 'unreadable' }
      throw err
    }
  }
  // Up to `jobs` images in flight; each one that ends starts the next. Lines come out in input order.
  const lines: Array<Promise<OcrLine>> = []
  let stopped = false
  const launch = (): void => {
    const f = files[lines.length]
    if (f == null || stopped) return
    const line = recognise(f).finally(launch)
    line.catch(() => {}) // awaited below, in order; not an unhandled rejection meanwhile
    lines.push(line)
  }
  for (let k = 0; k < jobs; k++) launch()
  let failed = 0
  let below = 0
  let unreadable = 0
  try {
    for (let i = 0; i < files.length; i++) {
      const line = await lines[i]!
      if ('error' in line) failed++
      else if (!('formulas' in line)) {
        if (line.unreadable != null) unreadable++
        if (options.minConfidence != null && line.confidence < options.minConfidence) {
          line.belowMinConfidence = true
          below++
        }
      }
      emit(options.json === true ? JSON.stringify(line) : human(line), 'error' in line)
      bar?.increment()
    }
  } finally {
    stopped = true
    // The bar prints logged lines at its next redraw, and stop() does not redraw: draw once more so
    // the last results are not lost with the bar.
    multibar?.update()
    multibar?.stop()
    await pipeline.release()
  }
  return { failed, unreadable, below, total: files.length }
}

export function addOcrCommand (program: Command): void {
  withJson(program.command('ocr'))
    .description('recognise images of formulas, and the formulas of documents, on this machine (no daemon or network needed)')
    .argument('<file-or-dir...>', 'images (PNG, JPEG, WebP, TIFF, GIF), PDFs, or directories of them')
    .option('--beam <n>', 'beam width (default 5; 1 is greedy)', parsePositive('--beam', 32))
    .option('--jobs <n>', 'images recognised at once (default: one per core, at most 8)', parsePositive('--jobs', 64))
    .option('--threads <n>', 'onnxruntime threads per image (default 1: faster for this model than splitting one image)', parsePositive('--threads', 256))
    .option('--model <dir>', 'model folder (default: the shipped model)')
    .option('--min-confidence <p>', 'an answer less confident than this (0-1) is a miss: marked, and the exit code is 1', parseProbability('--min-confidence'))
    .option('--scans', 'take the images as the pages of one document (a folder of page scans, in name order) and find their formulas')
    .addOption(new Option('--export <format>', 'a PDF as Markdown with its formulas in place ($...$, $$...$$), or as a LaTeX file of its formulas, instead of the list').choices(['markdown', 'latex']))
    .addHelpText('after', `
With --json, one JSON object per image and line:
  {"file", "latex", "confidence", "alternatives": [{"latex", "score"}],
   "regions": [{"bbox": {"x", "y", "width", "height"}, "latex", "confidence", ...}], "model", "ms"}
(with "rotated": 90 or 270 when read turned, "unreadable": {"reason": "array" | "text", "detail"}
when the image is a matrix or prose, which the model cannot read (confidence 0), and
"belowMinConfidence": true for a miss) and for a file that failed {"file", "error", "reason"}.
A PDF gives one object: {"file", "pages": [{"page", "formulas", "scanned"}], "formulas": [{"page",
"box": {"x", "y", "width", "height"} (points from the page's top left), "display", "latex",
"confidence", "alternatives"}], "ms"}, its formulas in reading order. Formulas are found in the
PDF's text layer (math fonts); on pages without one (scans) they are found in the pixels. A TIFF
of several pages, and with --scans all the images named, are read as one such document.
"score" is a log-probability; "confidence" is calibrated: about that share of such answers is right.
The exit code is 1 if any file failed, was not a formula the model can read, or gave an answer below
--min-confidence; every file is still processed.`)
    .action(async (inputs: string[], opts: { json?: boolean, beam?: number, threads?: number, jobs?: number, model?: string, minConfidence?: number, export?: ExportFormat, scans?: boolean }, cmd: Command) => {
      if (opts.export != null && opts.json === true) cmd.error('--export and --json: choose one')
      const { failed, unreadable, below, total } = await runOcr(inputs, opts)
      if (failed > 0 || unreadable > 0 || below > 0) {
        if (opts.json !== true) {
          if (failed > 0) process.stderr.write(`texmesh: ${failed} of ${total} files failed\n`)
          if (unreadable > 0) process.stderr.write(`texmesh: ${unreadable} of ${total} images are not formulas this model can read\n`)
          if (below > 0) process.stderr.write(`texmesh: ${below} of ${total} answers below --min-confidence ${opts.minConfidence!}\n`)
        }
        process.exitCode = 1
      }
    })
}
