"""The light-load reference reader (bench/light-load.bench.mjs): a blocking http.client reader,
one stream at a time, RATE requests per second for DURATION seconds of TOKENS tokens each,
taking time.perf_counter() as each content line arrives. Prints one JSON line:
{"stamps_ms": [[...], ...]} (one list per request, in order).

usage: blocking_reader.py HOST PORT RATE DURATION_S TOKENS
"""
import http.client
import json
import sys
import time

host, port, rate, duration, tokens = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
conn = http.client.HTTPConnection(host, port)
body = json.dumps({"model": "paced", "stream": True, "max_tokens": tokens, "messages": [{"role": "user", "content": "x"}]})
stamps = []
t0 = time.perf_counter()
for i in range(int(rate * duration)):
    due = t0 + i / rate
    while time.perf_counter() < due:
        time.sleep(max(0.0, due - time.perf_counter()))
    conn.request("POST", "/v1/chat/completions", body, {"content-type": "application/json"})
    resp = conn.getresponse()
    st = []
    while True:
        line = resp.readline()
        if not line:
            break
        if line.startswith(b"data:") and b'"content":" tok"' in line:
            st.append(time.perf_counter() * 1000)
        if line.startswith(b"data: [DONE]"):
            break
    resp.read()
    stamps.append(st)
print(json.dumps({"stamps_ms": stamps}))
