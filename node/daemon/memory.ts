import type { Replica } from '../../crdt/replica.js'
import type { CorrectionEntry, ResultEntry } from '../../crdt/schemas.js'
import { isConfirmation } from '../../review/verdict.js'
import { SHA256_HEX } from '../../util/sha256.js'
import { isoTime } from '../../util/time.js'
import { canonicalize } from '../../pipeline/latex/canonical.js'
import { DIMENSIONS, embedFormula, embeddingFingerprint } from '../../memory/embedding.js'
import { cosine, rerankCount, VectorIndex } from '../../memory/index.js'
import { readSnapshot, type Snapshot } from '../../memory/snapshot.js'
import { mergeSegments, savedEntries, savedFormulas, UnusableCopyError, writeCopy } from './memory-saved.js'
import { giveWay, inSlices, SLICE_MS } from '../../util/slices.js'
import { Backlog } from '../../util/backlog.js'
import { embeddingOrUnit, Entries, kindOf, printOf, queryVector, samePrint, savedKey, sourceCode, Sources, timeOf, type Print } from './memory-held.js'
import { FormulaTable } from './memory-formulas.js'
import { hashString } from '../../util/id-table.js'
export { MAX_K, MAX_QUERY_LATEX, SearchError } from './memory-held.js'
import type { Log } from '../log.js'
import { EVERY_REVIEWER, type Reviewers } from './reviews.js'

/**
 * Formula memory on a node: every formula the replicated store holds (results, each region of a
 * many-formula image, and reviewers' corrections), one entry per canonical form, with where it
 * came from; a vector index over their structural embeddings (memory/), built from the replica at
 * start and kept current as entries arrive; and search by LaTeX.
 *
 * With a folder to keep it in, the index is saved there (memory/snapshot.ts) a while after it
 * changes and when the node stops, with the formulas and, per store entry, a print of what it
 * held and the formulas it gave. A start then loads the saved index and goes over the store:
 * entries whose print is unchanged take their formulas from the copy (no parsing, embedding or
 * indexing); the others (written since, for example before a kill -9) are added as new. A copy
 * that cannot be used (another embedding, missing or damaged files) means a full build.
 */

/** Where a formula came from: an image's result (by the node that read it) or a reviewer's correction or confirmation. */
export interface FormulaSource {
  hash: string
  by: string
  time: string
  kind: 'result' | 'region' | 'correction' | 'confirmation'
  /** for a result: the task it answered, an id of the node the image was handed to */
  task?: string
  /** the result carries a quorum certificate that this node checked and that holds */
  certified: boolean
}

/** One search hit: a formula (canonical), its similarity to the query (cosine, 1 = same features), its sources (the latest MAX_SOURCES) and how many there are. */
export interface FormulaHit { latex: string, score: number, sources: FormulaSource[], sourceCount: number }

/** Sources listed per formula in a hit (the rest are counted). */
const MAX_SOURCES = 20
/** The memory cannot answer: its build failed (see the node's log). */
export class MemoryUnavailableError extends Error {}
/** The memory is still being built from the store (a node just started): ask again shortly. */
export class MemoryLoadingError extends MemoryUnavailableError {}

/** At a stop, changes still in the backlog are taken for at most this long before the save. */
const STOP_DRAIN_MS = 2000
/** After a change, the index is saved once this long has passed, and at least SAVE_SPACING times as long as the last save took. */
export const SAVE_AFTER_MS = 30_000
const SAVE_SPACING = 20

/** A saved copy in which more than this share of the formulas has no entry left in the store is dropped, and the memory built afresh. */
const MAX_ORPHANS = 0.2

/** What a build took: formulas before it, store entries, those whose formulas came from the copy, the copy's entries, and whether an earlier version saved the copy. */
interface Built { before: number, entries: number, reused: number, saved: number, outdated: boolean }

/** How the memory started: from a saved copy (and how many store entries it had as they are), or built. */
export interface MemoryStart { from: 'saved' | 'built', formulas: number, added: number, reused: number, ms: number, unusable?: string }

