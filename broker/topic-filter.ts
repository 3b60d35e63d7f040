/**
 * MQTT topic-name and topic-filter rules (MQTT 3.1.1 §4.7), as pure functions.
 * The ACL needs one question answered exactly: does filter A match every topic filter B can match?
 */

/** Why a topic name (what a PUBLISH carries) is malformed, or null when it is fine. */
export function topicNameError(topic: string): string | null {
  if (topic.length === 0) return 'topic is empty';
  if (topic.includes('\u0000')) return 'topic contains a NUL character';
  if (topic.includes('+') || topic.includes('#')) return 'a topic name must not contain the wildcards + or #';
  return null;
}

/** Why a topic filter (what a SUBSCRIBE carries) is malformed, or null when it is fine. */
export function topicFilterError(filter: string): string | null {
  if (filter.length === 0) return 'topic filter is empty';
  if (filter.includes('\u0000')) return 'topic filter contains a NUL character';
  const levels = filter.split('/');
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i];
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1)) {
      return `"#" must be a whole level and the last one (level ${i + 1} of "${filter}")`;
    }
    if (level.includes('+') && level !== '+') return `"+" must be a whole level (level ${i + 1} of "${filter}")`;
  }
  return null;
}

/**
 * True when every topic that `filter` matches is also matched by `pattern` (both valid filters).
 * A topic name is a filter without wildcards, so this also answers "does pattern match topic".
 * Sound but conservative: a filter that only a union of several patterns covers is reported uncovered,
 * which errs on the side of refusing.
 */
export function filterCovers(pattern: string, filter: string): boolean {
  // [MQTT-4.7.2-1]: wildcards at the first level never match topics starting with '$'.
  if (filter.startsWith('$') !== pattern.startsWith('$')) return false;
  const p = pattern.split('/');
  const f = filter.split('/');
  for (let i = 0; ; i++) {
    if (i === p.length) return i === f.length;
    // "a/#" also matches the parent "a" [MQTT-4.7.1-2], hence the check before running out of f.
    if (p[i] === '#') return true;
    if (i === f.length) return false;
    if (f[i] === '#') return false;
    if (p[i] === '+') continue;
    if (f[i] === '+' || p[i] !== f[i]) return false;
  }
}
