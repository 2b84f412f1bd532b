// One style for the whole project: neostandard (JavaScript Standard Style, for TypeScript too),
// checked by `npm run lint` and by .ci/run before the tests; `npm run lint:fix` applies it.
import neostandard from 'neostandard'

export default [
  { ignores: ['dist/**', 'training/**', 'scratch/**', 'models/**', 'checkpoints/**', 'datasets/**'] },
  ...neostandard({ ts: true }),
  {
    rules: {
      // `void promise` marks a promise deliberately not awaited (its errors are handled inside).
      'no-void': ['error', { allowAsStatement: true }],
      // A zod schema and its inferred type share a name; TypeScript itself refuses real redeclarations.
      '@typescript-eslint/no-redeclare': 'off'
    }
  }
]
