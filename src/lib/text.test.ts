import { describe, expect, it } from 'vitest';
import { findUnstorableText, hasUnstorableText, storableText, storableTextOrNull } from './text.js';

describe('text Postgres cannot store', () => {
  it('is NUL or an unpaired surrogate; paired surrogates (emoji) and other controls are fine', () => {
    for (const bad of ['\u0000', 'a\u0000b', '\ud800', 'x\udc00', '\udc00\ud800', 'ok\ud83d']) {
      expect(hasUnstorableText(bad), JSON.stringify(bad)).toBe(true);
    }
    for (const good of ['', 'plain', 'Zoë', '😀', 'a\u0001b\tc', '\ud83d\ude00x', '日本語']) {
      expect(hasUnstorableText(good), JSON.stringify(good)).toBe(false);
    }
  });

  it('is stripped, keeping everything else', () => {
    expect(storableText('Ro\u0000om 1')).toBe('Room 1');
    expect(storableText('\u0000\u0000')).toBe('');
    expect(storableText('a\ud800b\udc00c')).toBe('abc');
    expect(storableText('😀\ud83d')).toBe('😀');
    const same = 'unchanged';
    expect(storableText(same)).toBe(same);
    expect(storableTextOrNull(null)).toBeNull();
    expect(storableTextOrNull(undefined)).toBeNull();
    expect(storableTextOrNull('B\u00001')).toBe('B1');
  });

  it('is found by its dotted path in parsed input, keys included', () => {
    expect(findUnstorableText({ a: 'x', b: ['ok', 'n\u0000'] })).toBe('b.1');
    expect(findUnstorableText({ list: [{ email: 'a@b.c', state: '\ud800' }] })).toBe('list.0.state');
    expect(findUnstorableText({ 'k\u0000': 1 })).toBe('k\u0000');
    expect(findUnstorableText('\u0000')).toBe('');
    expect(findUnstorableText({ a: 1, b: null, c: true, d: ['😀'] })).toBeUndefined();
    expect(findUnstorableText(undefined)).toBeUndefined();
  });
});
