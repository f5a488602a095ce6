/**
 * Renders a connector's config spec as the Markdown table its README carries, so the README is
 * derived from the spec (STYLE.md, principle 4). readme.test.ts checks the READMEs are current;
 * print fresh tables with `node test/unit/connectors/config-table.ts`.
 */
import type { ConfigSpec } from '../../../runtime/api/index.ts';

export function configTable(spec: ConfigSpec): string {
  const rows = spec.describe().map((k) => {
    const def = k.required ? '*required*' : k.default_value === null ? '*none*' : `\`${k.default_value}\``;
    const doc = k.documentation.replaceAll('|', '\\|').replaceAll('\n', ' ');
    return `| \`${k.name}\` | ${k.type.toLowerCase()} | ${def} | ${k.importance.toLowerCase()} | ${doc} |`;
  });
  return ['| Key | Type | Default | Importance | Description |', '|---|---|---|---|---|', ...rows].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { demoSource } = await import('../../../connectors/demo/index.ts');
  const { fileStreamSink, fileStreamSource } = await import('../../../connectors/file/index.ts');
  for (const p of [demoSource, fileStreamSink, fileStreamSource]) console.log(`${p.className}\n\n${configTable(p.config)}\n`);
}