export class FormulaMemory {
  private index: VectorIndex
  /** the formulas by id (the same as in the index), distinct, those saved read from the saved copy */
  private formulas = new FormulaTable()
  /** by formula id, its sources: entry key -> time and kind (sourceCode); a search reads the rest (task, certificate) */
  private readonly sources = new Sources()
  /** each store entry (its key): a print of what it held, and the formulas it gave (so that a rewritten entry leaves its old ones) */
  private readonly byEntry = new Entries()
  private readonly unsubscribe: () => void
  private readonly backlog: Backlog<'results' | 'corrections'>
  /** during the start, the saved copy's entries (print and formula ids) */
  private saved: Map<string, { print: Print, ids: number[] }> | undefined
  private timer: ReturnType<typeof setTimeout> | undefined
  private lastSaveMs = 0
  private changed = false
  /** true until the build at start is done: search is refused meanwhile (MemoryLoadingError), and nothing is saved */
  loading = true
  /** why the build at start failed, if it did: search is refused (MemoryUnavailableError) */
  failed: string | undefined
  private stopped = false
  /** how the start went, once the build is done */
  started: MemoryStart | undefined
  /** resolves with how the start went once the memory holds the whole store */
  readonly ready: Promise<MemoryStart>

  /**
   * `holds`: whether a result's certificate was checked here and holds (node/daemon/certified.ts);
   * `reviewers`: whose reviews count (a revoked member's corrections are no source);
   * `dir`: where the index is saved (none: built at every start, never saved).
   */
  constructor (private readonly replica: Replica, private readonly holds: (hash: string, author: string) => boolean, private readonly log: Log,
    private readonly reviewers: Reviewers = EVERY_REVIEWER, private readonly dir?: string) {
    this.index = new VectorIndex(DIMENSIONS)
    // Followed from the start: an entry changed while the build is under way is taken at once, and
    // again (as it is then) if the build reaches it later.
    // Indexing a formula takes about a millisecond: changes wait in a backlog while the replica has
    // envelopes to apply, so a node catching up holds them at the store's pace; its memory follows.
    // Keyed as savedKey does: a node's result and its review of one image share the store key.
    this.backlog = new Backlog<'results' | 'corrections'>((tagged, map) => {
      const key = map === 'results' ? tagged : tagged.slice('corrections:'.length)
      const slash = key.lastIndexOf('/')
      const hash = key.slice(0, slash)
      const author = key.slice(slash + 1)
      if (map === 'results') this.setResult(key, hash, author, replica.results(hash).get(author))
      else this.setReview(key, hash, author, replica.corrections(hash).get(author))
      this.changed = true
      this.scheduleSave()
    }, () => replica.busy())
    this.unsubscribe = replica.subscribe(change => {
      const slash = change.key.lastIndexOf('/')
      if (slash < 0 || !SHA256_HEX.test(change.key.slice(0, slash))) return
      if (change.map === 'results' || change.map === 'corrections') this.backlog.add(change.map === 'results' ? change.key : `corrections:${change.key}`, change.map)
    })
    this.ready = new Promise<void>(resolve => { this.begin = resolve }).then(async () => await this.load(replica))
    // A failed build is logged where it is awaited (start.ts); search and status say so.
    this.ready.catch((err: unknown) => {
      if (this.stopped) return
      this.failed = err instanceof Error ? err.message : String(err)
      this.loading = false
      // Nothing more is indexed or saved for a memory search refuses.
      this.backlog.stop()
    })
  }

  /** Start building from the store (a node calls it once it serves: the build shares its event loop). */
  begin: () => void = () => {}

