/**
 * The fuzz targets of issue 11 (tests/README.md, "Fuzzing and audits"). Each runs one input and
 * says whether the code under test behaved: accepted it, or refused it with its documented error
 * class and a non-empty message, and kept its output bounded by its input (no unbounded memory,
 * no work beyond a linear pass). Anything else is a failure, returned as a one-line description.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, YAMLError } from 'yaml';
import { FrameDecoder, GattError, WireError, decodeFrame, decodeHeartRateMeasurement, decodeRecord, decodeRscMeasurement } from '../../firmware-bindings/index.ts';
import { EnvelopeError, decodeEnvelope } from '../../federation/index.ts';
import { parseLedgerText } from '../../privacy/index.ts';
import { GatewayConfigError, parseGatewayConfig } from '../../gateway/index.ts';
import { PacketLengthScanner, parseBrokerConfig } from '../../broker/index.ts';

export interface FuzzTarget {
  readonly name: string;
  /** Longest input generated (mutations are cut there). */
  readonly maxInputBytes: number;
  /** undefined if the input was handled as documented; otherwise what went wrong. */
  run(input: Uint8Array): string | undefined;
}

const CORPUS_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/fuzz-corpus');

/** The valid samples of a target (tests/fixtures/fuzz-corpus/<name>/, made by make-corpus.ts). */
export function loadCorpus(name: string): Uint8Array[] {
  const dir = path.join(CORPUS_ROOT, name);
  return readdirSync(dir)
    .sort()
    .map((f) => new Uint8Array(readFileSync(path.join(dir, f))));
}

type ErrorClass = abstract new (...args: never[]) => Error;

/** Runs fn; a throw is fine only if it is one of `allowed` and carries a message. */
function expectOnly(allowed: readonly ErrorClass[], fn: () => string | undefined): string | undefined {
  try {
    return fn();
  } catch (err) {
    if (allowed.some((C) => err instanceof C)) {
      return (err as Error).message.trim() === '' ? `${(err as Error).name} without a message` : undefined;
    }
    const e = err as Error;
    return `undocumented ${e?.name ?? typeof err}: ${String(e?.message ?? err).slice(0, 200)}`;
  }
}

function countByte(bytes: Uint8Array, b: number): number {
  let n = 0;
  for (let i = 0; i < bytes.length; i++) if (bytes[i] === b) n++;
  return n;
}

/** Chunk boundaries derived from the input itself, so the same input always splits the same way. */
function chunks(input: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let at = 0;
  let k = input.length;
  while (at < input.length) {
    k = (k * 1103515245 + 12345) >>> 0;
    const len = 1 + (k % 13);
    out.push(input.subarray(at, at + len));
    at += len;
  }
  return out;
}

const wireRecord: FuzzTarget = {
  name: 'wire-record',
  maxInputBytes: 128,
  run: (input) => expectOnly([WireError], () => void decodeRecord(input)),
};

const wireFrame: FuzzTarget = {
  name: 'wire-frame',
  maxInputBytes: 1024,
  run(input) {
    const single = expectOnly([WireError], () => void decodeFrame(input));
    if (single) return `decodeFrame: ${single}`;
    return expectOnly([], () => {
      const whole = new FrameDecoder();
      const a = whole.push(input);
      const split = new FrameDecoder();
      const b = chunks(input).flatMap((c) => split.push(c));
      const frames = countByte(input, 0) + 1;
      if (a.length > frames) return `FrameDecoder: ${a.length} records from ${frames - 1} delimiters`;
      const s = whole.stats;
      if (s.bytes !== input.length) return `FrameDecoder: counted ${s.bytes} bytes of ${input.length}`;
      if (s.framesOk + s.framesBad > frames) return `FrameDecoder: ${s.framesOk + s.framesBad} frames counted from ${frames - 1} delimiters`;
      if (s.framesOk !== a.length) return `FrameDecoder: framesOk ${s.framesOk} but ${a.length} records`;
      // Chunking must not change the outcome (the decoder's state machine spans push calls).
      if (JSON.stringify(a) !== JSON.stringify(b) || JSON.stringify(s) !== JSON.stringify(split.stats)) return 'FrameDecoder: chunked input decodes differently';
      return undefined;
    });
  },
};

const gattHrm: FuzzTarget = {
  name: 'gatt-hrm',
  maxInputBytes: 64,
  run: (input) =>
    expectOnly([GattError], () => {
      const m = decodeHeartRateMeasurement(input);
      return m.rrIntervals1024.length > input.length / 2 ? `${m.rrIntervals1024.length} RR intervals from ${input.length} bytes` : undefined;
    }),
};

