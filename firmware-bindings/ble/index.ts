/** BLE GATT: Heart Rate Measurement and RSC Measurement codecs, their mapping to DeviceRecords, a noble central. */
export { GattError, GattEncodeError, GATT_UUID, emptyGattStats, type GattCharacteristic, type GattStats } from './gatt-error.ts';
export { decodeHeartRateMeasurement, encodeHeartRateMeasurement, type HeartRateMeasurement, type SensorContact } from './heart-rate-measurement.ts';
export { decodeRscMeasurement, encodeRscMeasurement, type RscMeasurement } from './rsc-measurement.ts';
export { GattRecordMapper, type GattRecordMapperOptions } from './gatt-records.ts';
export {
  BleGattSource,
  BleUnavailableError,
  loadNoble,
  nobleWithBindings,
  defaultDeviceId,
  type BleGattSourceOptions,
  type BleGattSourceEvents,
  type BleGattSourceStats,
  type NobleLike,
  type NoblePeripheral,
  type NobleService,
  type NobleCharacteristic,
} from './noble-transport.ts';
