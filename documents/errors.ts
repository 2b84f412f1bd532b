/** Why a document is refused (documents/pdf.ts, prepare.ts, node/daemon/documents.ts). */
export type DocumentErrorReason = 'not-pdf' | 'encrypted' | 'too-many-pages' | 'page-too-large' | 'damaged' | 'too-slow' | 'busy' | 'not-kept'

/** A document that will not be read, naming the file and the reason. Apart from pdf.ts, so that saying it does not load MuPDF. */
export class DocumentError extends Error {
  /** the message without the file name */
  readonly detail: string
  constructor (readonly file: string, readonly reason: DocumentErrorReason, detail: string) {
    super(`${file}: ${detail}`)
    this.name = 'DocumentError'
    this.detail = detail
  }
}

/** Whether bytes begin as a PDF (its header, within the first kilobyte as readers allow). */
export function hasPdfHeader (bytes: Uint8Array): boolean {
  return bytes.length >= 8 && Buffer.from(bytes.subarray(0, 1024)).indexOf('%PDF-') >= 0
}

/** Whether bytes begin as a TIFF (classic or BigTIFF, either byte order): page scans that may hold several pages. */
export function hasTiffHeader (bytes: Uint8Array): boolean {
  const at = (text: string): boolean => bytes.length >= 8 && [...text].every((c, i) => bytes[i] === c.charCodeAt(0))
  return at('II*\0') || at('MM\0*') || at('II+\0') || at('MM\0+')
}

/** The refusal of bytes that are not a document (a PDF, or a TIFF of page scans). */
export function notPdf (file: string): DocumentError {
  return new DocumentError(file, 'not-pdf', 'not a PDF (no %PDF- header) or a TIFF of page scans')
}
