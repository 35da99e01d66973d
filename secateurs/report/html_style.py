"""report.html's inline style sheet: the page loads nothing from outside."""

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;
 background:#f6f8fa;margin:0}
main{max-width:1180px;margin:0 auto;padding:24px}
section{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:16px 20px;margin:16px 0}
h1{font-size:22px;margin:0 0 8px}h2{font-size:17px;margin:0 0 12px}
.badge{display:inline-block;padding:2px 12px;border-radius:12px;color:#fff;font-weight:600;
 font-size:13px;vertical-align:middle;margin-left:8px;letter-spacing:.04em}
.ok{background:#1a7f37}.bad{background:#cf222e}.plain{background:#57606a}
.note{background:#fff8c5;border:1px solid #d4a72c;border-radius:6px;padding:8px 12px;margin:8px 0 0}
.tiles{display:flex;gap:16px;flex-wrap:wrap;margin-bottom:10px}
.tile{flex:1 1 300px;border:1px solid #d0d7de;border-radius:8px;padding:10px 14px}
.tile b{display:block;font-size:26px}.tile small{color:#57606a}
table{border-collapse:collapse;width:100%;font-size:13px;margin:6px 0}.scroll{overflow-x:auto}
table.narrow{width:auto;min-width:320px}code{background:#eff1f3;border-radius:4px;padding:0 4px;font-size:12px}
th,td{border-bottom:1px solid #eaeef2;padding:4px 8px;text-align:left;white-space:nowrap}
td.wrap{white-space:normal}th{background:#f6f8fa;font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums}th.num{text-align:right}
.PASS{color:#1a7f37;font-weight:600}.FAIL{color:#cf222e;font-weight:700}
td.warn{color:#9a6700;font-weight:600}td.neg{color:#cf222e}td.pos{color:#1a7f37}
.bar{position:relative;height:14px;background:#eaeef2;border-radius:3px;min-width:120px}
.fill{position:absolute;left:0;top:0;bottom:0;background:#0969da;border-radius:3px}
.fill.alt{background:#8250df}.fill.bad{background:#cf222e}
.tick{position:absolute;top:-3px;bottom:-3px;width:2px;background:#1f2328}
.legend{color:#57606a;font-size:12px}ul.items{margin:0;padding-left:20px}
figure{margin:8px 0}img{max-width:100%;border:1px solid #d0d7de;border-radius:6px}
details summary{cursor:pointer;color:#0969da;margin:8px 0}
"""
