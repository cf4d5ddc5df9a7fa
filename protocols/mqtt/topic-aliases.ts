// MQTT 5 topic aliases both ways: inbound alias -> topic and outbound topic -> alias. Pure; imports src/core/errors.ts only.
import { GatewayError } from '../../src/core/errors.ts';

/** Aliases a client set on its PUBLISHes, bounded by our Topic Alias Maximum (made on first use). */
export class InboundAliases {
  private map: Map<number, string> | undefined;

  constructor(private readonly max: number) {}

  /**
   * The topic of a PUBLISH with Topic Alias `alias`: a non-empty topic (re)binds the alias, an empty one
   * uses it. Alias 0 or above our maximum: 0x94 [MQTT-3.3.2-8], [MQTT-3.3.2-9]; an unbound alias: protocol error.
   */
  resolve(topic: string, alias: number | undefined): string {
    if (alias === undefined) return topic;
    if (alias === 0 || alias > this.max) throw new GatewayError('TOPIC_ALIAS_INVALID', `alias ${alias}`);
    if (topic.length !== 0) {
      (this.map ??= new Map()).set(alias, topic);
      return topic;
    }
    const known = this.map?.get(alias);
    if (known === undefined) throw new GatewayError('PROTOCOL_ERROR', `unknown topic alias ${alias}`);
    return known;
  }
}

/** Aliases we give topics on PUBLISHes to a client, up to its Topic Alias Maximum; never re-bound. */
export class OutboundAliases {
  private map: Map<string, number> | undefined;

  constructor(private readonly max: number) {}

  /** The topic to write and the alias to send: a known topic goes as '' + alias, a new one binds the next alias while there is room. */
  assign(topic: string): { topic: string; alias?: number } {
    if (this.max <= 0) return { topic };
    const aliases = (this.map ??= new Map());
    const alias = aliases.get(topic);
    if (alias !== undefined) return { topic: '', alias };
    if (aliases.size >= this.max) return { topic };
    const next = aliases.size + 1;
    aliases.set(topic, next);
    return { topic, alias: next };
  }
}
