/**
 * Canonical JSON: the one byte string that is hashed and signed for a ledger entry.
 *
 * The form is RFC 8785 (JSON Canonicalization Scheme) restricted to what a ledger entry holds:
 * - object members sorted by key, comparing UTF-16 code units (RFC 8785 §3.2.3; JavaScript's
 *   default string sort does exactly this);
 * - no whitespace anywhere (RFC 8785 §3.2.1);
 * - numbers in ECMAScript Number-to-string form, the shortest string that round-trips
 *   (RFC 8785 §3.2.2.3 adopts it), so JSON.parse followed by canonicalize reproduces the bytes;
 *   -0 prints as 0; NaN and ±Infinity have no JSON form and are refused (RFC 8785 §3.2.2.3);
 * - strings as JSON.stringify escapes them (RFC 8785 §3.2.2.2); lone surrogates are refused because
 *   UTF-8 cannot encode them (RFC 8785 §3.2.2.2 requires well-formed Unicode), and a silent U+FFFD
 *   substitution would let two different strings share one signature;
 * - the result is encoded as UTF-8 before hashing or signing.
 */

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export class CanonicalizationError extends Error {
  override name = 'CanonicalizationError';
}

export function canonicalize(value: unknown): string {
  return write(value, '$');
}

function write(value: unknown, path: string): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new CanonicalizationError(`${path}: ${value} has no JSON form`);
      return JSON.stringify(value);
    case 'string':
      if (LONE_SURROGATE.test(value)) throw new CanonicalizationError(`${path}: string holds a lone surrogate`);
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) return `[${value.map((v, i) => write(v, `${path}[${i}]`)).join(',')}]`;
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) {
        throw new CanonicalizationError(`${path}: only plain objects can be canonicalized`);
      }
      const obj = value as Record<string, unknown>;
      const members: string[] = [];
      for (const key of Object.keys(obj).sort()) {
        // JSON.stringify drops undefined members; do the same so optional fields hash alike.
        if (obj[key] === undefined) continue;
        if (LONE_SURROGATE.test(key)) throw new CanonicalizationError(`${path}: key holds a lone surrogate`);
        members.push(`${JSON.stringify(key)}:${write(obj[key], `${path}.${key}`)}`);
      }
      return `{${members.join(',')}}`;
    }
    default:
      throw new CanonicalizationError(`${path}: a ${typeof value} has no JSON form`);
  }
}
