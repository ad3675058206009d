import { describe, expect, it } from 'vitest';
import { describeDatabase } from './pg-sql.js';

describe('a database URL in a message', () => {
  it('keeps where the database is and hides the password, in the URL or as a parameter', () => {
    expect(describeDatabase('postgres://assay:hunter2@db.internal:5432/assay')).toBe('postgres://assay:***@db.internal:5432/assay');
    expect(describeDatabase('postgres://db.internal/assay?password=hunter2&sslmode=require')).toBe('postgres://db.internal/assay?password=***&sslmode=require');
    expect(describeDatabase('postgresql://db.internal/assay')).toBe('postgresql://db.internal/assay');
  });

  it('shows nothing of a string that does not parse as a URL, which may hold a password anywhere', () => {
    expect(describeDatabase('host=db.internal password=hunter2')).toBe('the database (its URL does not parse)');
  });
});
