import { describe, expect, it } from 'vitest';
import { ID_PREFIXES, isId, newId } from './ids.js';

describe('prefixed ids', () => {
  it('uses the vocabulary prefixes', () => {
    expect(newId('serviceAccount')).toMatch(/^ser_[a-z2-7]{26}$/);
    expect(newId('account')).toMatch(/^acc_/);
    expect(newId('profile')).toMatch(/^pro_/);
    expect(newId('calendar')).toMatch(/^cal_/);
    expect(newId('run')).toMatch(/^run_/);
    expect(newId('channel')).toMatch(/^chn_/);
  });

  it('has unique prefixes', () => {
    const prefixes = Object.values(ID_PREFIXES);
    expect(new Set(prefixes).size).toBe(prefixes.length);
  });

  it('does not repeat', () => {
    expect(new Set(Array.from({ length: 1000 }, () => newId('account'))).size).toBe(1000);
  });

  it('recognises ids by shape and kind', () => {
    const id = newId('account');
    expect(isId('account', id)).toBe(true);
    expect(isId('profile', id)).toBe(false);
    expect(isId('account', 'acc_short')).toBe(false);
    expect(isId('account', `${id}'; drop table`)).toBe(false);
  });
});
