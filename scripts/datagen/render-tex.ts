/**
 * Render display math with a real TeX installation (latex + dvipng), in
 * several math fonts, so the model does not learn one renderer's glyphs.
 * A batch of formulas becomes one document with one formula per page.
 */
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** Math fonts available from Debian's texlive-fonts-recommended. */
export const TEX_FONTS = {
  cm: '\\usepackage{amssymb}',
  palatino: '\\usepackage{amssymb}\\usepackage{mathpazo}',
  times: '\\usepackage{amssymb}\\usepackage{mathptmx}',
  txfonts: '\\usepackage{txfonts}',
  pxfonts: '\\usepackage{pxfonts}',
} as const
export type TexFont = keyof typeof TEX_FONTS

function documentFor (formulas: readonly string[], font: TexFont): string {
  const pages = formulas.map((f) => `\\[ ${f} \\]\n\\clearpage`).join('\n')
  return [
    '\\documentclass[12pt]{article}',
    '\\usepackage{amsmath}',
    TEX_FONTS[font],
    '\\pagestyle{empty}',
    '\\begin{document}',
    pages,
    '\\end{document}',
  ].join('\n')
}

async function renderDoc (dir: string, formulas: readonly string[], font: TexFont, dpi: number): Promise<Buffer[]> {
  await writeFile(join(dir, 'f.tex'), documentFor(formulas, font))
  await run('latex', ['-interaction=batchmode', '-halt-on-error', 'f.tex'], { cwd: dir, timeout: 120_000 })
  await run('dvipng', ['-q', '-T', 'tight', '-D', String(dpi), '-bg', 'White', '-fg', 'Black', '-o', 'p%d.png', 'f.dvi'], {
    cwd: dir,
    timeout: 120_000,
  })
  return Promise.all(formulas.map((_, i) => readFile(join(dir, `p${i + 1}.png`))))
}

/**
 * TeX itself cannot run in a font: not installed, a font package missing. Thrown rather than
 * answered with nulls, because a caller that falls back to another renderer would silently make
 * different data from the same seed.
 */
export class TexUnavailableError extends Error {
  override name = 'TexUnavailableError'
}

const checked = new Map<TexFont, Promise<void>>()

/** Whether TeX renders a plain `x` in `font`, tried once a process. */
function texReady (font: TexFont): Promise<void> {
  let ready = checked.get(font)
  if (!ready) {
    ready = (async () => {
      const dir = await mkdtemp(join(tmpdir(), 'texmesh-tex-'))
      try {
        await renderDoc(dir, ['x'], font, 100)
      } catch (err) {
        const e = err as NodeJS.ErrnoException & { path?: string }
        const why = e.code === 'ENOENT' ? `${e.path ?? 'latex'} is not installed` : (e.message.split('\n')[0] ?? 'it failed')
        throw new TexUnavailableError(
          `TeX cannot render the ${font} math font (${why}): install Debian's texlive-latex-base, ` +
            'texlive-latex-recommended, texlive-fonts-recommended and dvipng'
        )
      } finally {
        await rm(dir, { recursive: true, force: true })
      }
    })()
    checked.set(font, ready)
  }
  return ready
}

/**
 * PNGs of each formula (null where TeX refused it), black on white, at `dpi`.
 * A batch that fails is rendered one formula at a time so one bad formula costs only itself.
 * Throws TexUnavailableError when TeX cannot render in `font` at all.
 */
export async function renderTex (formulas: readonly string[], font: TexFont, dpi: number): Promise<(Buffer | null)[]> {
  await texReady(font)
  const dir = await mkdtemp(join(tmpdir(), 'texmesh-tex-'))
  try {
    try {
      return await renderDoc(dir, formulas, font, dpi)
    } catch {
      const out: (Buffer | null)[] = []
      for (const f of formulas) {
        try {
          out.push((await renderDoc(dir, [f], font, dpi))[0]!)
        } catch {
          out.push(null)
        }
      }
      return out
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