  /**
   * Load the saved copy and go over the store, in slices that leave the event loop free between
   * them (util/slices.ts): a node serves while the memory of a large store is built.
   */
  private async load (replica: Replica): Promise<MemoryStart> {
    const t0 = performance.now()
    if (this.stopped) throw new MemoryLoadingError('the node stopped before the formula memory was built')
    const copy = this.dir != null ? await readSnapshot(this.dir, DIMENSIONS, embeddingFingerprint()) : undefined
    let usable = copy != null && !('unusable' in copy) ? copy : undefined
    let unusable = copy != null && 'unusable' in copy ? copy.unusable : undefined
    let done: Built | undefined
    if (usable != null) {
      try {
        // Read whole before the build, which takes them in one go.
        const formulas = new FormulaTable()
        if (await savedFormulas(usable, formulas, () => this.stopped)) done = await this.build(replica, { copy: usable, formulas })
      } catch (err) {
        if (!(err instanceof UnusableCopyError)) throw err
        unusable = `${this.dir!}: ${err.message}`
        usable = undefined
      }
      // Formulas whose every entry was rewritten or removed stay in a saved graph, without sources;
      // when they pile up, the copy is dropped and the memory built afresh.
      const orphans = this.sources.unsourced(this.formulas.size)
      if (done != null && usable != null && orphans > MAX_ORPHANS * this.formulas.size) {
        unusable = `${orphans} of its ${this.formulas.size} formulas are no longer in the store`
        usable = undefined
      }
    }
    if (usable == null) done = await this.build(replica, undefined)
    if (done == null) throw new MemoryLoadingError('the node stopped before the formula memory was built')
    this.changed ||= usable == null || done.reused < done.entries || this.byEntry.size !== done.saved || done.outdated
    this.started = {
      from: usable != null ? 'saved' : 'built',
      formulas: this.formulas.size,
      added: this.formulas.size - done.before,
      reused: done.reused,
      ms: Math.round(performance.now() - t0),
      ...(unusable != null ? { unusable } : {})
    }
    this.loading = false
    if (this.changed) this.scheduleSave()
    return this.started
  }

  /**
   * Take every entry of the store, from a saved copy where it holds them as they are, or from
   * nothing; undefined when the node stopped first.
   */
  private async build (replica: Replica, from: { copy: Snapshot, formulas: FormulaTable } | undefined): Promise<Built | undefined> {
    this.sources.clear()
    this.byEntry.clear()
    this.index = from?.copy.index ?? new VectorIndex(DIMENSIONS)
    this.formulas.close()
    this.formulas = from?.formulas ?? new FormulaTable()
    const before = this.formulas.size
    let [reused, entries] = [0, 0]
    const took = (r: boolean | undefined): void => { if (r != null) entries++; if (r === true) reused++ }
    const stopped = (): boolean => this.stopped
    // Between slices, the build gives way to the store (a joining node builds it while it catches up).
    const pause = giveWay(() => replica.busy())
    // The copy's formulas in one go (read before, into a table of their own): a change taken while
    // they were only partly in would add a formula of the copy a second time.
    this.sources.grow(this.formulas.size)
    // A change that arrives while the copy's entries go in is taken as new (its formulas are found
    // among the copy's); the walk below takes it again.
    try {
      const copy = from != null ? await savedEntries(from.copy, this.formulas.size, stopped) : undefined
      this.saved = copy?.entries
      const all = !this.stopped &&
        await inSlices(replica.eachResult(), ({ key, hash, author, entry }) => { took(this.setResult(key, hash, author, entry)) }, stopped, SLICE_MS, pause) &&
        await inSlices(replica.eachReview(), ({ key, hash, author, entry }) => { took(this.setReview(key, hash, author, entry)) }, stopped, SLICE_MS, pause)
      return all ? { before, entries, reused, saved: copy?.entries.size ?? 0, outdated: copy?.outdated ?? false } : undefined
    } finally {
      this.saved = undefined
    }
  }

  /** Distinct formulas held. */
  get size (): number { return this.formulas.size }

  /** Changes to the store not yet taken (they wait while the replica is busy). */
  get behind (): number { return this.backlog.size }

  /** Resolves once every change to the store so far is taken (and the build at start is done). */
  async settled (): Promise<void> {
    await this.ready
    await this.backlog.settled()
  }

