import { custom, defineConfig, nonEmpty, oneOf, range, url } from '../../runtime/api/index.ts';
import { hostAllowedMessage, httpSinkConfig } from './sink-config.ts';

const shared = httpSinkConfig.definition;

export const httpPollerConfig = defineConfig({
  topic: { type: 'string', doc: 'The topic every fetched record is written to.', importance: 'high', validate: nonEmpty() },
  'http.url': {
    type: 'string',
    doc: 'The API to call. Pagination parameters are added to its query.',
    importance: 'high',
    validate: custom<string>((v, all) => url()(v, all) ?? hostAllowedMessage(new URL(v).origin, all['http.allowed.hosts'], 'http.allowed.hosts'), 'an http(s) URL'),
  },
  'http.method': { type: 'string', default: 'GET', doc: 'GET, or POST with an empty body.', importance: 'low', validate: oneOf(['GET', 'POST'], { caseInsensitive: true }) },
  'http.authorization.type': shared['http.authorization.type'],
  'http.headers.authorization': shared['http.headers.authorization'],
  'http.authorization.header': shared['http.authorization.header'],
  'http.auth.username': shared['http.auth.username'],
  'http.auth.password': shared['http.auth.password'],
  'http.auth.token': shared['http.auth.token'],
  'http.headers.additional': shared['http.headers.additional'],
  'http.timeout': shared['http.timeout'],
  'http.allowed.hosts': shared['http.allowed.hosts'],
  'http.poll.interval.ms': {
    type: 'long',
    default: 60_000,
    doc: 'How long to wait after catching up (an empty or last page) before calling again. While pages keep coming, they are fetched one after another.',
    importance: 'high',
    validate: range(10, 86_400_000),
  },
  'http.poll.records.path': {
    type: 'string',
    default: '',
    doc: 'Dot path to the array of records in the response (e.g. `data.items`); empty when the response is the array itself.',
    importance: 'high',
  },
  'http.poll.key.field': { type: 'string', default: null, doc: 'Dot path to a field of each record to use as its key.', importance: 'low' },
  'http.poll.pagination': {
    type: 'string',
    default: 'none',
    doc: '`none`: every call returns the current records (each poll writes them all); `cursor`: follow the cursor at http.poll.cursor.path by sending it as http.poll.cursor.param; `page`: count pages in http.poll.page.param; `timestamp`: send the newest http.poll.timestamp.field seen as http.poll.timestamp.param. The position is the connector\'s offset, so a restart resumes where it stopped.',
    importance: 'high',
    validate: oneOf(['none', 'cursor', 'page', 'timestamp']),
  },
  'http.poll.cursor.param': { type: 'string', default: 'cursor', doc: 'The query parameter carrying the cursor.', importance: 'medium' },
  'http.poll.cursor.path': { type: 'string', default: 'next_cursor', doc: 'Dot path to the next cursor in the response; absent, null or empty means the last page.', importance: 'medium' },
  'http.poll.page.param': { type: 'string', default: 'page', doc: 'The query parameter carrying the page number.', importance: 'medium' },
  'http.poll.page.start': { type: 'int', default: 1, doc: 'The first page\'s number.', importance: 'low' },
  'http.poll.page.size': {
    type: 'int',
    default: 0,
    doc: 'Records in a full page. A page with fewer is the last one (polled again later, skipping what was already taken); 0: any non-empty page is followed by the next.',
    importance: 'medium',
    validate: range(0),
  },
  'http.poll.page.size.param': { type: 'string', default: null, doc: 'A query parameter to send http.poll.page.size in.', importance: 'low' },
  'http.poll.timestamp.param': { type: 'string', default: 'since', doc: 'The query parameter carrying the newest timestamp seen.', importance: 'medium' },
  'http.poll.timestamp.field': { type: 'string', default: 'updated_at', doc: 'Dot path to each record\'s timestamp (ISO-8601 text or a number); records must come oldest first.', importance: 'medium' },
  'http.poll.timestamp.initial': { type: 'string', default: null, doc: 'The timestamp to start from when there is no offset yet; none: start without the parameter.', importance: 'low' },
});
