// Lint: the dependency rule of DESIGN.md ("connectors import only runtime/api") is enforced here,
// not remembered. Everything else is typescript-eslint's recommended set, lightly relaxed.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'test/infra/.cache/**', 'bench/.cache/**', '.tributary/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/no-empty-function': 'off',
    },
  },
  {
    files: ['connectors/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{
          // Any path into runtime/ other than runtime/api (relative or bare), e.g. ../../runtime/engine/x.ts
          regex: '(^|/)runtime/(?!api(/|$|\\.ts$|/index\\.ts$))',
          message: 'Connectors may import only runtime/api (DESIGN.md: dependencies point one way). Move what you need into the public API.',
        }],
      }],
    },
  },
);
