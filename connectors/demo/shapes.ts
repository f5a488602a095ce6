/**
 * The record shapes the demo source can generate: a key, a value, and Kafka Connect schemas for
 * both. Values are plain objects that match their struct schema field for field.
 *
 * Everything in a value comes from the record's own Rng plus (task, seq), so a value never depends
 * on the wall clock or on earlier records. Event times are synthetic: 2024-01-01T00:00:00Z plus
 * about one second per record of a task.
 */
import type { FieldSchema, Schema } from '../../runtime/api/index.ts';
import type { Rng } from './prng.ts';

export const SHAPES = ['orders', 'users', 'pageviews', 'sequence'] as const;
export type ShapeName = (typeof SHAPES)[number];

export interface Shape {
  keySchema: Schema;
  valueSchema: Schema;
  /** Key and value of record `seq` of task `task`. */
  generate(rng: Rng, task: number, seq: number): { key: unknown; value: Record<string, unknown> };
}

const EPOCH_2024 = Date.UTC(2024, 0, 1);
const TIMESTAMP = { type: 'int64', name: 'org.apache.kafka.connect.data.Timestamp', version: 1 } as const;

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

function struct(name: string, fields: FieldSchema[]): Schema {
  return deepFreeze({ type: 'struct', name, version: 1, fields });
}

const STRING_KEY: Schema = deepFreeze({ type: 'string' });

function eventTime(rng: Rng, seq: number): number {
  return EPOCH_2024 + seq * 1000 + rng.int(0, 999);
}

function id(prefix: string, task: number, seq: number): string {
  return `${prefix}-${task}-${String(seq).padStart(8, '0')}`;
}

const round2 = (x: number) => Math.round(x * 100) / 100;

// ---- small catalogues -------------------------------------------------------------------------

const FIRST = ['Ada', 'Alan', 'Barbara', 'Claude', 'Dennis', 'Edsger', 'Frances', 'Grace', 'Guido', 'Hedy', 'Jean', 'John', 'Ken', 'Leslie', 'Linus', 'Margaret', 'Niklaus', 'Radia', 'Shafi', 'Tim', 'Whitfield', 'Yukihiro'];
const LAST = ['Allen', 'Backus', 'Cerf', 'Dijkstra', 'Floyd', 'Goldwasser', 'Hamilton', 'Hopper', 'Kay', 'Knuth', 'Lamport', 'Liskov', 'Lovelace', 'McCarthy', 'Perlman', 'Ritchie', 'Thompson', 'Torvalds', 'Turing', 'Wirth'];
const DOMAINS = ['example.com', 'example.org', 'example.net', 'mail.example'];
const PLACES = [
  { city: 'Portland', state: 'OR', zip: '972' },
  { city: 'Austin', state: 'TX', zip: '787' },
  { city: 'Denver', state: 'CO', zip: '802' },
  { city: 'Boston', state: 'MA', zip: '021' },
  { city: 'Chicago', state: 'IL', zip: '606' },
  { city: 'Seattle', state: 'WA', zip: '981' },
  { city: 'Atlanta', state: 'GA', zip: '303' },
  { city: 'Madison', state: 'WI', zip: '537' },
];
const STREETS = ['Main St', 'Oak Ave', 'Pine St', 'Maple Dr', 'Cedar Ln', 'Elm St', 'Lake Rd', 'Hill St'];
const PRODUCTS = [
  { sku: 'SKU-1001', name: 'Espresso beans 1kg', price: 24.5 },
  { sku: 'SKU-1002', name: 'Pour-over kettle', price: 39.0 },
  { sku: 'SKU-1003', name: 'Ceramic mug', price: 12.0 },
  { sku: 'SKU-1004', name: 'Burr grinder', price: 129.99 },
  { sku: 'SKU-1005', name: 'Paper filters (100)', price: 6.75 },
  { sku: 'SKU-1006', name: 'Milk frother', price: 54.0 },
  { sku: 'SKU-1007', name: 'Cold brew jar', price: 28.4 },
  { sku: 'SKU-1008', name: 'Digital scale', price: 45.25 },
];
const ORDER_STATUS = ['PLACED', 'PLACED', 'PLACED', 'PAID', 'PAID', 'SHIPPED', 'CANCELLED'];
const COUPONS = ['WELCOME10', 'SPRING', 'FREESHIP'];
const PLANS = ['free', 'free', 'free', 'pro', 'pro', 'team'];
const INTERESTS = ['coffee', 'tea', 'cycling', 'hiking', 'jazz', 'chess', 'baking', 'photography', 'running', 'gardening'];
const PAGES = ['/', '/products', '/products/espresso-beans', '/products/burr-grinder', '/cart', '/checkout', '/blog/brew-guide', '/account', '/search?q=kettle'];
const REFERRERS = ['https://www.example.com/', 'https://news.example.org/', 'https://social.example.net/'];
const AGENTS = ['Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0', 'Mozilla/5.0 (Macintosh) Safari/17.5', 'Mozilla/5.0 (Windows NT 10.0) Chrome/126.0', 'Mozilla/5.0 (iPhone) Mobile Safari/17.5'];

// ---- shapes -----------------------------------------------------------------------------------

const TASK_SEQ: FieldSchema[] = [
  { field: 'task', type: 'int32', doc: 'Task that generated the record.' },
  { field: 'seq', type: 'int64', doc: 'Per-task sequence number, from 0, contiguous.' },
];

