// Renders docs/CONFIG.md from the config schema: every key with its type, default, GATEWAY_* variable and meaning. Imports config/schema.ts and config/validate.ts.
// `npm run config-doc` writes it; test/unit/config-doc.test.ts fails when the file and this output differ.
import { CONFIG_KEYS, CONFIG_SCHEMA } from './schema.ts';
import { describeType, type SchemaNode } from './validate.ts';

const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function defaultText(n: SchemaNode): string {
  const d = n.default;
  if (typeof d === 'number' && Number.isInteger(d) && d >= 65536 && d % 1024 === 0) {
    const mib = d / (1024 * 1024);
    return `\`${d}\` (${Number.isInteger(mib) ? `${mib} MiB` : `${d / 1024} KiB`})`;
  }
  return `\`${JSON.stringify(d)}\``;
}

const INTRO = `# Configuration reference

Generated from \`config/schema.ts\` by \`npm run config-doc\`; \`npm test\` fails when this file and the
schema disagree. The example file \`config/gateway.example.yaml\` shows every section.

## Where settings come from

Every key can be set in three places. Later sources win: **file < environment < command line**.

| source | how | example |
|---|---|---|
| config file | \`iot-gateway --config FILE\` (\`.json\` is JSON, anything else YAML) | \`mqtt:\\n  port: 1884\` |
| environment | \`GATEWAY_<PATH>\`: the dotted path in upper case, dots become \`_\`, camelCase becomes \`SNAKE_CASE\` | \`GATEWAY_MQTT_PORT=1884\`, \`GATEWAY_DATA_DIR=/var/lib/gw\`, \`GATEWAY_PERSISTENCE_FLUSH=always\` |
| command line | a named flag (\`iot-gateway --help\` lists them) or \`--set KEY=VALUE\` for any key | \`--mqtt-port 1884\`, \`--set persistence.flush=always\` |

- Every source is validated on its own before they are merged, so a bad value fails the start even when a
  later source overrides it. An error names the key, the source (file, variable or flag) and what is allowed;
  an unknown key suggests the nearest valid one. Exit code 2, nothing is opened.
- Environment and flag values are text: integers are digits, booleans \`true\` / \`false\`, a list is comma
  separated (\`GATEWAY_STOMP_QUEUES=orders,jobs\`) or a JSON array.
- A \`GATEWAY_*\` variable that names no key is a warning (with the nearest name), not an error: platforms
  add their own (Kubernetes sets \`GATEWAY_PORT\`, \`GATEWAY_SERVICE_HOST\`, ... for a service named
  \`gateway\`). \`GATEWAY_TEST_*\` belongs to the test suites and is ignored.

## Defaults worth knowing

- **Log retention: 7 days** (\`persistence.retentionMs\`). Whole segments older than that are deleted, size is
  unlimited (\`persistence.retentionBytes: -1\`). Replay (\`$log/...\`, STOMP \`x-stream-offset\`) and consumer groups
  cannot reach further back.
- **Session expiry: 7 days** (\`mqtt.maxSessionExpiry\`). An MQTT 5 client's Session Expiry Interval is capped at
  it; an MQTT 3.1 / 3.1.1 \`clean session = false\` session expires 7 days after its client disconnected.
  Mosquitto keeps such sessions forever; this gateway does not by default, deliberately: a persistent session
  is a cursor into the log, and after 7 days of retention the messages it would resume from are gone, while
  the session would still hold its subscriptions, queue bounds and state forever for a client that may never
  return. To keep 3.1.1 sessions like Mosquitto, set \`mqtt.maxSessionExpiry: 4294967295\` (never) and
  \`persistence.retentionMs: -1\` (keep the log).
- Every listener binds \`0.0.0.0\`; set \`mqtt.host\`, \`stomp.host\`, \`http.host\` to restrict.
- The admin API (\`/api/*\`) is off until \`http.adminToken\` is set.
`;

export function renderConfigReference(): string {
  const out = [INTRO];
  const sections = Object.entries(CONFIG_SCHEMA.properties as Record<string, SchemaNode>);
  const top = CONFIG_KEYS.filter((k) => !k.path.includes('.'));
  out.push('## Keys\n');
  if (top.length > 0) {
    out.push('| key | type | default | environment | meaning |', '|---|---|---|---|---|');
    for (const k of top) out.push(`| \`${k.path}\` | ${cell(describeType(k.schema))} | ${defaultText(k.schema)} | \`${k.env}\` | ${cell(k.schema.description ?? '')} |`);
    out.push('');
  }
  for (const [name, node] of sections) {
    if (node.properties === undefined || 'default' in node) continue;
    out.push(`### ${name}\n`, `${node.description ?? ''}.\n`);
    out.push('| key | type | default | environment | meaning |', '|---|---|---|---|---|');
    for (const k of CONFIG_KEYS.filter((c) => c.path.startsWith(`${name}.`))) {
      out.push(`| \`${k.path}\` | ${cell(describeType(k.schema))} | ${defaultText(k.schema)} | \`${k.env}\` | ${cell(k.schema.description ?? '')} |`);
    }
    out.push('');
  }
  return `${out.join('\n').trimEnd()}\n`;
}
