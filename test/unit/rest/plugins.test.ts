import { describe, expect, it } from 'vitest';
import { call, setup } from './helpers.ts';
import { DEMO_SOURCE, LOG_SINK } from './memory-herder.ts';

describe('/connector-plugins', () => {
  it('lists connectors only by default: [{class, type, version}]', async () => {
    const { app } = setup();
    const res = await call(app, 'GET', '/connector-plugins');
    expect(res.status).toBe(200);
    expect(res.body).toEqual([
      { class: DEMO_SOURCE, type: 'source', version: '0.1.0' },
      { class: LOG_SINK, type: 'sink', version: '0.1.0' },
    ]);
    expect((await call(app, 'GET', '/connector-plugins?connectorsOnly=true')).body).toHaveLength(2);
  });

  it('?connectorsOnly=false lists transforms, predicates and converters too', async () => {
    const { app } = setup();
    const res = await call(app, 'GET', '/connector-plugins?connectorsOnly=false');
    expect(res.body.map((p: { type: string }) => p.type)).toEqual(['source', 'sink', 'transformation', 'predicate', 'converter']);
  });

  it('GET /{p}/config lists ConfigKeyInfo definitions (aliases work)', async () => {
    const { app } = setup();
    const res = await call(app, 'GET', '/connector-plugins/demo/config');
    expect(res.status).toBe(200);
    const topic = res.body.find((d: { name: string }) => d.name === 'topic');
    expect(topic).toEqual({
      name: 'topic',
      type: 'STRING',
      required: true,
      default_value: null,
      importance: 'HIGH',
      documentation: 'Topic to write to.',
      group: null,
      order: 3,
      width: 'NONE',
      display_name: 'topic',
      dependents: [],
    });
    expect((await call(app, 'GET', '/connector-plugins/Nope/config')).status).toBe(404);
  });

  it('PUT /{p}/config/validate answers ConfigInfos with per-field errors (200 even when invalid)', async () => {
    const { app } = setup();
    const res = await call(app, 'PUT', '/connector-plugins/DemoSource/config/validate', { 'rate.per.sec': 0, 'api.password': 'x', 'tasks.max': 1 });
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(['configs', 'error_count', 'groups', 'name']);
    expect(res.body.name).toBe(DEMO_SOURCE);
    expect(res.body.error_count).toBe(3); // name, topic, rate.per.sec
    const rate = res.body.configs.find((c: { definition: { name: string } }) => c.definition.name === 'rate.per.sec');
    expect(Object.keys(rate.definition).sort()).toEqual(
      ['default_value', 'dependents', 'display_name', 'documentation', 'group', 'importance', 'name', 'order', 'required', 'type', 'width'],
    );
    expect(rate.value).toEqual({ name: 'rate.per.sec', value: '0', recommended_values: [], errors: [expect.stringContaining('at least 1')], visible: true });
    const pw = res.body.configs.find((c: { definition: { name: string } }) => c.definition.name === 'api.password');
    expect(pw.value.value).toBe('[hidden]');
  });

  it('validate refuses a nested value with 400', async () => {
    const { app } = setup();
    const res = await call(app, 'PUT', '/connector-plugins/demo/config/validate', { topic: { a: 1 } });
    expect(res.status).toBe(400);
    expect(res.body.message).toContain('topic (an object)');
  });
});
