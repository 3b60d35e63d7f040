/** Simulated Bluetooth LE sensors: GATT notification payloads from a simulated wearer. */
export { gattNotifications, type GattNotification, type GattNotificationOptions } from './gatt-notifications.ts';
