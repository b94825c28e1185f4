// The official `cronofy` SDK ships no types; these cover the methods the tests use.
declare module 'cronofy' {
  type Options = Record<string, unknown>;
  class Cronofy {
    constructor(config: {
      client_id?: string;
      client_secret?: string;
      access_token?: string;
      refresh_token?: string;
      data_center?: string;
    });
    urls: { api: string };
    config: { access_token?: string; refresh_token?: string };
    requestAccessToken(options: { code: string; redirect_uri: string }): Promise<Record<string, unknown>>;
    refreshAccessToken(options?: Options): Promise<Record<string, unknown>>;
    revokeAuthorization(options?: Options): Promise<unknown>;
    authorizeWithServiceAccount(options: Options): Promise<unknown>;
    userInfo(options?: Options): Promise<Record<string, unknown>>;
    accountInformation(options?: Options): Promise<Record<string, unknown>>;
    profileInformation(options?: Options): Promise<Record<string, unknown>>;
    listCalendars(options?: Options): Promise<Record<string, unknown>>;
    revokeProfileAuthorization(options: { profile_id: string }): Promise<unknown>;
    hmacValid(options: { hmac: string; body: string }): boolean;
    freeBusy(options: Options): Promise<Record<string, unknown>>;
    readEvents(options: Options): Promise<Record<string, unknown>>;
    availability(options: Options): Promise<Record<string, unknown>>;
    _httpGet(path: string, options: Options): Promise<Record<string, unknown>>;
  }
  export = Cronofy;
}
