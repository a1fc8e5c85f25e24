"""A streaming OpenAI-compatible client built like the common Python benchmark clients (vLLM's
`bench serve` backend, LLMPerf): asyncio + aiohttp, one task per concurrent user, every SSE line
parsed with json.loads, TTFT and inter-token gaps taken with time.perf_counter. The reference
for inferload's whole-run efficiency (bench/whole-run.bench.mjs): run it with Debian's python3
and python3-aiohttp.

usage: aiohttp_client.py BASE_URL MODEL CONCURRENCY REQUESTS MAX_TOKENS PROMPT_WORDS
prints one JSON line: {"requests", "ok", "chunks", "cpu_s", "wall_s"}
"""
import asyncio
import json
import resource
import sys
import time

import aiohttp


async def one(session, url, body, stats):
    start = time.perf_counter()
    ttft = None
    last = start
    itl = []
    chunks = 0
    async with session.post(url, json=body) as resp:
        if resp.status != 200:
            await resp.read()
            return
        async for raw in resp.content:
            line = raw.strip()
            if not line.startswith(b"data:"):
                continue
            data = line[5:].strip()
            if data == b"[DONE]":
                break
            obj = json.loads(data)
            choices = obj.get("choices") or []
            if choices and (choices[0].get("delta") or {}).get("content"):
                now = time.perf_counter()
                if ttft is None:
                    ttft = now - start
                else:
                    itl.append(now - last)
                last = now
                chunks += 1
    stats["ok"] += 1
    stats["chunks"] += chunks
    stats["ttft"].append(ttft)
    stats["itl"].extend(itl)


async def main():
    base, model, conc, total, max_tokens, words = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
    url = base.rstrip("/") + "/chat/completions"
    prompt = " ".join(["hello"] * words)
    body = {
        "model": model,
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": max_tokens,
        "ignore_eos": True,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    stats = {"ok": 0, "chunks": 0, "ttft": [], "itl": []}
    left = [total]
    timeout = aiohttp.ClientTimeout(total=None, sock_read=60)
    connector = aiohttp.TCPConnector(limit=conc)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:

        async def user():
            while left[0] > 0:
                left[0] -= 1
                await one(session, url, body, stats)

        wall0 = time.perf_counter()
        await asyncio.gather(*(user() for _ in range(conc)))
        wall = time.perf_counter() - wall0
    ru = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"requests": total, "ok": stats["ok"], "chunks": stats["chunks"], "cpu_s": ru.ru_utime + ru.ru_stime, "wall_s": wall}))


asyncio.run(main())
