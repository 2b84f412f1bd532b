/**
 * Write models/NAME/model.json: the SHA-256 of each model file and the model
 * version derived from them (what results and votes carry), with the input
 * contract and special tokens the pipeline needs.
 *
 *   node dist/scripts/model-manifest.js models/texmesh-v1
 */
import { createHash } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { INPUT_HEIGHT, INPUT_WIDTH } from '../pipeline/model-input.js'

const FILES = ['encoder.onnx', 'decoder.onnx', 'vocab.json']

async function main (): Promise<void> {
  const dir = process.argv[2]
  if (!dir) throw new Error('usage: model-manifest MODEL_DIR')
  const files: Record<string, string> = {}
  for (const f of FILES) files[f] = createHash('sha256').update(await readFile(join(dir, f))).digest('hex')
  const training = JSON.parse(await readFile(join(dir, 'training.json'), 'utf8')) as {
    special_tokens: { pad: number; bos: number; eos: number; unk: number };
    max_length: number;
    input?: { geometry?: string; glyph?: number; max_height?: number; max_width?: number };
  }
  const layout = '[1, 1, height, width] float32 (one image per run), 1 = ink, 0 = paper'
  const t = training.input
  // v2: glyph-normalised canvases of any size up to the maximum (pipeline/model-input.ts glyphCanvas).
  const input =
    t?.geometry === 'glyph'
      ? { geometry: 'glyph', glyph: t.glyph, maxHeight: t.max_height, maxWidth: t.max_width, layout }
      : { height: INPUT_HEIGHT, width: INPUT_WIDTH, layout }
  const name = basename(dir)
  const digest = createHash('sha256').update(FILES.map((f) => `${f}:${files[f]}`).join('\n')).digest('hex')
  const manifest = {
    name,
    version: `${name}+${digest.slice(0, 16)}`,
    files,
    input,
    specialTokens: training.special_tokens,
    maxLength: training.max_length,
  }
  await writeFile(join(dir, 'model.json'), JSON.stringify(manifest, null, 2) + '\n')
  console.log(`${manifest.version}`)
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err)
  process.exit(1)
})
