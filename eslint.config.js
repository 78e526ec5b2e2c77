// The linter: typescript-eslint's recommended rules over every TypeScript
// file of the project (not type-aware, so it runs in seconds). Formatting is
// Prettier's job (.prettierrc.json); this only looks for likely mistakes.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'store/**', '.vitest-artifacts/**', 'test/fixtures/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      // Unused names are errors, except ones spelled as deliberately unused.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      // Empty catch blocks here always carry a comment saying why nothing is done.
      'no-empty': ['error', { allowEmptyCatch: true }],
      // The wire codec and the terminal handling match control characters on purpose.
      'no-control-regex': 'off',
    },
  },
);
