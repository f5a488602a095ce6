/**
 * Worker configuration: one convict schema, read from (lowest to highest precedence) defaults, a
 * JSON file (`tributary start --config worker.json`), `TRIBUTARY_*` environment variables and
 * flags (`--rest-port 8084`). Validated at start; every bad key is reported in one message.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import convict from 'convict';

const schema = {
  mode: {
    doc: 'standalone: one process, state in state.dir; distributed: a group of workers over Kafka.',
    format: ['standalone', 'distributed'],
    default: 'standalone',
    env: 'TRIBUTARY_MODE',
    arg: 'mode',
  },
  worker: {
    id: {
      doc: 'This worker\'s id in statuses; defaults to host:port of the REST listener.',
      format: String,
      default: '',
      env: 'TRIBUTARY_WORKER_ID',
      arg: 'worker-id',
    },
  },
  rest: {
    host: {
      doc: 'Address the REST API listens on. Anything but loopback requires authentication (or rest.auth.allow.insecure).',
      format: String,
      default: '127.0.0.1',
      env: 'TRIBUTARY_REST_HOST',
      arg: 'rest-host',
    },
    port: {
      doc: 'REST API port (Kafka Connect\'s default). 0 picks a free port.',
      format: 'port',
      default: 8083,
      env: 'TRIBUTARY_REST_PORT',
      arg: 'rest-port',
    },
    advertised: {
      url: {
        doc: 'URL other workers use to reach this one (distributed mode); defaults to http://host:port.',
        format: String,
        default: '',
        env: 'TRIBUTARY_REST_ADVERTISED_URL',
      },
    },
    auth: {
      type: {
        doc: 'REST authentication: none, basic or bearer.',
        format: ['none', 'basic', 'bearer'],
        default: 'none',
        env: 'TRIBUTARY_REST_AUTH_TYPE',
      },
      users: {
        doc: 'Basic auth users as user:password pairs, comma-separated.',
        format: String,
        default: '',
        sensitive: true,
        env: 'TRIBUTARY_REST_AUTH_USERS',
      },
      tokens: {
        doc: 'Bearer tokens accepted, comma-separated.',
        format: String,
        default: '',
        sensitive: true,
        env: 'TRIBUTARY_REST_AUTH_TOKENS',
      },
      allowInsecure: {
        doc: 'Allow listening on a non-loopback address without authentication.',
        format: Boolean,
        default: false,
        env: 'TRIBUTARY_REST_AUTH_ALLOW_INSECURE',
      },
    },
  },
  state: {
    dir: {
      doc: 'Standalone mode: where configs, offsets and status are kept.',
      format: String,
      default: '.tributary',
      env: 'TRIBUTARY_STATE_DIR',
      arg: 'state-dir',
    },
  },
  connectors: {
    dir: {
      doc: 'A folder of connector JSON files (Kafka Connect format) applied at start and whenever they change. Empty: none.',
      format: String,
      default: '',
      env: 'TRIBUTARY_CONNECTORS_DIR',
      arg: 'connectors-dir',
    },
  },
  bootstrap: {
    servers: {
      doc: 'Kafka brokers (host:port, comma-separated). Empty in standalone mode: data moves on in-process topics.',
      format: String,
      default: '',
      env: 'TRIBUTARY_BOOTSTRAP_SERVERS',
      arg: 'bootstrap-servers',
    },
  },
  group: {
    id: {
      doc: 'Distributed mode: the worker group (Kafka Connect\'s group.id).',
      format: String,
      default: 'tributary-cluster',
      env: 'TRIBUTARY_GROUP_ID',
      arg: 'group-id',
    },
  },
  redis: {
    url: {
      doc: 'Redis for durable retries and snapshot chunk jobs (optional).',
      format: String,
      default: '',
      env: 'TRIBUTARY_REDIS_URL',
      arg: 'redis-url',
    },
  },
  plugin: {
    path: {
      doc: 'Folders holding third-party connector packages, comma-separated.',
      format: String,
      default: '',
      env: 'TRIBUTARY_PLUGIN_PATH',
      arg: 'plugin-path',
    },
  },
  plugins: {
    doc: 'npm packages to load connectors from, comma-separated.',
    format: String,
    default: '',
    env: 'TRIBUTARY_PLUGINS',
  },
  config: {
    storage: {
      topic: {
        doc: 'Distributed mode: the compacted topic holding configs (Kafka Connect: config.storage.topic). Empty: <group.id>-configs.',
        format: String,
        default: '',
        env: 'TRIBUTARY_CONFIG_STORAGE_TOPIC',
      },
      replication: {
        factor: {
          doc: 'Replication factor of the config topic when this worker creates it; -1: the broker default.',
          format: 'int',
          default: -1,
          env: 'TRIBUTARY_CONFIG_STORAGE_REPLICATION_FACTOR',
        },
      },
    },
  },
  status: {
    storage: {
      topic: {
        doc: 'Distributed mode: the compacted topic holding statuses (Kafka Connect: status.storage.topic). Empty: <group.id>-status.',
        format: String,
        default: '',
        env: 'TRIBUTARY_STATUS_STORAGE_TOPIC',
      },
      partitions: {
        doc: 'Partitions of the status topic when this worker creates it (Kafka Connect: status.storage.partitions).',
        format: 'nat',
        default: 5,
        env: 'TRIBUTARY_STATUS_STORAGE_PARTITIONS',
      },
      replication: {
        factor: {
          doc: 'Replication factor of the status topic when this worker creates it; -1: the broker default.',
          format: 'int',
          default: -1,
          env: 'TRIBUTARY_STATUS_STORAGE_REPLICATION_FACTOR',
        },
      },
    },
  },
  exactly: {
    once: {
      source: {
        support: {
          doc: 'Distributed mode: enabled makes source tasks exactly-once (KIP-618): each produces in transactions that carry its offsets, and a task\'s successor fences it. Consumers read with isolation.level=read_committed.',
          format: ['disabled', 'enabled'],
          default: 'disabled',
          env: 'TRIBUTARY_EXACTLY_ONCE_SOURCE_SUPPORT',
        },
      },
    },
  },
  session: {
    timeout: {
      ms: {
        doc: 'Distributed mode: a worker that sends no heartbeat for this long is out of the group and its work moves (Kafka Connect: session.timeout.ms).',
        format: 'nat',
        default: 10000,
        env: 'TRIBUTARY_SESSION_TIMEOUT_MS',
      },
    },
  },
  heartbeat: {
    interval: {
      ms: {
        doc: 'Distributed mode: heartbeat interval; also how soon a worker notices a rebalance another started, which is most of a failover after the session timeout (Connect: 3000).',
        format: 'nat',
        default: 500,
        env: 'TRIBUTARY_HEARTBEAT_INTERVAL_MS',
      },
    },
  },
  scheduled: {
    rebalance: {
      max: {
        delay: {
          ms: {
            doc: 'Distributed mode: how long the leader holds back the work of a worker that left the group, in case it comes back, before the others take it (Kafka Connect: 300000). Failover takes session.timeout.ms plus this.',
            format: 'nat',
            default: 1000,
            env: 'TRIBUTARY_SCHEDULED_REBALANCE_MAX_DELAY_MS',
          },
        },
      },
    },
  },
  rebalance: {
    timeout: {
      ms: {
        doc: 'Distributed mode: how long a rebalance waits for every worker to rejoin (Kafka Connect: rebalance.timeout.ms).',
        format: 'nat',
        default: 60000,
        env: 'TRIBUTARY_REBALANCE_TIMEOUT_MS',
      },
    },
  },
  offset: {
    storage: {
      topic: {
        doc: 'Distributed mode: the compacted topic holding offsets (Kafka Connect: offset.storage.topic). Empty: <group.id>-offsets.',
        format: String,
        default: '',
        env: 'TRIBUTARY_OFFSET_STORAGE_TOPIC',
      },
      partitions: {
        doc: 'Partitions of the offset topic when this worker creates it (Kafka Connect: offset.storage.partitions).',
        format: 'nat',
        default: 25,
        env: 'TRIBUTARY_OFFSET_STORAGE_PARTITIONS',
      },
      replication: {
        factor: {
          doc: 'Replication factor of the offset topic when this worker creates it; -1: the broker default.',
          format: 'int',
          default: -1,
          env: 'TRIBUTARY_OFFSET_STORAGE_REPLICATION_FACTOR',
        },
      },
    },
    flush: {
      interval: {
        ms: {
          doc: 'How often source offsets and sink positions are committed (Kafka Connect: offset.flush.interval.ms).',
          format: 'nat',
          default: 1000,
          env: 'TRIBUTARY_OFFSET_FLUSH_INTERVAL_MS',
        },
      },
    },
  },
  topics: {
    memory: {
      partitions: {
        doc: 'Partitions of each in-process topic (standalone without Kafka).',
        format: 'nat',
        default: 1,
        env: 'TRIBUTARY_MEMORY_TOPIC_PARTITIONS',
      },
      capacity: {
        doc: 'Records an in-process topic partition holds before its producers wait (backpressure), unless every sink has read all but half of them (a sink that holds records back until a batch is complete, as S3 until flush.size, then gets more). Small keeps records young in V8: at 8192 a fast pipeline spent a third of its CPU promoting them.',
        format: 'nat',
        default: 2048,
        env: 'TRIBUTARY_MEMORY_TOPIC_CAPACITY',
      },
    },
  },
  key: {
    converter: {
      doc: 'Default key converter for connectors that set none.',
      format: String,
      default: 'org.apache.kafka.connect.json.JsonConverter',
      env: 'TRIBUTARY_KEY_CONVERTER',
    },
  },
  value: {
    converter: {
      doc: 'Default value converter for connectors that set none.',
      format: String,
      default: 'org.apache.kafka.connect.json.JsonConverter',
      env: 'TRIBUTARY_VALUE_CONVERTER',
    },
  },
  task: {
    shutdown: {
      graceful: {
        timeout: {
          ms: {
            doc: 'How long stopping a task waits for its poll() or put() to return and for its stop() (Kafka Connect: task.shutdown.graceful.timeout.ms). A task that ignores its abort signal is then abandoned, so it cannot hang a rebalance, a delete or the worker\'s shutdown.',
            format: 'nat',
            default: 5000,
            env: 'TRIBUTARY_TASK_SHUTDOWN_GRACEFUL_TIMEOUT_MS',
          },
        },
      },
    },
  },
  heap: {
    growing: {
      percent: {
        doc: "How far the JavaScript heap's old generation may grow past its live data before a full garbage collection, in percent (V8's --heap-growing-percent), while full collections take over 1% of the time: 150 lets it reach 2.5x. Under a steady stream of records V8 alone lets it reach up to 4x; 150 cuts a Postgres CDC stream's peak memory by about a quarter for about 10% more CPU. 0 leaves V8's own heuristic (and ignores heap.growing.min.percent).",
        format: 'nat',
        default: 150,
        env: 'TRIBUTARY_HEAP_GROWING_PERCENT',
      },
      min: {
        percent: {
          doc: "The old generation's growth past its live data, in percent, while full garbage collections take under 0.25% of the time (a worker that promotes few objects): their cost then stays negligible, and the heap stays near its live size. Capped at heap.growing.percent.",
          format: 'nat',
          default: 50,
          env: 'TRIBUTARY_HEAP_GROWING_MIN_PERCENT',
        },
      },
    },
    young: {
      target: {
        ms: {
          doc: "The young generation (V8's new space) may grow only while, twice as large, it would still fill with new objects within this many ms (so it settles where it fills every half to one times this), or while scavenges take over 5% of the time (many survivors). V8 alone grows it to its 32 MB maximum under any steady stream; a quiet worker then keeps 24 MB it does not need, while a fast pipeline still gets the maximum within a second. 0 leaves V8 its own growth.",
          format: 'nat',
          default: 125,
          env: 'TRIBUTARY_HEAP_YOUNG_TARGET_MS',
        },
      },
    },
  },
  log: {
    level: {
      doc: 'Log level: trace, debug, info, warn, error.',
      format: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'],
      default: 'info',
      env: 'TRIBUTARY_LOG_LEVEL',
      arg: 'log-level',
    },
  },
} as const;

export interface WorkerConfig {
  mode: 'standalone' | 'distributed';
  workerId: string;
  rest: {
    host: string;
    port: number;
    advertisedUrl: string;
    auth: { type: 'none' | 'basic' | 'bearer'; users: Record<string, string>; tokens: string[]; allowInsecure: boolean };
  };
  stateDir: string;
  connectorsDir: string;
  bootstrapServers: string[];
  groupId: string;
  /** Distributed mode: the internal topics (names resolved from group.id when not set). */
  storage: {
    configs: { topic: string; replicationFactor: number };
    offsets: { topic: string; partitions: number; replicationFactor: number };
    status: { topic: string; partitions: number; replicationFactor: number };
  };
  exactlyOnceSource: boolean;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  rebalanceTimeoutMs: number;
  lostWorkDelayMs: number;
  redisUrl: string;
  pluginPath: string[];
  plugins: string[];
  offsetFlushIntervalMs: number;
  memoryTopicPartitions: number;
  memoryTopicCapacity: number;
  taskShutdownGracefulTimeoutMs: number;
  /** V8's --heap-growing-percent for the worker process while full GCs are costly; 0 = V8's default. */
  heapGrowingPercent: number;
  /** --heap-growing-percent while full GCs are rare. */
  heapGrowingPercentMin: number;
  /** New space grows only while, doubled, it would fill within this (ms), or scavenges cost over 5%; 0 = V8's own growth. */
  heapYoungTargetMs: number;
  keyConverter: string;
  valueConverter: string;
  logLevel: string;
}

