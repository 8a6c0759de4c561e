import { isDependencyOutage } from '../../api/problem';

describe('a database outage is told apart from a bug (503, not 500)', () => {
  test.each([
    ['a refused connection', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })],
    [
      'a dropped connection, wrapped by the ORM',
      new Error('Failed query: select 1', { cause: new Error('Connection terminated unexpectedly') }),
    ],
    ['a Postgres connection exception', Object.assign(new Error('connection failure'), { code: '08006' })],
    [
      'a server shutting down',
      Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }),
    ],
  ])('%s is an outage', (_what, err) => expect(isDependencyOutage(err)).toBe(true));

  test.each([
    ['a unique violation', Object.assign(new Error('duplicate key'), { code: '23505' })],
    ['a plain bug', new TypeError("Cannot read properties of undefined (reading 'id')")],
    ['nothing', undefined],
  ])('%s is not', (_what, err) => expect(isDependencyOutage(err)).toBe(false));
});
