import { randomBytes } from 'node:crypto'
import { closeSync, fdatasync, fstatSync, fsyncSync, mkdirSync, openSync, readdirSync, readSync, rmSync, write } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'

/**
 * The text of the results map's values, kept in a file rather than in the Yjs document: at a
 * million results the texts are about 700 MB of the replica's heap, and a node reads few of them
 * again (a search shows a handful; the memories keep what they need of each). The document keeps
 * the items themselves, which the CRDT needs, each holding a short reference to its text here
 * (document.ts swaps a text out once listeners have seen it, and reads it back through here).
 *
 * The file only grows: a text is appended, and its reference is where it starts and how long it
 * is, so nothing on disk is ever overwritten, and a kill -9 can lose only texts appended after the
 * last snapshot, whose envelopes a start replays anyway. Appends wait in memory for the next write
 * (readable meanwhile); one write takes all that waits. A text its key no longer shows (a result
 * read again by its author, a text appended again by a replay after a kill -9) stays in the file.
 *
 * The file's name is the store's id: a snapshot of the document records it and the bytes given
 * out when it was taken (snapshot.ts), and a start goes on appending to that file, or makes a new
 * one and replays the log when it is gone or shorter.
 */

const pwrite = promisify(write)
const sync = promisify(fdatasync)

/** A file is rewritten (at a start) only once texts no reference names take more than this, and half of it. */
const COMPACT_BYTES = 64 * 1024 * 1024
/** Bytes read at once: a text, and those after it. */
const WINDOW_BYTES = 64 * 1024
/** Characters of texts written in one write at most. */
const SLICE_CHARS = 8 * 1024 * 1024
/** Texts are appended to files named so, in the replica's `values` folder. */
const PREFIX = 'texts-'

/** Where a reference ("OFFSET:LENGTH", base 36) says its text lies; NaN for what is no reference. */
function place (ref: string): { at: number, length: number } {
  const cut = ref.indexOf(':')
  return cut > 0 ? { at: parseInt(ref.slice(0, cut), 36), length: parseInt(ref.slice(cut + 1), 36) } : { at: NaN, length: NaN }
}

export class ValueStore {
  /** bytes in the file, and bytes given out: held texts are written from `written` to `end` */
  private written: number
  private end: number
  /** texts held but not written yet, by offset */
  private readonly pending = new Map<number, string>()
  /** the offsets of those, in the order they are to be written */
  private queue: number[] = []
  private writing: Promise<void> = Promise.resolve()
  private scheduled = false
  private closed = false
  /** the bytes read last: `windowBytes` of the file from `windowAt` */
  private readonly window = Buffer.allocUnsafe(WINDOW_BYTES)
  private windowAt = 0
  private windowBytes = 0
  /** texts the window served besides the one it was read for */
  private windowHits = 1
  /** bytes of the file no reference names (about: texts overwritten, appended again by a replay) */
  garbage = 0

  private constructor (private readonly fd: number, readonly id: string, private readonly folder: string) {
    this.written = this.end = fstatSync(fd).size
  }

  /**
   * Open the store file named `id` in folder `folder`, when it holds at least `bytes` (what a
   * snapshot that refers to it had given out); when there is none, or a shorter one (a data dir
   * copied while the node ran, say), a new one, with a new id: the log is then replayed.
   */
  static open (folder: string, id?: string, bytes = 0, garbage = 0): ValueStore {
    mkdirSync(folder, { recursive: true })
    if (id != null && new RegExp(`^${PREFIX}[0-9a-f]{24}$`).test(id)) {
      let fd: number | undefined
      try {
        fd = openSync(join(folder, id), 'r+')
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
      }
      if (fd != null && fstatSync(fd).size >= bytes) {
        const store = new ValueStore(fd, id, folder)
        // What was appended after the snapshot is appended again as the log after it is replayed.
        store.garbage = garbage + store.end - bytes
        return store
      }
      if (fd != null) closeSync(fd)
    }
    const fresh = PREFIX + randomBytes(12).toString('hex')
    const store = new ValueStore(openSync(join(folder, fresh), 'wx+'), fresh, folder)
    // The file's name on disk before any snapshot names it.
    const dir = openSync(folder, 'r')
    try {
      fsyncSync(dir)
    } finally {
      closeSync(dir)
    }
    return store
  }

  /** A new store in `folder` holding what `move` writes into it; undefined when that failed (and the new file removed). */
  static async rewrite (folder: string, move: (into: ValueStore) => Promise<boolean>): Promise<ValueStore | undefined> {
    let into: ValueStore
    try {
      into = ValueStore.open(folder)
    } catch {
      return undefined
    }
    if (await move(into)) return into
    await into.close(true).catch(() => {})
    return undefined
  }

  /** More than half the file (and at least COMPACT_BYTES) is texts no reference names: worth writing the rest into a new one. */
  get wasteful (): boolean { return this.garbage > Math.max(ValueStore.compactBytes, this.end / 2) }

