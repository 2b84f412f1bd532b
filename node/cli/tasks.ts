import { readFile, stat } from 'node:fs/promises'
import cliProgress from 'cli-progress'
import { ApiClient } from './client.js'
import { MAX_TASK_NAME } from '../daemon/api.js'
import { MAX_IMAGE_BYTES } from '../../protocols/blob/index.js'
import { ApiError, TexmeshError } from '../errors.js'
import { expandInputs } from './ocr.js'
import { isMultiPageTiff, isPdf, scansFromInputs } from './ocr-document.js'
import { DOCUMENT_ID, documentFailed, humanDocumentView, runDocumentResult, waitDocuments } from './documents.js'
import type { DocumentView } from '../daemon/documents.js'
import { printable } from './terminal.js'
import type { ReviewView } from '../daemon/task-view.js'
import type { TaskView } from '../daemon/work.js'
import { Option, type Command } from 'commander'
import { dataDirOf, parsePositive, withDataDir, withJson, type CommonOptions } from './options.js'

/**
 * `texmesh submit`, `texmesh result` and `texmesh tasks`: hand images to the
 * running node's network and follow them, through the node's local API.
 */

/** Polling the local API; a task finishes in milliseconds to seconds. */
const POLL_MS = 200
export const DEFAULT_WAIT_SECONDS = 600

/** One line of output: the task and, once known, its result in the shape `texmesh ocr --json` uses. */
export type TaskLine =
  | { file: string, id: string, state: string, hash: string, critical: boolean, cached?: boolean, latex?: string, confidence?: number, alternatives?: unknown[], regions?: unknown[], model?: string, ms?: number | null, by?: string, unreadable?: { reason: string, detail: string }, certificate?: unknown, review?: ReviewView, rankedUp?: { from: string, alternative: number }, reused?: { hash: string, kind: string, cosine: number, read: string }, votes?: unknown[], quorum?: unknown, failures?: Array<{ peer: string, reason: string }>, error?: string }
  | { file: string, error: string, reason: string }

export class WaitTimeoutError extends TexmeshError {
  static override readonly defaultName = 'WaitTimeoutError'
}

/** The same line with its file name, answer and error made safe for a terminal (terminal.ts). */
function printableLine (line: TaskLine): TaskLine {
  const out = { ...line, file: printable(line.file) } as TaskLine & { latex?: unknown, error?: unknown }
  if (typeof out.latex === 'string') out.latex = printable(out.latex)
  if (typeof out.error === 'string') out.error = printable(out.error)
  return out
}

export function lineOfTask (t: TaskView, file = t.file): TaskLine {
  const line: TaskLine = { file, id: t.id, state: t.state, hash: t.hash, critical: t.critical }
  if (t.cached) line.cached = true
  if (t.result != null) {
    const { file: _f, ...result } = t.result
    Object.assign(line, result)
  }
  if (t.state === 'failed') line.error = `no node could process it: ${t.failures.map(f => f.reason).join('; ')}`
  else if (t.failures.length > 0 && !finished(t)) line.failures = t.failures
  if (t.state === 'no-consensus') {
    const votes = (t.votes ?? []) as Array<{ voter: string, latex: string }>
    line.error = `no consensus: ${votes.length} votes, no answer had enough`
    line.votes = t.votes ?? []
  }
  if (t.quorum != null) line.quorum = t.quorum
  return line
}

