/**
 * Single message transforms and predicates: Kafka Connect's built-ins (same class names, aliases,
 * config keys and defaults), the registry that resolves `transforms.<a>.type`, and the chain
 * built from a connector's `transforms`/`predicates` configs.
 */
export { applyStages, buildTransformChain, transformStages, validateTransforms } from './chain.ts';
export type { ConnectorConfigMap, TransformStage } from './chain.ts';
export { BUILTIN_PREDICATES, BUILTIN_TRANSFORMS, TransformRegistry, builtinTransformRegistry } from './registry.ts';

export { CastKey, CastValue } from './cast.ts';
export { DropHeaders } from './drop-headers.ts';
export { ExtractFieldKey, ExtractFieldValue } from './extract-field.ts';
export { Filter } from './filter.ts';
export { FlattenKey, FlattenValue } from './flatten.ts';
export { HeaderFromKey, HeaderFromValue } from './header-from.ts';
export { HoistFieldKey, HoistFieldValue } from './hoist-field.ts';
export { InsertFieldKey, InsertFieldValue } from './insert-field.ts';
export { InsertHeader } from './insert-header.ts';
export { MaskFieldKey, MaskFieldValue } from './mask-field.ts';
export { HasHeaderKey, RecordIsTombstone, TopicNameMatches } from './predicates.ts';
export { RegexRouter } from './regex-router.ts';
export { ReplaceFieldKey, ReplaceFieldValue } from './replace-field.ts';
export { TimestampConverterKey, TimestampConverterValue } from './timestamp-converter.ts';
export { TimestampRouter } from './timestamp-router.ts';
export { ValueToKey } from './value-to-key.ts';

export { compileDateFormat, type DateFormat } from './util/date-format.ts';
export { compileJavaRegex, fullMatch, type JavaRegex } from './util/java-regex.ts';