export class WorkerConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WorkerConfigError';
  }
}

const list = (s: string) => s.split(',').map((x) => x.trim()).filter(Boolean);

/**
 * Load and validate. `overrides` are flat convict paths (e.g. `{'rest.port': 0}`) applied last,
 * for tests and embedding.
 */
export function loadWorkerConfig(options: {
  file?: string;
  args?: string[];
  env?: NodeJS.ProcessEnv;
  overrides?: Record<string, unknown>;
} = {}): WorkerConfig {
  const conf = convict(schema as any, { args: options.args ?? [], env: options.env ?? process.env });
  if (options.file) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(options.file, 'utf8'));
    } catch (e) {
      throw new WorkerConfigError(`Cannot read worker config ${options.file}: ${(e as Error).message}`);
    }
    try {
      conf.load(unflatten(parsed as Record<string, unknown>));
    } catch (e) {
      throw new WorkerConfigError(`Invalid worker config ${options.file}: ${(e as Error).message}`);
    }
  }
  for (const [k, v] of Object.entries(options.overrides ?? {})) conf.set(k, v);
  try {
    conf.validate({ allowed: 'strict' });
  } catch (e) {
    const lines = (e as Error).message.split('\n').map((l) => `  - ${l}`).join('\n');
    throw new WorkerConfigError(`Invalid worker configuration:\n${lines}\nSee config/worker-config.ts or README for every key.`);
  }
  const c = conf.getProperties() as any;
  const users: Record<string, string> = {};
  for (const pair of list(c.rest.auth.users)) {
    const i = pair.indexOf(':');
    if (i <= 0) throw new WorkerConfigError('Invalid worker configuration: rest.auth.users must be user:password pairs, comma-separated.');
    users[pair.slice(0, i)] = pair.slice(i + 1);
  }
  const cfg: WorkerConfig = {
    mode: c.mode,
    workerId: c.worker.id,
    rest: {
      host: c.rest.host,
      port: c.rest.port,
      advertisedUrl: c.rest.advertised.url,
      auth: { type: c.rest.auth.type, users, tokens: list(c.rest.auth.tokens), allowInsecure: c.rest.auth.allowInsecure },
    },
    stateDir: c.state.dir,
    connectorsDir: c.connectors.dir,
    bootstrapServers: list(c.bootstrap.servers),
    groupId: c.group.id,
    storage: {
      configs: { topic: c.config.storage.topic || `${c.group.id}-configs`, replicationFactor: c.config.storage.replication.factor },
      offsets: { topic: c.offset.storage.topic || `${c.group.id}-offsets`, partitions: Math.max(1, c.offset.storage.partitions), replicationFactor: c.offset.storage.replication.factor },
      status: { topic: c.status.storage.topic || `${c.group.id}-status`, partitions: Math.max(1, c.status.storage.partitions), replicationFactor: c.status.storage.replication.factor },
    },
    exactlyOnceSource: c.exactly.once.source.support === 'enabled',
    sessionTimeoutMs: c.session.timeout.ms,
    heartbeatIntervalMs: c.heartbeat.interval.ms,
    rebalanceTimeoutMs: c.rebalance.timeout.ms,
    lostWorkDelayMs: c.scheduled.rebalance.max.delay.ms,
    redisUrl: c.redis.url,
    pluginPath: list(c.plugin.path),
    plugins: list(c.plugins),
    offsetFlushIntervalMs: c.offset.flush.interval.ms,
    memoryTopicPartitions: Math.max(1, c.topics.memory.partitions),
    memoryTopicCapacity: Math.max(100, c.topics.memory.capacity),
    taskShutdownGracefulTimeoutMs: c.task.shutdown.graceful.timeout.ms,
    heapGrowingPercent: c.heap.growing.percent,
    heapGrowingPercentMin: c.heap.growing.min.percent,
    heapYoungTargetMs: c.heap.young.target.ms,
    keyConverter: c.key.converter,
    valueConverter: c.value.converter,
    logLevel: c.log.level,
  };
  if (cfg.mode === 'distributed' && cfg.bootstrapServers.length === 0) {
    throw new WorkerConfigError('Invalid worker configuration: mode=distributed needs bootstrap.servers (TRIBUTARY_BOOTSTRAP_SERVERS).');
  }
  if (cfg.heartbeatIntervalMs * 3 > cfg.sessionTimeoutMs) {
    throw new WorkerConfigError('Invalid worker configuration: heartbeat.interval.ms must be at most a third of session.timeout.ms, or a slow heartbeat costs a worker its membership.');
  }
  if (cfg.rest.auth.type === 'basic' && Object.keys(users).length === 0) {
    throw new WorkerConfigError('Invalid worker configuration: rest.auth.type=basic needs rest.auth.users (user:password,...).');
  }
  if (cfg.rest.auth.type === 'bearer' && cfg.rest.auth.tokens.length === 0) {
    throw new WorkerConfigError('Invalid worker configuration: rest.auth.type=bearer needs rest.auth.tokens.');
  }
  if (!cfg.workerId) cfg.workerId = `${hostname()}:${cfg.rest.port}`;
  return cfg;
}

/** Accept both nested JSON and Kafka Connect-style dotted keys (`"rest.port": 8084`). */
function unflatten(obj: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, any> = {};
  for (const [key, value] of Object.entries(obj)) {
    const parts = key.split('.');
    let cur = out;
    for (const p of parts.slice(0, -1)) cur = cur[p] ??= {};
    const last = parts[parts.length - 1];
    cur[last] = value && typeof value === 'object' && !Array.isArray(value) ? { ...(cur[last] ?? {}), ...unflatten(value as Record<string, unknown>) } : value;
  }
  return out;
}
