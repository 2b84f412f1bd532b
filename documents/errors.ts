/** Why a document is refused (documents/pdf.ts, prepare.ts, node/daemon/documents.ts). */
export type DocumentErrorReason = 'not-pdf' | 'encrypted' | 'too-many-pages' | 'page-too-large' | 'damaged' | 'too-slow' | 'busy'

/** A document that will not be read, naming the file and the reason. Apart from pdf.ts, so that saying it does not load MuPDF. */
export class DocumentError extends Error {
  constructor (readonly file: string, readonly reason: DocumentErrorReason, message: string) {
    super(`${file}: ${message}`)
    this.name = 'DocumentError'
  }
}
