/** Public face of firmware-bindings: the device-to-gateway wire protocol (wire-format.md). */
export * from './records.ts';
export {
  HEADER_LENGTH,
  CRC_LENGTH,
  MAX_RR_INTERVALS,
  MAX_MODEL_BYTES,
  MAX_TIMESTAMP_MS,
  MAX_RECORD_LENGTH,
  MAX_ENCODED_FRAME_LENGTH,
} from './layout.ts';
export { crc16, crc16Update, CRC16_INIT } from './crc16.ts';
export { cobsEncode, cobsDecode, cobsEncodeInto, cobsMaxEncodedLength } from './cobs.ts';
export { encodeRecord, encodeFrame, encodeRecordInto } from './encode.ts';
export { decodeRecord, decodeFrame } from './decode.ts';
export { FrameDecoder, type FrameDecoderOptions, type DecoderStats, type DeviceSequenceStats } from './frame-decoder.ts';
export { createDecoderStream, DecoderStream } from './decoder-stream.ts';
export { WireError, WireEncodeError, WIRE_ERROR_KINDS, type WireErrorKind } from './errors.ts';
export * from './ble/index.ts';
export * from './johnny-five/index.ts';
