/** Minimal, dependency-free server-side HTML helpers: every interpolated value is escaped. */
export function esc(value: unknown): string {
  return String(value ?? '')
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

/** A complete page with the house stylesheet; no scripts needed. */
export function page(title: string, body: string, opts: { refreshSecs?: number } = {}): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
${opts.refreshSecs ? `<meta http-equiv="refresh" content="${opts.refreshSecs}">` : ''}
<title>${esc(title)}</title>
<style>
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d232a;background:#f6f7f9}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 16px}h2{font-size:17px;margin:24px 0 8px}
.card{background:#fff;border:1px solid #dde1e6;border-radius:8px;padding:16px 20px;margin:0 0 16px}
label{display:block;font-weight:600;margin:12px 0 4px}
input[type=text],input[type=email],input[type=password],textarea,select{width:100%;box-sizing:border-box;padding:8px;border:1px solid #c4cad2;border-radius:6px;font:inherit}
textarea{min-height:140px;font-family:ui-monospace,monospace;font-size:12px}
button{padding:8px 16px;border-radius:6px;border:1px solid #2456c9;background:#2f6bed;color:#fff;font:inherit;cursor:pointer}
button.secondary{background:#fff;color:#2456c9}
.error{background:#fdecec;border:1px solid #f3b4b4;color:#8a1c1c;padding:10px 14px;border-radius:6px}
.warn{background:#fff7e0;border:1px solid #f0d68a;padding:10px 14px;border-radius:6px}
.muted{color:#5b6570;font-size:13px}
table{border-collapse:collapse;width:100%;background:#fff}th,td{text-align:left;padding:6px 10px;border-bottom:1px solid #e6e9ed;font-size:14px}
th{background:#f0f2f5}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
nav a{margin-right:16px}
fieldset{border:1px solid #dde1e6;border-radius:6px;margin:12px 0;padding:8px 16px 16px}
</style></head><body><main>${body}</main></body></html>`;
}

/** `in 5 min` / `3 h ago`: how far `at` is from `now`, in the unit a person reads best. */
export function fromNow(at: Date, now: number, dayUnit = 'd'): string {
  const secs = Math.round((at.getTime() - now) / 1000);
  const abs = Math.abs(secs);
  const span =
    abs < 90
      ? `${abs} s`
      : abs < 5400
        ? `${Math.round(abs / 60)} min`
        : abs < 172_800
          ? `${Math.round(abs / 3600)} h`
          : `${Math.round(abs / 86_400)} ${dayUnit}`;
  return secs >= 0 ? `in ${span}` : `${span} ago`;
}