function human (raw: TaskLine): string {
  const line = printableLine(raw)
  if (!('id' in line)) return `${line.file}: error: ${line.error}`
  if (line.state === 'failed' || line.state === 'no-consensus') {
    const votes = (line.votes ?? []) as Array<{ voter: string, latex: string }>
    return [`${line.file}\t${line.id}\t${line.state}\t${line.error ?? ''}`, ...votes.map(v => `  ${printable(String(v.voter))}: ${printable(String(v.latex))}`)].join('\n')
  }
  if (line.latex == null) {
    const q = line.quorum as { state?: string, reason?: string } | undefined
    const failures = line.failures != null ? `\t(failed on ${line.failures.length} node${line.failures.length > 1 ? 's' : ''} so far: ${line.failures.map(f => printable(String(f.reason))).join('; ')})` : ''
    return `${line.file}\t${line.id}\t${line.state}${q?.reason != null ? `\t${q.reason}` : q?.state != null ? `\t(quorum: ${q.state})` : ''}${failures}`
  }
  const regions = (line.regions ?? []) as Array<{ latex: string }>
  const how = `(confidence ${(line.confidence ?? 0).toFixed(2)}${line.unreadable != null ? `, not read: ${printable(line.unreadable.detail)}` : ''}${line.cached === true ? ', from the store' : ''}${line.certificate != null ? `, certified by ${(line.certificate as { votes: unknown[] }).votes.length} voters` : ''}${reviewText(line.review)}${line.rankedUp != null ? `, alternative ${line.rankedUp.alternative} ranked up (a formula reviewers settled on before; the model said ${printable(line.rankedUp.from)})` : ''}${line.reused != null ? `, from memory: a near duplicate (cosine ${line.reused.cosine.toFixed(3)}) of image ${line.reused.hash.slice(0, 12)}, whose answer was ${line.reused.kind}; the model read ${printable(line.reused.read)}` : ''})`
  if (regions.length <= 1) return `${line.file}\t${line.id}\t${line.latex}\t${how}`
  return [`${line.file}\t${line.id}\t${regions.length} regions\t${how}`, ...regions.map((g, i) => `  ${i + 1}. ${printable(String(g.latex))}`)].join('\n')
}

/** What reviews say, as the human line shows it. */
function reviewText (r: ReviewView | undefined): string {
  if (r == null) return ''
  const who = `${r.by.length} reviewer${r.by.length > 1 ? 's' : ''} (${r.by.map(b => `…${b.slice(-8)}`).join(', ')})`
  const others = r.others.length > 0 ? `; ${r.others.reduce((n, o) => n + o.by.length, 0)} disagree` : ''
  if (r.state === 'corrected') return `, corrected by ${who}; the model said ${printable(r.original?.latex ?? '?')}${others}`
  if (r.state === 'disputed') return `, disputed: ${who} say ${printable(r.latex)}${others}`
  return `, confirmed by ${who}${others}`
}

const finished = (t: TaskView): boolean => t.state === 'done' || t.state === 'failed' || t.state === 'no-consensus'

async function sleep (ms: number): Promise<void> { await new Promise(resolve => setTimeout(resolve, ms)) }

/**
 * Poll until every task has finished or the deadline passes; `onDone` sees
 * each as it finishes. `out` is updated in place, so a caller whose wait ends
 * in an error still has each task's latest state.
 */
async function waitAll (client: ApiClient, out: TaskView[], seconds: number, onDone: (t: TaskView) => void, hint = ''): Promise<TaskView[]> {
  const deadline = Date.now() + seconds * 1000
  let open = out.map((t, i) => i).filter(i => !finished(out[i]!))
  for (const t of out) if (finished(t)) onDone(t)
  while (open.length > 0) {
    if (Date.now() > deadline) {
      throw new WaitTimeoutError(`${open.length} of ${out.length} task${out.length > 1 ? 's' : ''} not finished after ${seconds} s${hint}`)
    }
    await sleep(POLL_MS)
    const still: number[] = []
    for (const i of open) {
      const t = await client.get<TaskView>(`/v1/tasks/${encodeURIComponent(out[i]!.id)}`)
      out[i] = t
      if (finished(t)) onDone(t)
      else still.push(i)
    }
    open = still
  }
  return out
}

export interface SubmitOptions { critical?: boolean, wait?: boolean, json?: boolean, timeout?: number, scans?: boolean }

/** A file submitted: an image's task, a document, or why it was not submitted. */
interface Slot { file: string, task?: TaskView, doc?: DocumentView, line?: TaskLine }