const ADDRESS: Schema = struct('io.tributary.demo.Address', [
  { field: 'street', type: 'string' },
  { field: 'city', type: 'string' },
  { field: 'state', type: 'string' },
  { field: 'zipcode', type: 'string' },
]);

const ORDER_LINE: Schema = struct('io.tributary.demo.OrderLine', [
  { field: 'sku', type: 'string' },
  { field: 'name', type: 'string' },
  { field: 'quantity', type: 'int32' },
  { field: 'unit_price', type: 'float64' },
]);

const orders: Shape = {
  keySchema: STRING_KEY,
  valueSchema: struct('io.tributary.demo.Order', [
    ...TASK_SEQ,
    { field: 'order_id', type: 'string' },
    { field: 'customer_id', type: 'string' },
    { field: 'ordered_at', ...TIMESTAMP },
    { field: 'status', type: 'string' },
    { field: 'lines', type: 'array', items: ORDER_LINE },
    { field: 'total', type: 'float64' },
    { field: 'currency', type: 'string' },
    { field: 'coupon', type: 'string', optional: true },
    { field: 'shipping_address', ...ADDRESS },
  ]),
  generate(rng, task, seq) {
    const orderId = id('ORD', task, seq);
    const count = rng.int(1, 4);
    const lines = [];
    let total = 0;
    for (let i = 0; i < count; i++) {
      const p = rng.pick(PRODUCTS);
      const quantity = rng.int(1, 3);
      total += p.price * quantity;
      lines.push({ sku: p.sku, name: p.name, quantity, unit_price: p.price });
    }
    const place = rng.pick(PLACES);
    const coupon = rng.chance(0.15) ? rng.pick(COUPONS) : null;
    if (coupon) total *= 0.9;
    return {
      key: orderId,
      value: {
        task,
        seq,
        order_id: orderId,
        customer_id: `CUST-${String(rng.int(1, 5000)).padStart(5, '0')}`,
        ordered_at: eventTime(rng, seq),
        status: rng.pick(ORDER_STATUS),
        lines,
        total: round2(total),
        currency: 'USD',
        coupon,
        shipping_address: {
          street: `${rng.int(1, 9999)} ${rng.pick(STREETS)}`,
          city: place.city,
          state: place.state,
          zipcode: `${place.zip}${String(rng.int(0, 99)).padStart(2, '0')}`,
        },
      },
    };
  },
};

const users: Shape = {
  keySchema: STRING_KEY,
  valueSchema: struct('io.tributary.demo.User', [
    ...TASK_SEQ,
    { field: 'user_id', type: 'string' },
    { field: 'name', type: 'string' },
    { field: 'email', type: 'string' },
    { field: 'age', type: 'int32', optional: true },
    { field: 'plan', type: 'string' },
    { field: 'city', type: 'string' },
    { field: 'interests', type: 'array', items: { type: 'string' } },
    { field: 'registered_at', ...TIMESTAMP },
  ]),
  generate(rng, task, seq) {
    const userId = id('USER', task, seq);
    const first = rng.pick(FIRST);
    const last = rng.pick(LAST);
    const interests: string[] = [];
    for (let i = rng.int(0, 3); i > 0; i--) {
      const it = rng.pick(INTERESTS);
      if (!interests.includes(it)) interests.push(it);
    }
    return {
      key: userId,
      value: {
        task,
        seq,
        user_id: userId,
        name: `${first} ${last}`,
        email: `${first}.${last}${rng.int(1, 999)}@${rng.pick(DOMAINS)}`.toLowerCase(),
        age: rng.chance(0.2) ? null : rng.int(18, 80),
        plan: rng.pick(PLANS),
        city: rng.pick(PLACES).city,
        interests,
        registered_at: eventTime(rng, seq),
      },
    };
  },
};

const pageviews: Shape = {
  keySchema: STRING_KEY,
  valueSchema: struct('io.tributary.demo.PageView', [
    ...TASK_SEQ,
    { field: 'view_id', type: 'string' },
    { field: 'user_id', type: 'string' },
    { field: 'url', type: 'string' },
    { field: 'referrer', type: 'string', optional: true },
    { field: 'user_agent', type: 'string' },
    { field: 'duration_ms', type: 'int32' },
    { field: 'viewed_at', ...TIMESTAMP },
  ]),
  generate(rng, task, seq) {
    // Views reference users a `users` generator on task 0 would produce, keyed by user so that
    // one user's views share a Kafka partition.
    const userId = id('USER', 0, rng.int(0, 999));
    return {
      key: userId,
      value: {
        task,
        seq,
        view_id: id('PV', task, seq),
        user_id: userId,
        url: `https://shop.example.com${rng.pick(PAGES)}`,
        referrer: rng.chance(0.4) ? rng.pick(REFERRERS) : null,
        user_agent: rng.pick(AGENTS),
        duration_ms: rng.int(200, 120_000),
        viewed_at: eventTime(rng, seq),
      },
    };
  },
};

const sequence: Shape = {
  keySchema: STRING_KEY,
  valueSchema: struct('io.tributary.demo.Sequence', [...TASK_SEQ]),
  generate(_rng, task, seq) {
    return { key: `${task}-${seq}`, value: { task, seq } };
  },
};

export const shapes: Record<ShapeName, Shape> = { orders, users, pageviews, sequence };
