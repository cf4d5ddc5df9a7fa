// Authentication and authorization hooks the adapters call through the broker; allow-all default. Imports message types only.

export interface ClientIdentity {
  clientId: string;
  username?: string;
  protocol: 'mqtt' | 'stomp';
  remoteAddress?: string;
}

export interface AuthHooks {
  /** CONNECT / STOMP CONNECT: true to accept; false answers "bad user name or password". */
  authenticate(who: ClientIdentity, password: Buffer | undefined): boolean | Promise<boolean>;
  authorizePublish(who: ClientIdentity, topic: string): boolean;
  authorizeSubscribe(who: ClientIdentity, filter: string): boolean;
}

export const ALLOW_ALL: AuthHooks = {
  authenticate: () => true,
  authorizePublish: () => true,
  authorizeSubscribe: () => true,
};
