/**
 * The logger every protocol service is handed: in the node, a pino child logger with its
 * component set (`protocols:tasks`, `protocols:votes`, ...); in tests, anything with these methods.
 */
export interface ComponentLog {
  debug(obj: object, msg: string): void
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
}

/** A logger that says nothing (a service's default when it is given none). */
export const SILENT_LOG: ComponentLog = { debug () {}, info () {}, warn () {} }