/** Submit every image; returns how many failed (unreadable, refused, or a task that failed). */
export async function runSubmit (client: ApiClient, inputs: readonly string[], options: SubmitOptions): Promise<{ failed: number, total: number }> {
  let files = await expandInputs(inputs)
  // --scans: every image one page of a document, made a PDF here and handed over as one.
  let scanned: { name: string, pdf: Uint8Array } | undefined
  if (options.scans === true) {
    const made = await scansFromInputs(inputs, files)
    if ('error' in made) {
      if (options.json === true) process.stdout.write(JSON.stringify(made) + '\n')
      else process.stderr.write(human(made) + '\n')
      return { failed: 1, total: 1 }
    }
    scanned = made
    files = [{ file: made.name }]
  }
  const emit = (line: TaskLine): void => {
    const text = options.json === true ? JSON.stringify(line) : human(line)
    if (!('id' in line) && options.json !== true) process.stderr.write(text + '\n')
    else process.stdout.write(text + '\n')
  }
  const slots: Slot[] = []
  for (const f of files) {
    if (f.error != null) {
      slots.push({ file: f.file, line: { file: f.file, error: f.error, reason: 'unreadable' } })
      continue
    }
    try {
      // Over the node's limit: refused here, one file's failure (the node would cut the upload short).
      const size = scanned?.pdf.length ?? (await stat(f.file)).size
      if (size > MAX_IMAGE_BYTES) {
        slots.push({ file: f.file, line: { file: f.file, error: `the image is ${(size / 2 ** 20).toFixed(1)} MiB, over the node's size limit (${MAX_IMAGE_BYTES / 2 ** 20} MiB)`, reason: 'too-large' } })
        continue
      }
      const bytes = scanned?.pdf ?? await readFile(f.file)
      if (isPdf(bytes) || await isMultiPageTiff(bytes)) {
        // A document: the node finds its formulas and hands each to the network as a task.
        if (options.critical === true && options.json !== true) process.stderr.write(`texmesh: ${printable(f.file)}: --critical does not apply to documents yet; its formulas go to the network as ordinary tasks\n`)
        slots.push({ file: f.file, doc: await client.postBytes<DocumentView>(`/v1/documents?name=${encodeURIComponent(taskName(f.file))}`, bytes, isPdf(bytes) ? 'application/pdf' : 'image/tiff') })
        continue
      }
      const query = `name=${encodeURIComponent(taskName(f.file))}${options.critical === true ? '&critical=true' : ''}`
      slots.push({ file: f.file, task: await client.postBytes<TaskView>(`/v1/tasks?${query}`, bytes) })
    } catch (err: any) {
      if (err instanceof ApiError && err.status === 422) {
        const body = err.body as { reason?: string } | undefined
        slots.push({ file: f.file, line: { file: f.file, error: err.message.replace(`${taskName(f.file)}: `, ''), reason: body?.reason ?? 'refused' } })
      } else if (err instanceof ApiError && err.status === 413) {
        slots.push({ file: f.file, line: { file: f.file, error: `the image is over the node's size limit (${MAX_IMAGE_BYTES / 2 ** 20} MiB)`, reason: 'too-large' } })
      } else if (err instanceof ApiError && err.status < 500) {
        slots.push({ file: f.file, line: { file: f.file, error: `the node refused it: ${err.message}`, reason: 'refused' } })
      } else if (typeof err?.code === 'string' && !(err instanceof TexmeshError)) {
        slots.push({ file: f.file, line: { file: f.file, error: `cannot read (${String(err.message)})`, reason: 'unreadable' } })
      } else {
        // The node went away: say what was handed over before it did.
        report(slots, emit, options.json === true)
        throw err
      }
    }
  }
  const docs = slots.filter(s => s.doc != null).map(s => s.doc!)
  if (options.wait === true && docs.length > 0) {
    const bar = process.stderr.isTTY === true
      ? new cliProgress.SingleBar({ stream: process.stderr, format: 'pages [{bar}] {value}/{total} done | {eta_formatted} left', hideCursor: true, clearOnComplete: true }, cliProgress.Presets.shades_classic)
      : undefined
    bar?.start(1, 0)
    try {
      await waitDocuments(client, docs, options.timeout ?? DEFAULT_WAIT_SECONDS, (done, total) => { bar?.setTotal(Math.max(1, total)); bar?.update(done) })
    } catch (err) {
      // A wait that times out still prints every document and task, in its latest state.
      bar?.stop()
      for (const s of slots) if (s.doc != null) s.doc = docs.find(d => d.id === s.doc!.id) ?? s.doc
      report(slots, emit, options.json === true)
      throw err
    }
    bar?.stop()
    for (const s of slots) if (s.doc != null) s.doc = docs.find(d => d.id === s.doc!.id) ?? s.doc
  }
  const submitted = slots.filter(s => s.task != null)
  if (options.wait === true && submitted.length > 0) {
    const bar = submitted.length > 1 && process.stderr.isTTY === true
      ? new cliProgress.SingleBar({ stream: process.stderr, format: 'tasks [{bar}] {value}/{total} done | {eta_formatted} left', hideCursor: true, clearOnComplete: true }, cliProgress.Presets.shades_classic)
      : undefined
    bar?.start(submitted.length, 0)
    const tasks = submitted.map(s => s.task!)
    try {
      await waitAll(client, tasks, options.timeout ?? DEFAULT_WAIT_SECONDS, () => { bar?.increment() }, ' (follow them with: texmesh result ID --wait)')
    } catch (err) {
      // A wait that times out or loses the node still prints every task, in its latest state.
      bar?.stop()
      submitted.forEach((s, i) => { s.task = tasks[i] })
      report(slots, emit, options.json === true)
      throw err
    }
    bar?.stop()
    submitted.forEach((s, i) => { s.task = tasks[i] })
  }
  return { failed: report(slots, emit, options.json === true), total: slots.length }
}

