/** A model folder that cannot be used: a file missing, changed or inconsistent with the others. */
export class ModelFileError extends Error {
  override name = 'ModelFileError'
}
