import type { z } from 'zod';

/** `users[2].userId: message` lines, one per zod issue, so every error names its field. */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues.map((i) => `  ${fieldPath(i.path)}: ${i.message}`).join('\n');
}

function fieldPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(top level)';
  return path.map((k, n) => (typeof k === 'number' ? `[${k}]` : n === 0 ? String(k) : `.${String(k)}`)).join('');
}

/** A zod error message that also shows the offending value: `expected a port 0..65535, got 70000`. */
export function expected(message: string): (issue: { input?: unknown }) => string {
  return (issue) => (issue.input === undefined ? message : `${message}, got ${JSON.stringify(issue.input)}`);
}