/** One line per file, in input order; how many of them failed. */
function report (slots: Slot[], emit: (line: TaskLine) => void, json: boolean): number {
  let failed = 0
  for (const s of slots) {
    if (s.doc != null) {
      process.stdout.write((json ? JSON.stringify({ ...s.doc, file: s.file }) : humanDocumentView(s.doc)) + '\n')
      // A document refused, interrupted, or with formulas that failed counts as failed.
      if (documentFailed(s.doc)) failed++
      continue
    }
    const line = s.line ?? lineOfTask(s.task!, s.file)
    if ('error' in line && line.error != null) failed++
    emit(line)
  }
  return failed
}

/** The name a task carries: the path as given, its end kept when it is longer than the node takes. */
function taskName (file: string): string {
  return file.length <= MAX_TASK_NAME ? file : '…' + file.slice(file.length - MAX_TASK_NAME + 1)
}

export async function runResult (client: ApiClient, id: string, options: { wait?: boolean, json?: boolean, timeout?: number }): Promise<TaskView> {
  let task: TaskView
  try {
    task = await client.get<TaskView>(`/v1/tasks/${encodeURIComponent(id)}`)
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) throw new TexmeshError(`this node has no task ${id} (texmesh tasks lists them)`)
    throw err
  }
  if (options.wait === true) [task] = await waitAll(client, [task], options.timeout ?? DEFAULT_WAIT_SECONDS, () => {}, ' (it goes on; wait longer with --timeout S)') as [TaskView]
  const line = lineOfTask(task)
  process.stdout.write((options.json === true ? JSON.stringify(line) : human(line)) + '\n')
  return task
}

