import { describe, expect, it } from 'vitest';
import pkg from '../../../package.json' with { type: 'json' };

describe('pinned Node.js', () => {
  it('npm scripts run on Node 22 (the node@22 dev dependency), whatever the system Node is', () => {
    expect(Number(process.versions.node.split('.')[0])).toBe(22);
    expect(pkg.engines.node).toBe('>=22');
    expect(pkg.devDependencies.node).toMatch(/^\^22\./);
  });
});
