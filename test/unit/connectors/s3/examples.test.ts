// The database-to-lake example (config/examples/db-to-lake) stays valid: each connector file
// parses with its connector's spec, and its transforms exist with valid settings.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { postgresCdcSource } from '../../../../connectors/postgres-cdc/index.ts';
import { s3Sink } from '../../../../connectors/s3/index.ts';
import { builtinTransformRegistry, validateTransforms } from '../../../../runtime/transforms/index.ts';

const read = (f: string) => JSON.parse(readFileSync(new URL(`../../../../config/examples/db-to-lake/${f}`, import.meta.url), 'utf8')) as { name: string; config: Record<string, string> };

describe('config/examples/db-to-lake', () => {
  it('the S3 sink config is valid and writes hourly Snappy Parquet', () => {
    const { config } = read('connectors/shop-to-lake.json');
    expect(s3Sink.config.errors(config)).toEqual([]);
    expect(config['connector.class']).toBe('io.confluent.connect.s3.S3SinkConnector');
    expect(validateTransforms(config, builtinTransformRegistry())).toEqual([]);
  });

  it('the Postgres CDC config is valid', () => {
    const { config } = read('connectors/shop-cdc.json');
    expect(postgresCdcSource.config.errors(config)).toEqual([]);
  });
});