export async function runTasks (client: ApiClient, options: { json?: boolean, limit?: number }): Promise<void> {
  const tasks = await client.get<TaskView[]>(`/v1/tasks?limit=${options.limit ?? 50}`)
  if (options.json === true) {
    for (const t of tasks) process.stdout.write(JSON.stringify(lineOfTask(t)) + '\n')
    return
  }
  if (tasks.length === 0) {
    process.stdout.write('no tasks on this node (texmesh submit FILE hands one over)\n')
    return
  }
  // The node whose result finished the task; before that, the one it was last handed to.
  const worker = (t: TaskView): string => t.result?.by ?? t.workers[t.workers.length - 1] ?? '-'
  const rows = tasks.map(t => [t.id, t.state + (t.cached ? ' (store)' : ''), t.submittedAt.slice(11, 19), worker(t).slice(-8), printable(t.file)])
  const header = ['TASK', 'STATE', 'SUBMITTED', 'WORKER', 'FILE']
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map(r => r[i]!.length)))
  process.stdout.write([header, ...rows].map(r => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n')
}

/** `texmesh submit` and `texmesh result`. */
export function addSubmitCommands (program: Command): void {
  withJson(withDataDir(program.command('submit')))
    .description("hand images and PDFs to the running node's network; each image gets a task id, each PDF a document id")
    .argument('<file-or-dir...>', 'images (PNG, JPEG, WebP, TIFF, GIF), PDFs, or directories of them')
    .option('--critical', 'mark the images critical (several nodes must agree; see the README)')
    .option('--wait', 'wait for every result (a progress bar on a terminal), then print them in input order')
    .option('--timeout <seconds>', `with --wait, give up after this long (default ${DEFAULT_WAIT_SECONDS})`, parsePositive('--timeout', 86_400))
    .option('--scans', 'hand the images over as the pages of one document (a folder of page scans, in name order)')
    .addHelpText('after', `
An image that the network has already read (same bytes, same model) is answered at once.
With --json, one JSON object per image and line: {"file", "id", "state", "hash", "critical"}
and, once known, the result in the shape texmesh ocr --json uses ("latex", "confidence",
"alternatives", "regions", "model", "ms") and "by" (the peer that read it).
A file that could not be submitted gives {"file", "error", "reason"}. The exit code is 1 if any failed.

A PDF: the node finds its formulas (in its text layer, or in the pixels of a scanned page) and
hands each to the network as a task; the document gets an id that texmesh result follows. A TIFF
of several pages, and with --scans all the images named, are handed over as one such document. --wait shows a progress bar by pages. With --json:
{"file", "id", "state", "pages", "pagesDone", "formulas": [{"page", "box", "display", "task",
"state", "latex", "confidence", "alternatives"}]}, formulas in reading order.`)
    .action(async (inputs: string[], opts: CommonOptions & { critical?: boolean, wait?: boolean, timeout?: number, scans?: boolean }) => {
      const client = await ApiClient.forDataDir(dataDirOf(opts))
      const { failed, total } = await runSubmit(client, inputs, opts)
      if (failed > 0) {
        if (opts.json !== true) process.stderr.write(`texmesh: ${failed} of ${total} images failed\n`)
        process.exitCode = 1
      }
    })

  withJson(withDataDir(program.command('result')))
    .description('show a submitted task and its result, or a submitted document and its formulas')
    .argument('<id>', 'the task or document id texmesh submit printed')
    .option('--wait', 'wait until the task has finished')
    .option('--timeout <seconds>', `with --wait, give up after this long (default ${DEFAULT_WAIT_SECONDS})`, parsePositive('--timeout', 86_400))
    .addOption(new Option('--export <format>', 'a document: as Markdown with its formulas in place, or as a LaTeX file of its formulas').choices(['markdown', 'latex']))
    .action(async (id: string, opts: CommonOptions & { wait?: boolean, timeout?: number, export?: 'markdown' | 'latex' }, cmd: Command) => {
      const client = await ApiClient.forDataDir(dataDirOf(opts))
      if (opts.export != null && !DOCUMENT_ID.test(id)) cmd.error('--export is for a document id (d and 16 hex digits)')
      if (DOCUMENT_ID.test(id)) {
        const doc = await runDocumentResult(client, id, opts, DEFAULT_WAIT_SECONDS)
        if (documentFailed(doc)) process.exitCode = 1
        return
      }
      const task = await runResult(client, id, opts)
      if (task.state === 'failed' || task.state === 'no-consensus') process.exitCode = 1
    })
}

/** `texmesh tasks`. */
export function addTasksCommand (program: Command): void {
  withJson(withDataDir(program.command('tasks')))
    .description('list the tasks submitted to the running node, newest first')
    .option('--limit <n>', 'how many (default 50)', parsePositive('--limit', 10_000))
    .action(async (opts: CommonOptions & { limit?: number }) => {
      await runTasks(await ApiClient.forDataDir(dataDirOf(opts)), opts)
    })
}
