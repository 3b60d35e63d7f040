// aedes-persistence-level and aedes-persistence-redis ship no types; we use only the factory and destroy().
declare module 'aedes-persistence-level' {
  import type { AedesPersistence } from 'aedes-persistence';
  export default function aedesPersistenceLevel(db: unknown): AedesPersistence;
}

declare module 'aedes-persistence-redis' {
  import type { AedesPersistence } from 'aedes-persistence';
  export interface RedisPersistenceOptions {
    host?: string;
    port?: number;
    username?: string;
    password?: string;
    db?: number;
    tls?: Record<string, unknown>;
    maxSessionDelivery?: number;
  }
  export default function aedesPersistenceRedis(opts?: RedisPersistenceOptions): AedesPersistence;
}
