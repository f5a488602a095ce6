/**
 * Field paths as in KIP-821 (`field.syntax.version`): V1 names one top-level field; V2 walks
 * nested fields with dots, and backticks wrap a name that contains dots (`` `a.b`.c ``), with
 * a backslash escaping a backtick inside such a name.
 */
import { oneOf } from '../../api/config-spec.ts';

export const FIELD_SYNTAX_VERSION = 'field.syntax.version';

export const fieldSyntaxVersionKey = {
  type: 'string',
  default: 'V1',
  importance: 'high',
  validate: oneOf(['V1', 'V2'], { caseInsensitive: true }),
  doc: 'The syntax of field paths. V1: a path names a field at the root of the struct or map. '
    + 'V2: dotted paths reach nested fields; wrap a name that contains dots in backticks, e.g. `foo.bar`.baz '
    + 'for the field baz inside the field named "foo.bar".',
} as const;

/** The steps of a path; throws an Error when a backtick pair is incomplete. */
export function parseFieldPath(path: string, version: string): string[] {
  if (version.toUpperCase() !== 'V2' || path === '') return [path];
  const steps: string[] = [];
  let i = 0;
  while (i < path.length) {
    if (path[i] !== '`') {
      const dot = path.indexOf('.', i);
      if (dot < 0) {
        steps.push(path.slice(i));
        i = path.length;
      } else {
        steps.push(path.slice(i, dot));
        i = dot + 1;
      }
      continue;
    }
    const opening = i;
    let name = '';
    let start = i + 1;
    let j = start;
    for (;;) {
      const close = path.indexOf('`', j);
      if (close < 0) throw incomplete(path, opening);
      const escaped = path[close - 1] === '\\';
      if (close === path.length - 1) {
        if (escaped) throw incomplete(path, opening);
        steps.push(name + path.slice(start, close));
        i = path.length;
        break;
      }
      if (path[close + 1] !== '.') {
        j = close + 1;
        continue;
      }
      if (escaped) {
        name += `${path.slice(start, close - 1)}\``;
        start = j = close + 1;
        continue;
      }
      steps.push(name + path.slice(start, close));
      i = close + 2;
      break;
    }
  }
  if (path.endsWith('.')) steps.push('');
  return steps;
}

function incomplete(path: string, at: number): Error {
  return new Error(`Incomplete backtick pair in path: [${path}], consider adding a backslash before backtick at position ${at} to escape it.`);
}