  /** The k formulas most like `latex`, equivalent forms grouped. */
  search (latex: string, k = 10): FormulaHit[] {
    if (this.failed != null) throw new MemoryUnavailableError(`formula memory could not be built (${this.failed}); the node's log says more, and a restart builds it again`)
    if (this.loading) throw new MemoryLoadingError('formula memory is still being built from the store; ask again shortly')
    const query = queryVector(latex, k)
    // The graph's candidates, re-ranked by their formulas' exact embeddings (the index holds them
    // as int8). Formulas without a source that counts (their entries rewritten, or only a revoked
    // member's) stay in the graph: they are passed over before anything is embedded, and more
    // candidates fetched until rerankCount(k, size) that count are scored, or the index is spent.
    const wanted = rerankCount(k, this.index.size)
    const scored: Array<{ formula: string, score: number, sources: Array<[string, number]> }> = []
    const seen = new Set<number>()
    for (let fetch = wanted; ; fetch *= 4) {
      const ids = this.index.candidates(query, fetch)
      for (const id of ids) {
        if (scored.length >= wanted) break
        if (seen.has(id)) continue
        seen.add(id)
        if (id >= this.formulas.size) continue
        const sources = this.sources.entries(id).filter(([key, code]) => kindOf(code) === 'result' || kindOf(code) === 'region' || this.reviewers.counts(key.slice(key.lastIndexOf('/') + 1)))
        if (sources.length === 0) continue
        const formula = this.formulas.get(id)
        let vector: Float32Array
        try {
          vector = embedFormula(formula)
        } catch (err) {
          // a formula saved before a change to the canonical form that no longer reads
          this.log.warn({ formula: formula.slice(0, 200), err: (err as Error).message }, 'formula memory: a remembered formula no longer embeds; left out of search')
          continue
        }
        scored.push({ formula, score: cosine(query, vector), sources })
      }
      if (scored.length >= wanted || ids.length < fetch || fetch >= this.index.size) break
    }
    return scored.sort((a, b) => b.score - a.score || (a.formula < b.formula ? -1 : 1)).slice(0, k).map(({ formula, score, sources: all }) => {
      // The latest first (a stable sort: equal times keep the order they came in).
      const sources = all.sort(([, a], [, b]) => timeOf(b) - timeOf(a)).slice(0, MAX_SOURCES).map(([key, code]) => this.source(key, code))
      return { latex: formula, score: Math.round(score * 1e4) / 1e4, sources, sourceCount: all.length }
    })
  }

  /** Stop following the store, and save the index if it changed since the last save. */
  stop (): void {
    this.stopped = true
    this.begin()
    this.unsubscribe()
    // What is still to take in goes in before the save, within a bound (the next start's build adds the rest).
    if (!this.loading) this.backlog.drain(STOP_DRAIN_MS)
    this.backlog.stop()
    if (this.timer != null) clearTimeout(this.timer)
    this.timer = undefined
    this.save()
    this.formulas.close()
  }

  /** Save the index now if it changed (and there is a folder for it); a failure is logged, and the next start builds it. */
  save (): void {
    if (this.dir == null || !this.changed || this.loading || this.failed != null) return
    const t0 = performance.now()
    try {
      const saved = writeCopy(this.dir, this.index, this.formulas, this.byEntry, this.stopped)
      this.changed = false
      this.lastSaveMs = performance.now() - t0
      this.log.debug({ formulas: this.formulas.size, ms: Math.round(this.lastSaveMs) }, 'saved the formula memory')
      if (saved.notFrozen != null) this.log.warn({ reason: saved.notFrozen }, 'formula memory saved; the index segment it froze stays in memory')
      if (saved.froze != null) this.log.info({ ...this.index.segments, ...saved.froze }, 'formula index segment frozen: read from its file, its memory given back')
      // Segments past MERGE_PAST are merged two by two, beside the node's work; the next save writes them.
      const merged = (): void => { if (!this.stopped && this.index.unsavedMerges > 0) { this.changed = true; this.scheduleSave() } }
      if (!this.stopped) {
        mergeSegments(this.index, id => embeddingOrUnit(this.formulas.get(id)), () => this.stopped, () => this.replica.busy(), merged)
          // A stop in the middle leaves the merge unfinished (the formulas it reads are let go): nothing failed.
          .catch((err: unknown) => { if (!this.stopped) this.log.warn({ err }, 'merging the formula index\'s segments failed') })
      }
    } catch (err) {
      this.log.warn({ err, dir: this.dir }, 'saving the formula memory failed (the next start builds it again)')
    }
  }