const gattRsc: FuzzTarget = {
  name: 'gatt-rsc',
  maxInputBytes: 64,
  run: (input) => expectOnly([GattError], () => void decodeRscMeasurement(input)),
};

const envelope: FuzzTarget = {
  name: 'envelope',
  maxInputBytes: 4096,
  run: (input) =>
    expectOnly([EnvelopeError], () => {
      const env = decodeEnvelope(input);
      // Memory: whatever the header claims, what was decoded must come from bytes that were there
      // (a top-k bitmap gives at most 8 indices per byte).
      let elements = 0;
      for (const v of Object.values(env.update)) if (ArrayBuffer.isView(v)) elements += (v as unknown as ArrayLike<number>).length;
      return elements > 8 * input.length + 64 ? `decoded ${elements} elements from ${input.length} bytes` : undefined;
    }),
};

const ledger: FuzzTarget = {
  name: 'ledger',
  maxInputBytes: 8192,
  run: (input) =>
    expectOnly([], () => {
      const parsed = parseLedgerText(input);
      const newlines = countByte(input, 0x0a);
      if (parsed.lines.length !== newlines) return `${parsed.lines.length} lines for ${newlines} newlines`;
      if (parsed.validBytes > input.length) return `validBytes ${parsed.validBytes} beyond ${input.length}`;
      for (const l of parsed.lines) if (!l.check.ok && l.check.detail.trim() === '') return `line ${l.line}: refusal without a detail`;
      return undefined;
    }),
};

const text = new TextDecoder('utf-8');

/** What loadGatewayConfig / loadBrokerConfig do after reading the file: YAML, then the schema. */
function configTarget(name: string, parse: (raw: unknown) => unknown, allowed: readonly ErrorClass[], isDocumented?: (e: Error) => boolean): FuzzTarget {
  return {
    name,
    maxInputBytes: 8192,
    run(input) {
      let raw: unknown;
      // The loaders wrap whatever the YAML parser throws into their own "does not parse" error, so
      // any Error with a message is handled. (yaml 2.9 throws a bare ReferenceError for an alias to
      // an unknown anchor, not a YAMLError: only that wrapping keeps it a clear config error.)
      // yaml caps alias expansion (maxAliasCount 100): the billion-laughs guard the loaders rely on.
      const yamlFault = expectOnly([YAMLError, Error], () => {
        raw = parseYaml(text.decode(input), { logLevel: 'error' }); // the loaders print YAML warnings; keep fuzz output readable
        return undefined;
      });
      if (yamlFault || raw === undefined) return yamlFault;
      try {
        parse(raw);
        return undefined;
      } catch (err) {
        const e = err as Error;
        if (allowed.some((C) => e instanceof C) || isDocumented?.(e)) return e.message.trim() === '' ? 'config error without a message' : undefined;
        return `undocumented ${e?.name}: ${String(e?.message).slice(0, 200)}`;
      }
    },
  };
}

const gatewayConfig = configTarget('gateway-config', (raw) => parseGatewayConfig(raw, '/etc/fedwear'), [GatewayConfigError]);
// parseBrokerConfig refuses with a plain Error whose message starts "invalid broker config".
const brokerConfig = configTarget('broker-config', (raw) => parseBrokerConfig(raw, '/etc/fedwear'), [], (e) => e.constructor === Error && e.message.startsWith('invalid broker config'));

const mqttGuard: FuzzTarget = {
  name: 'mqtt-guard',
  maxInputBytes: 4096,
  run: (input) =>
    expectOnly([], () => {
      const limit = 256;
      const whole = new PacketLengthScanner(limit);
      const va = whole.feed(input);
      const split = new PacketLengthScanner(limit);
      let vb = null;
      for (const c of chunks(input)) if ((vb = split.feed(c))) break;
      if (JSON.stringify(va) !== JSON.stringify(vb)) return `chunked input gives ${JSON.stringify(vb)}, whole ${JSON.stringify(va)}`;
      if (whole.packets > input.length / 2) return `${whole.packets} packets from ${input.length} bytes`;
      if (va?.kind === 'oversize' && !(va.packetBytes > limit)) return `oversize reported for ${va.packetBytes} bytes`;
      if (va?.kind === 'malformed' && va.detail.trim() === '') return 'malformed without a detail';
      return undefined;
    }),
};

export const FUZZ_TARGETS: readonly FuzzTarget[] = [wireFrame, wireRecord, gattHrm, gattRsc, envelope, ledger, gatewayConfig, brokerConfig, mqttGuard];

export function fuzzTarget(name: string): FuzzTarget {
  const t = FUZZ_TARGETS.find((x) => x.name === name);
  if (!t) throw new RangeError(`unknown fuzz target "${name}" (known: ${FUZZ_TARGETS.map((x) => x.name).join(', ')})`);
  return t;
}
