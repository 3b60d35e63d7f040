import { encodeFrame, type DeviceRecord } from '../firmware-bindings/index.ts';
import { openSerialSink, pumpFrames, startPtyPair } from '../device-sim/index.ts';
import { Ingestor, RecordStore, runIngest } from '../gateway/index.ts';

export type Transport = 'pty' | 'memory';

export interface Delivered {
  framesOk: number;
  framesBad: number;
  recordsStored: number;
}

/**
 * Carries one user's wearable stream into that user's gateway store: over a real serial link
 * (a socat pseudo-terminal pair, the simulated USB cable) or, without socat, through the same
 * decoder and store in memory. Either way the bytes are the wire protocol's frames.
 */
export async function deliver(records: DeviceRecord[], storeDir: string, transport: Transport): Promise<Delivered> {
  if (transport === 'memory') {
    const store = RecordStore.open(storeDir);
    const ingestor = new Ingestor(store);
    for (const rec of records) ingestor.push(encodeFrame(rec));
    ingestor.flush();
    store.close();
    const s = ingestor.stats();
    return { framesOk: s.framesOk, framesBad: s.framesBad, recordsStored: s.recordsStored };
  }
  const pair = await startPtyPair();
  try {
    let opened!: () => void;
    const isOpen = new Promise<void>((r) => (opened = r));
    const ingest = runIngest({
      serial: pair.b,
      store: storeDir,
      exitAfter: records.length,
      idleExitS: 10, // a lost frame must not hang the demo: stop when the line goes quiet
      log: (line) => line.startsWith('opened ') && opened(),
    });
    await isOpen;
    const sink = await openSerialSink(pair.a, 115200);
    await pumpFrames(records, sink, { speed: 0, encode: encodeFrame });
    await sink.close();
    const s = await ingest;
    return { framesOk: s.framesOk, framesBad: s.framesBad, recordsStored: s.recordsStored };
  } finally {
    await pair.stop();
  }
}