  private scheduleSave (): void {
    if (this.dir == null || this.timer != null) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.save()
    }, Math.max(SAVE_AFTER_MS, this.lastSaveMs * SAVE_SPACING))
    this.timer.unref()
  }

  /** A source as a search shows it, from its entry key and code; a result's task read from the store. */
  private source (key: string, code: number): FormulaSource {
    const hash = key.slice(key.indexOf(':') + 1, key.lastIndexOf('/'))
    const by = key.slice(key.lastIndexOf('/') + 1)
    const kind = kindOf(code)
    if (kind === 'correction' || kind === 'confirmation') return { hash, by, time: isoTime(timeOf(code)), kind, certified: false }
    const task = this.replica.results(hash).get(by)?.task
    return { hash, by, time: isoTime(timeOf(code)), kind, ...(task != null ? { task } : {}), certified: this.holds(hash, by) }
  }

  /** Take a result entry (or its removal); true when its formulas came from the saved copy, undefined when it gives none. */
  private setResult (storeKey: string, hash: string, author: string, entry: ResultEntry | undefined): boolean | undefined {
    const key = storeKey
    if (entry == null || entry.unreadable != null || !SHA256_HEX.test(hash)) return this.drop(key)
    const regions = entry.regions ?? []
    const kind = regions.length > 1 ? 'region' : 'result'
    const latex = regions.length > 1 ? regions.map(r => r.latex) : [entry.latex]
    return this.setEntry(key, printOf(entry.time, latex), latex, sourceCode(entry.time, kind))
  }

  /** Take a review entry (or its removal); true when its formula came from the saved copy, undefined when it gives none. */
  private setReview (storeKey: string, hash: string, author: string, entry: CorrectionEntry | undefined): boolean | undefined {
    const key = `corrections:${storeKey}`
    if (entry == null || !SHA256_HEX.test(hash)) return this.drop(key)
    const kind = isConfirmation(entry) ? 'confirmation' : 'correction'
    return this.setEntry(key, printOf(entry.time, [entry.latex]), [entry.latex], sourceCode(entry.time, kind))
  }

  /** An entry's formulas: from the saved copy when it holds the entry as it is (true), else parsed and added. */
  private setEntry (key: string, print: Print, latex: readonly string[], source: number): boolean {
    const held = this.byEntry.get(key)
    // Taken already as it is (a joining node's build reaches what its backlog took): nothing is parsed again.
    if (held != null && samePrint(held.print, print)) {
      for (const id of held.ids) this.sources.set(id, key, source)
      return false
    }
    // Rewritten: its formulas lose it as a source (the entry itself is set again below).
    if (held != null) for (const id of held.ids) this.sources.delete(id, key)
    const saved = this.saved?.get(savedKey(key))
    if (saved != null && samePrint(saved.print, print) && saved.ids.every(id => id < this.formulas.size)) {
      for (const id of saved.ids) this.sources.set(id, key, source)
      this.byEntry.set(key, print, saved.ids)
      return true
    }
    const gave = latex.map(l => this.add(l, key, source)).filter((id): id is number => id != null)
    this.byEntry.set(key, print, gave)
    return false
  }

  /** An entry rewritten or removed: its formulas lose it as a source. */
  private drop (key: string): undefined {
    const held = this.byEntry.get(key)
    if (held != null) for (const id of held.ids) this.sources.delete(id, key)
    this.byEntry.delete(key)
  }

  /** Add a formula from a store entry; the canonical formula's id, or undefined when there is nothing to search it by. */
  private add (latex: string, key: string, source: number): number | undefined {
    let formula: string
    try {
      formula = canonicalize(latex)
    } catch {
      return undefined // not balanced: nothing to search it by
    }
    if (formula === '') return undefined
    const hash = hashString(formula)
    let id = this.formulas.idOf(formula, hash)
    if (id == null) {
      let vector: Float32Array
      try {
        vector = embedFormula(formula)
      } catch (err) {
        this.log.debug({ err, formula: formula.slice(0, 200) }, 'a formula could not be embedded')
        return undefined
      }
      id = this.index.add(vector)
      if (this.formulas.add(formula, hash) !== id) throw new Error(`formula memory: formula ${id} out of step with its index`)
      this.sources.grow(1)
    }
    this.sources.set(id, key, source)
    return id
  }
}