  /** COMPACT_BYTES, lowered by tests. */
  static compactBytes = COMPACT_BYTES

  /** The text a reference names is no longer shown by its key. */
  discard (ref: string): void {
    const { length } = place(ref)
    if (length > 0) this.garbage += length
  }

  /** Remove the folder's other store files: no snapshot refers to them (the one there refers to this one, or to none). */
  removeOthers (): void {
    const folder = this.folder
    for (const name of readdirSync(folder)) if (name.startsWith(PREFIX) && name !== this.id) rmSync(join(folder, name), { force: true })
  }

  /** Keep a text; returns its reference (written with the next write, readable at once). */
  hold (text: string): string {
    const at = this.end
    const length = Buffer.byteLength(text)
    this.end += length
    this.pending.set(at, text)
    this.queue.push(at)
    if (!this.scheduled) {
      this.scheduled = true
      setImmediate(() => { this.flush().catch(() => {}) })
    }
    return `${at.toString(36)}:${length.toString(36)}`
  }

  /** The text a reference names; undefined when it names none. */
  read (ref: string): string | undefined {
    const { at, length } = place(ref)
    if (!(at >= 0 && length >= 0 && at + length <= this.end) || this.closed) return undefined
    const held = this.pending.get(at)
    if (held != null) return held
    if (at + length > this.written) return undefined
    // From the bytes read last (written bytes never change), or a window read from here on: a walk
    // over every result reads the file in windows, not with a call for each text.
    if (at < this.windowAt || at + length > this.windowAt + this.windowBytes) {
      // A whole window when the last one served more than one text, or this one follows it (a
      // walk in the file's order); else only the text (reads out of order). A text longer than
      // the window is read on its own, and the window left empty.
      const whole = this.windowHits > 0 || at === this.windowAt + this.windowBytes
      this.windowHits = 0
      const buffer = length > WINDOW_BYTES ? Buffer.allocUnsafe(length) : whole ? this.window : this.window.subarray(0, length)
      let read = 0
      try {
        read = readSync(this.fd, buffer, 0, Math.min(buffer.length, this.written - at), at)
      } catch {
        // An unreadable file (a disk error): the value reads as missing, as when it has no text.
      }
      this.windowAt = at
      this.windowBytes = length > WINDOW_BYTES ? 0 : read
      if (read < length) return undefined
      if (length > WINDOW_BYTES) return buffer.toString('utf8')
    } else {
      this.windowHits++
    }
    return this.window.toString('utf8', at - this.windowAt, at - this.windowAt + length)
  }

  /** What a snapshot taken now records of the store: its id, the bytes its references need, and the garbage among them. */
  describe (): { values: string, valueBytes: number, valueGarbage: number } {
    return { values: this.id, valueBytes: this.end, valueGarbage: this.garbage }
  }

  /** Bytes of the file, written and held. */
  get size (): number { return this.end }

  /**
   * Resolves once every text held before the call is written (`durable`: and on disk, as a
   * snapshot that refers to them needs); rejects when a write failed (the texts stay held, and readable).
   */
  async flushed (durable = false): Promise<void> {
    await this.flush()
    if (this.closed) throw new Error('the value store is closed')
    if (durable) await sync(this.fd)
  }

  private flush (): Promise<void> {
    this.scheduled = false
    // One write at a time, each taking what is held when it starts, at the offset where the last
    // one ended; a failed one puts its texts back in front, for the next write.
    this.writing = this.writing.catch(() => {}).then(async () => {
      if (this.queue.length === 0 || this.closed) return
      const queued = this.queue
      this.queue = []
      // In slices of a bounded size: a start that replays a whole log holds every text at once.
      let i = 0
      try {
        while (i < queued.length) {
          const texts: string[] = []
          let n = 0
          while (i + texts.length < queued.length && (texts.length === 0 || n < SLICE_CHARS)) {
            const text = this.pending.get(queued[i + texts.length]!)!
            texts.push(text)
            n += text.length
          }
          const bytes = Buffer.from(texts.join(''))
          let done = 0
          while (done < bytes.length) done += (await pwrite(this.fd, bytes, done, bytes.length - done, this.written + done)).bytesWritten
          for (const end = i + texts.length; i < end; i++) this.pending.delete(queued[i]!)
          this.written += bytes.length
        }
      } catch (err) {
        this.queue = queued.slice(i).concat(this.queue)
        throw err
      }
    })
    return this.writing
  }

  /** Close, and remove the file when `remove` (no snapshot on disk refers to it any more). */
  async close (remove = false): Promise<void> {
    if (this.closed) return
    await this.flush().catch(() => {})
    this.closed = true
    closeSync(this.fd)
    if (remove) rmSync(join(this.folder, this.id), { force: true })
  }
}
