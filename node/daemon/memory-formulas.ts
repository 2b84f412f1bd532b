/**
 * The formula memory's formulas by id (memory.ts), distinct: those of the saved copy read from its
 * file when asked for, the ones added since held in memory until the next save writes them.
 * A million formulas held as strings, with a Map to find each one's id, took about 140 bytes a
 * formula of V8's heap (bench:crdt --node-start); here they take about 20: where each saved line
 * starts (8 bytes), its hash (4), and its slot in an IdTable (4 to 11).
 *
 * The file is the copy's records of formulas (memory/snapshot.ts: one JSON string a line),
 * read with an open descriptor, so that the copy's folder may be replaced or removed meanwhile.
 */
import { closeSync, openSync, readSync } from 'node:fs'
import { hashString, IdTable } from '../../util/id-table.js'
import { SLICE_MS } from '../../util/slices.js'
import { writeAllSync } from '../../util/write-all.js'

/** Bytes read at a time when a whole file is gone over. */
const CHUNK = 256 * 1024

/** A file of formulas written by `write`, once the copy it belongs to is current (`savedIn`) or not (`discard`). */
export interface Written { fd: number, starts: Float64Array, count: number }

export class FormulaTable {
  private hashes = new Uint32Array(1024)
  private readonly table = new IdTable(id => this.hashes[id]!)
  private count = 0
  /** the saved file (an open descriptor), its formulas (ids 0..onDisk-1) and where each one's line starts (onDisk + 1 of them: the last is the file's end) */
  private fd: number | undefined
  private onDisk = 0
  private starts: Float64Array = new Float64Array(1)
  /** formulas onDisk.. in memory, until a save writes them */
  private held: string[] = []
  private buffer = Buffer.allocUnsafe(4096)
  private closed = false

  get size (): number { return this.count }

  /** The id of `formula`, if it is held (`hash`: hashString's, when the caller has it). */
  idOf (formula: string, hash = hashString(formula)): number | undefined {
    return this.table.find(hash, id => this.get(id) === formula)
  }

  /** Add a formula that is not held yet; its id. */
  add (formula: string, hash = hashString(formula)): number {
    const id = this.count
    if (id === this.hashes.length) {
      const grown = new Uint32Array(this.hashes.length * 2)
      grown.set(this.hashes)
      this.hashes = grown
    }
    this.hashes[id] = hash
    this.held.push(formula)
    this.count++
    this.table.insert(hash, id)
    return id
  }

  /** The formula with this id. */
  get (id: number): string {
    if (!(id >= 0 && id < this.count)) throw new RangeError(`no formula ${id} (${this.count} held)`)
    if (id >= this.onDisk) return this.held[id - this.onDisk]!
    if (this.closed) throw new Error('the formula memory is closed')
    const start = this.starts[id]!
    const length = this.starts[id + 1]! - 1 - start
    if (this.buffer.length < length) this.buffer = Buffer.allocUnsafe(2 ** Math.ceil(Math.log2(length)))
    for (let at = 0; at < length;) {
      const n = readSync(this.fd!, this.buffer, at, length - at, start + at)
      if (n === 0) throw new Error(`the saved formulas end before formula ${id} (at byte ${start + at})`)
      at += n
    }
    return JSON.parse(this.buffer.toString('utf8', 0, length)) as string
  }

  /** Every formula, by id. */
  * [Symbol.iterator] (): Generator<string> {
    for (let id = 0; id < this.count; id++) yield this.get(id)
  }

  /** Hold nothing (the saved file is let go). */
  clear (): void {
    this.closeFile()
    this.hashes = new Uint32Array(1024)
    this.table.clear()
    this.count = 0
    this.onDisk = 0
    this.starts = new Float64Array(1)
    this.held = []
  }

  /**
   * Take the formulas of a saved copy's file (`formulas` must be empty): each one is read to check it and to hash
   * it, then read again from the file when asked for. False when `stopped()` first (nothing is then held).
   * Throws when a line is not a JSON string or repeats one (the copy is not usable).
   */
  async read (file: string, stopped: () => boolean): Promise<boolean> {
    if (this.count > 0) throw new Error('formulas are read from a saved copy into an empty table only')
    this.fd = openSync(file, 'r')
    try {
      return await this.readAll(file, this.fd, stopped)
    } catch (err) {
      this.clear()
      throw err
    }
  }

