/**
 * The client ids a replica has seen, each with its author (one per incarnation, bound by a
 * valid signature), and the distinct authors among them: every key in the document ends in one
 * of them (authorship.ts), so a lookup by author tries each (document.ts).
 */
export class Clients extends Map<number, string> {
  private cached: { of: number, authors: ReadonlySet<string> } = { of: -1, authors: new Set() }

  /** The distinct authors, made again when ids were added since (none is ever removed). */
  authors (): ReadonlySet<string> {
    if (this.cached.of !== this.size) this.cached = { of: this.size, authors: new Set(this.values()) }
    return this.cached.authors
  }
}
