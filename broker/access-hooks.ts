/**
 * aedes's authenticate / authorize* hooks, built from the credential store and the pure ACL.
 * Identities live in a WeakMap keyed by the aedes client, so they vanish with the client.
 */
import type { AedesOptions, AedesPublishPacket, AuthenticateError, Client, ConnectPacket, PublishPacket, Subscription } from 'aedes';
import type { Logger } from 'pino';
import { authorize } from './acl.ts';
import type { CredentialStore } from './credential-store.ts';
import type { Identity } from './identity.ts';
import type { BrokerMetrics } from './metrics.ts';
import { isValidClientId, usernameOfClientId } from './topics.ts';

/** CONNACK return codes (MQTT 3.1.1 §3.2.2.3) that the hooks use. */
export const CONNACK = { IDENTIFIER_REJECTED: 2, SERVER_UNAVAILABLE: 3, BAD_USERNAME_OR_PASSWORD: 4, NOT_AUTHORIZED: 5 } as const;

export interface AccessHooksDeps {
  credentials: () => CredentialStore;
  metrics: BrokerMetrics;
  log: Logger;
}

export type AccessHooks = Required<Pick<AedesOptions, 'preConnect' | 'authenticate' | 'authorizePublish' | 'authorizeSubscribe' | 'authorizeForward'>> & {
  identityOf(client: Client): Identity | undefined;
};

export function createAccessHooks({ credentials, metrics, log }: AccessHooksDeps): AccessHooks {
  const identities = new WeakMap<Client, Identity>();
  const wills = new WeakMap<Client, string>();

  function refusal(code: number, reason: 'bad_credentials' | 'client_id' | 'will_topic' | 'server_error', message: string): AuthenticateError {
    metrics.authRefused.inc({ reason });
    return Object.assign(new Error(message), { returnCode: code }) as unknown as AuthenticateError;
  }

  return {
    identityOf: (client) => identities.get(client),

    // The will arrives in CONNECT; keep its topic so authenticate can refuse a will the ACL forbids.
    preConnect(client: Client, packet: ConnectPacket, done) {
      if (packet.will) wills.set(client, packet.will.topic);
      done(null, true);
    },

    authenticate(client, username, password, done) {
      const clientId = client.id;
      if (!username || !password) {
        log.warn({ clientId }, 'connect refused: no username or password');
        return done(refusal(CONNACK.BAD_USERNAME_OR_PASSWORD, 'bad_credentials', 'username and password are required'), false);
      }
      credentials()
        .verify(username, Buffer.from(password))
        .then((identity) => {
          if (!identity) {
            log.warn({ clientId, username }, 'connect refused: bad username or password');
            return done(refusal(CONNACK.BAD_USERNAME_OR_PASSWORD, 'bad_credentials', 'bad username or password'), false);
          }
          if (!isValidClientId(clientId) || usernameOfClientId(clientId) !== username) {
            log.warn({ clientId, username }, 'connect refused: client id must be the username or username:<session>');
            return done(refusal(CONNACK.IDENTIFIER_REJECTED, 'client_id', `client id "${clientId}" must be "${username}" or "${username}:<session>"`), false);
          }
          const willTopic = wills.get(client);
          if (willTopic !== undefined) {
            const d = authorize(identity, 'publish', willTopic);
            if (!d.allow) {
              log.warn({ clientId, username, willTopic, reason: d.reason }, 'connect refused: will topic not allowed');
              return done(refusal(CONNACK.NOT_AUTHORIZED, 'will_topic', `will refused: ${d.reason}`), false);
            }
          }
          identities.set(client, identity);
          done(null, true);
        })
        .catch((err: Error) => {
          log.error({ clientId, err }, 'credential check failed');
          done(refusal(CONNACK.SERVER_UNAVAILABLE, 'server_error', 'credential check failed'), false);
        });
    },

    // MQTT 3.1.1 has no negative PUBACK: an error here makes aedes drop the connection.
    authorizePublish(client: Client | null, packet: PublishPacket, done) {
      // A null client is aedes replaying a will persisted by an earlier broker run; it passed the ACL at CONNECT.
      if (client === null) return done(null);
      const identity = identities.get(client);
      if (!identity) return done(new Error('publish before authentication'));
      const d = authorize(identity, 'publish', packet.topic);
      if (!d.allow) {
        metrics.publishDenied.inc({ role: identity.role });
        log.warn({ clientId: client.id, topic: packet.topic, reason: d.reason }, 'publish denied: dropping the connection');
        return done(new Error(d.reason));
      }
      done(null);
    },

    // Refuse one subscription (SUBACK 128) and keep the connection.
    authorizeSubscribe(client: Client, sub: Subscription, done) {
      const identity = identities.get(client);
      const d = identity ? authorize(identity, 'subscribe', sub.topic) : { allow: false, reason: 'not authenticated' };
      if (!d.allow) {
        metrics.subscribeDenied.inc({ role: identity?.role ?? 'none' });
        log.warn({ clientId: client.id, topic: sub.topic, reason: d.reason }, 'subscription refused');
        return done(null, null);
      }
      done(null, sub);
    },

    // Second line: aedes stores every filter of a SUBSCRIBE packet in a persistent session, refused ones
    // included, and replays the offline queue on reconnect. Nothing reaches a client it may not read.
    authorizeForward(client: Client, packet: AedesPublishPacket) {
      const identity = identities.get(client);
      if (identity && authorize(identity, 'subscribe', packet.topic).allow) return packet;
      metrics.forwardDenied.inc({ role: identity?.role ?? 'none' });
      log.warn({ clientId: client.id, topic: packet.topic }, 'delivery withheld: receiver may not read this topic');
      return null;
    },
  };
}
