import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { describe, it } from 'node:test'
import { canonicalize, canonicalTokens } from '../pipeline/latex/canonical.js'
import { checkLatex } from '../pipeline/latex/validate.js'
import { DEFAULT_MODEL_DIR } from '../pipeline/recognizer.js'
import { MAX_TOKENS } from '../scripts/datagen/build.js'
import { scanGrammar } from '../scripts/datagen/check-heldout-c.js'
import { HELDOUT_C_SOURCE, HELDOUT_C_TOPICS, isHeldoutC, loadHeldoutC, parseHeldoutC, readHeldoutC } from '../scripts/datagen/heldout-c-guard.js'
import { IMAGES_PER_FORMULA } from '../scripts/datagen/heldout-c.js'

const DIR = dirname(HELDOUT_C_SOURCE)
const formulas = readHeldoutC()

describe('held-out C (real formulas typed by hand)', () => {
  it('has at least 250 formulas, covering all 11 topics', () => {
    assert.ok(formulas.length >= 250, `${formulas.length} formulas`)
    assert.equal(HELDOUT_C_TOPICS.length, 11)
    for (const topic of HELDOUT_C_TOPICS) {
      const n = formulas.filter((f) => f.topic === topic).length
      assert.ok(n >= 20, `${topic}: ${n} formulas`)
    }
  })

  it('every formula canonicalises, fits the vocabulary and the length limit, and parses', () => {
    const vocab = new Set(JSON.parse(readFileSync(join(DEFAULT_MODEL_DIR, 'vocab.json'), 'utf8')) as string[])
    for (const f of formulas) {
      const tokens = canonicalTokens(f.latex)
      assert.ok(tokens.length > 0 && tokens.length <= MAX_TOKENS, `${f.id}: ${tokens.length} tokens`)
      for (const t of tokens) assert.ok(vocab.has(t), `${f.id}: token ${t} is not in the vocabulary`)
      const parsed = checkLatex(canonicalize(f.latex))
      assert.ok(parsed.ok, `${f.id}: ${parsed.error}`)
    }
    // Long formulas are there, not only short ones.
    assert.ok(formulas.filter((f) => f.tokens.length > 60).length >= 30)
  })

  it('truth.jsonl lists 10 images per formula, as written in the source, and every listed file exists', () => {
    const truth = readFileSync(join(DIR, 'truth.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l.length > 0)
      .map((l) => JSON.parse(l) as { file: string; latex: string; renderer: string; id: string; topic: string })
    assert.equal(IMAGES_PER_FORMULA, 10)
    assert.equal(truth.length, formulas.length * IMAGES_PER_FORMULA)
    assert.equal(new Set(truth.map((t) => t.file)).size, truth.length)
    const byId = new Map(formulas.map((f) => [f.id, f] as const))
    const perId = new Map<string, Set<string>>()
    for (const t of truth) {
      const f = byId.get(t.id)
      assert.ok(f, `${t.file}: unknown id ${t.id}`)
      assert.equal(t.latex, f.latex)
      assert.equal(t.topic, f.topic)
      assert.match(t.file, /^\d{5}\.(png|jpg)$/)
      assert.ok(existsSync(join(DIR, t.file)), `${t.file} is missing`)
      perId.set(t.id, (perId.get(t.id) ?? new Set()).add(t.renderer))
    }
    for (const f of formulas) {
      const renderers = perId.get(f.id)
      assert.equal(renderers?.size, IMAGES_PER_FORMULA, `${f.id}: ${[...(renderers ?? [])].join(', ')}`)
      assert.equal([...renderers].filter((r) => r.endsWith('+heldout-b')).length, 1)
    }
  })

  it('the grammar never writes one of them (20,000 formulas of seed 1, in each grammar mix)', () => {
    const heldout = new Map(formulas.map((f) => [f.tokens.join(' '), f.id] as const))
    for (const mix of ['v1', 'v2'] as const) {
      const scan = scanGrammar(heldout, 1, 20_000, { mix })
      assert.equal(scan.checked, 20_000)
      assert.deepEqual(scan.matches, [], `grammar ${mix} wrote ${scan.matches.map((m) => m.id).join(', ')}`)
    }
  })

  it('isHeldoutC recognises a held-out C formula however it is written, and nothing else', () => {
    // Stirling's formula is in the set; this spelling has the same canonical form.
    assert.ok(formulas.some((f) => f.latex === 'n! \\sim \\sqrt{2\\pi n}\\left(\\frac{n}{e}\\right)^{n}'))
    assert.equal(isHeldoutC(canonicalTokens('n!\\sim\\sqrt{2\\pi n}\\Big(\\frac ne\\Big)^n')), true)
    assert.equal(isHeldoutC(canonicalTokens('a^{p-1} \\equiv 1 \\pmod p')), true)
    assert.equal(isHeldoutC(canonicalTokens('n! \\sim \\sqrt{2\\pi n}\\left(\\frac{n}{e}\\right)^{m}')), false)
    assert.equal(isHeldoutC(canonicalTokens('x^{2} + y^{2} = 1')), false)
    assert.equal(loadHeldoutC().size, formulas.length)
  })

  it('a bad source file is refused whole, naming the line', () => {
    const line = (id: string, topic: string, latex: string) => JSON.stringify({ id, topic, latex })
    const ok = line('calc-001', 'calculus', 'x^{2}')
    assert.throws(() => parseHeldoutC([ok, line('calc-001', 'series', 'y')].join('\n'), 'src'), /src:2: id calc-001 is already on line 1/)
    assert.throws(() => parseHeldoutC([ok, line('ser-001', 'series', 'x^2')].join('\n'), 'src'), /src:2: ser-001 has the same canonical form as line 1/)
    assert.throws(() => parseHeldoutC([ok, line('phys-001', 'physics', 'y')].join('\n'), 'src'), /src:2: not a \{"id", "topic", "latex"\} object/)
    assert.throws(() => parseHeldoutC([ok, '{"id": "ser-001"'].join('\n'), 'src'), /src:2: not JSON/)
    assert.throws(() => parseHeldoutC([ok, line('ser-001', 'series', '\\frac{1}{')].join('\n'), 'src'), /src:2: ser-001: the canonicaliser cannot read/)
    assert.equal(parseHeldoutC(`${ok}\n\n`, 'src').length, 1)
  })
})
