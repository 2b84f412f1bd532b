/**
 * Typed errors for the node and the CLI. Match them by `.name`, never by text:
 * the message is for people and may change.
 */
export class TexmeshError extends Error {
  static readonly defaultName: string = 'TexmeshError'
  constructor (message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = (new.target as typeof TexmeshError).defaultName
  }
}

/** Another running node holds this data dir. */
export class DataDirInUseError extends TexmeshError {
  static override readonly defaultName = 'DataDirInUseError'
}

/** A TCP port the node wants is taken by another process. */
export class PortInUseError extends TexmeshError {
  static override readonly defaultName = 'PortInUseError'
}

/** The node cannot listen on an address it was given (not this machine's, no permission, ...). */
export class ListenError extends TexmeshError {
  static override readonly defaultName = 'ListenError'
}

/** A file of the data dir cannot be read or written (a file where a directory should be, permissions, ...). */
export class FileError extends TexmeshError {
  static override readonly defaultName = 'FileError'
}

/** The configuration (file, environment or flags) is invalid. */
export class ConfigError extends TexmeshError {
  static override readonly defaultName = 'ConfigError'
}

/** An invite string could not be decoded or does not describe a network. */
export class InvalidInviteError extends TexmeshError {
  static override readonly defaultName = 'InvalidInviteError'
}

/** A membership certificate is malformed or does not verify. */
export class InvalidCertificateError extends TexmeshError {
  static override readonly defaultName = 'InvalidCertificateError'
}

/** The data dir is not in the state the command needs (no network, no admin key, ...). */
export class DataDirStateError extends TexmeshError {
  static override readonly defaultName = 'DataDirStateError'
}

/** No running node answers for this data dir. */
export class NodeNotRunningError extends TexmeshError {
  static override readonly defaultName = 'NodeNotRunningError'
}

/** The local API answered with an error. */
export class ApiError extends TexmeshError {
  static override readonly defaultName = 'ApiError'
  constructor (message: string, readonly status: number, readonly body?: unknown) {
    super(message)
  }
}
