import { describe, expect, it } from 'vitest';
import { domainName, isEmailAddress, orgUnitPath, orgUnitQuery } from './selection.js';

describe('selection syntax', () => {
  it('tells email addresses from what can never be one', () => {
    for (const ok of [
      'a@example.com',
      'First.Last+tag@sub.example.co.uk',
      'ünï@exämple.de',
      "o'brien@example.com",
    ]) {
      expect(isEmailAddress(ok), ok).toBe(true);
    }
    for (const bad of [
      '',
      'a',
      'a@',
      '@b.com',
      'a@b',
      'a@b@c.com',
      'a b@c.com',
      'a\u0000@b.com',
      '\ud800@b.com',
      'a@-b.com',
      `${'a'.repeat(320)}@b.com`,
    ]) {
      expect(isEmailAddress(bad), JSON.stringify(bad)).toBe(false);
    }
  });

  it('normalises domains and org unit paths', () => {
    expect(domainName(' EU.Example.ORG. ')).toBe('eu.example.org');
    expect(domainName('not a domain')).toBeUndefined();
    expect(orgUnitPath('/')).toBe('/');
    expect(orgUnitPath(' /Sales / EMEA ')).toBe('/Sales/EMEA');
    expect(orgUnitPath('Sales')).toBeUndefined();
    expect(orgUnitPath('/Sales//EMEA')).toBeUndefined();
    expect(orgUnitPath('/Sa\u0001les')).toBeUndefined();
  });

  it("quotes an org unit path the way Google's search syntax wants", () => {
    expect(orgUnitQuery('/Customer Support')).toBe("orgUnitPath='/Customer Support'");
    expect(orgUnitQuery("/O'Brien \\ Co")).toBe("orgUnitPath='/O\\'Brien \\\\ Co'");
  });
});
