/** Sanity check of what test/setup/global-setup.ts provides. */
import { Connection } from '@temporalio/client';
import { Client } from 'pg';

// temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
const KEYWORD = 2;

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: is test/setup/global-setup.ts configured in jest.config.js?`);
  return value;
}

describe('test infrastructure', () => {
  it('reaches the Temporal dev server, which has the Leadwire search attributes', async () => {
    const connection = await Connection.connect({ address: requiredEnv('TEMPORAL_ADDRESS') });
    try {
      await connection.workflowService.getSystemInfo({});
      const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
      for (const name of ['LeadId', 'CampaignId', 'AgencyId']) {
        expect({ name, type: customAttributes?.[name] }).toEqual({ name, type: KEYWORD });
      }
    } finally {
      await connection.close();
    }
  });

  it('runs SQL on a fresh test database', async () => {
    const client = new Client({ connectionString: requiredEnv('TEST_DATABASE_URL') });
    await client.connect();
    try {
      const { rows } = await client.query('SELECT 1 AS one, current_database() AS db');
      expect(rows[0].one).toBe(1);
      expect(rows[0].db).toMatch(/^leadwire_test_\d+_\d+$/);
      expect(requiredEnv('TEST_PG_ADMIN_URL')).toBeTruthy();
    } finally {
      await client.end();
    }
  });
});
