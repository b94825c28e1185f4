import { describe, expect, it } from 'vitest';
import { addressFilter } from './addresses.js';

describe('addressFilter', () => {
  it('matches the mail or any proxy address, as OData string literals', () => {
    expect(addressFilter('Ann.Lee@contoso.com')).toBe(
      "mail eq 'Ann.Lee@contoso.com' or proxyAddresses/any(p:p eq 'smtp:Ann.Lee@contoso.com')",
    );
  });

  it("doubles single quotes, so an address with one cannot end the literal (o'brien)", () => {
    expect(addressFilter("o'brien@contoso.com")).toBe(
      "mail eq 'o''brien@contoso.com' or proxyAddresses/any(p:p eq 'smtp:o''brien@contoso.com')",
    );
    expect(addressFilter("x' or mail eq 'y")).toBe(
      "mail eq 'x'' or mail eq ''y' or proxyAddresses/any(p:p eq 'smtp:x'' or mail eq ''y')",
    );
  });
});