  private async readAll (file: string, fd: number, stopped: () => boolean): Promise<boolean> {
    let starts: Float64Array = new Float64Array(1024)
    const chunk = Buffer.allocUnsafe(CHUNK)
    let carry = Buffer.alloc(0)
    let offset = 0
    const decoder = new TextDecoder('utf-8', { fatal: true })
    let slice = performance.now()
    for (;;) {
      const n = readSync(fd, chunk, 0, CHUNK, offset)
      if (n === 0) break
      const bytes = carry.length > 0 ? Buffer.concat([carry, chunk.subarray(0, n)]) : chunk.subarray(0, n)
      const base = offset - carry.length
      let from = 0
      for (let nl = bytes.indexOf(10); nl >= 0; nl = bytes.indexOf(10, from)) {
        let line = ''
        let formula: unknown
        try {
          line = decoder.decode(bytes.subarray(from, nl))
          formula = JSON.parse(line)
        } catch {
          throw new Error(`${file}, line ${this.count + 1}: not JSON (${line.slice(0, 80)})`)
        }
        const hash = typeof formula === 'string' ? hashString(formula) : undefined
        if (hash == null || this.idOf(formula as string, hash) != null) throw new Error(`its formulas are not distinct strings (at ${this.count}: ${line.slice(0, 100)})`)
        if (this.count + 1 >= starts.length) starts = grow(starts)
        starts[this.count] = base + from
        this.add(formula as string, hash)
        from = nl + 1
      }
      carry = Buffer.from(bytes.subarray(from))
      offset += n
      // The formulas read so far are read from the file from now on.
      starts[this.count] = base + from
      this.starts = starts
      this.onDisk = this.count
      this.held = []
      // A turn of the event loop every SLICE_MS: a node serves while it reads a large copy.
      if (performance.now() - slice > SLICE_MS) {
        await new Promise(resolve => setImmediate(resolve))
        slice = performance.now()
      }
      if (stopped()) {
        this.clear()
        return false
      }
    }
    if (carry.length > 0) throw new Error(`${file} ends inside a line`)
    return true
  }

  /**
   * Write every formula to `file` as a copy's records (one JSON string a line): the saved ones'
   * bytes as they are, then the ones held. The table reads from it once `savedIn` is told.
   */
  write (file: string): Written {
    const fd = openSync(file, 'w+')
    try {
      const starts = new Float64Array(this.count + 1)
      starts.set(this.starts.subarray(0, this.onDisk + 1))
      let at = this.starts[this.onDisk]!
      if (this.onDisk > 0) {
        const copy = Buffer.allocUnsafe(CHUNK * 4)
        for (let done = 0; done < at;) {
          const n = readSync(this.fd!, copy, 0, Math.min(copy.length, at - done), done)
          if (n === 0) throw new Error('the saved formulas are shorter than when they were read')
          writeAllSync(fd, copy.subarray(0, n), done)
          done += n
        }
      }
      let text = ''
      const flush = (): void => {
        const bytes = Buffer.from(text)
        writeAllSync(fd, bytes, at - bytes.length)
        text = ''
      }
      let pending = 0
      for (let id = this.onDisk; id < this.count; id++) {
        const line = `${JSON.stringify(this.held[id - this.onDisk])}\n`
        text += line
        at += Buffer.byteLength(line)
        starts[id + 1] = at
        if (++pending % 4096 === 0) flush()
      }
      flush()
      return { fd, starts, count: this.count }
    } catch (err) {
      closeSync(fd)
      throw err
    }
  }

  /** The file `write` wrote is the saved copy's now: the formulas it holds are read from it. */
  savedIn (written: Written): void {
    this.closeFile()
    this.fd = written.fd
    this.starts = written.starts
    this.held = this.held.slice(written.count - this.onDisk)
    this.onDisk = written.count
  }

  /** The file `write` wrote is not used (its copy was not saved). */
  discard (written: Written): void { closeSync(written.fd) }

  /** Let the saved file go; formulas saved are no longer read (until another `read`). */
  close (): void {
    this.closeFile()
    this.closed = this.onDisk > 0
  }

  private closeFile (): void {
    if (this.fd != null) closeSync(this.fd)
    this.fd = undefined
    this.closed = false
  }
}

function grow (a: Float64Array): Float64Array {
  const b = new Float64Array(a.length * 2)
  b.set(a)
  return b
}
