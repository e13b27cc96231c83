#!/usr/bin/env python3
"""Clients of the soak test (scripts/soak.sh): N threads send completions to a server until a
deadline, each answer compared with the single-device reference of its prompt; one line of JSON
per request on stdout (start and end times, HTTP status, correct or not)."""
import json
import sys
import threading
import time
import urllib.error
import urllib.request


def main():
    port, clients, seconds, refs_path = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
    refs = json.load(open(refs_path))  # [{"prompt": ..., "max_tokens": ..., "ids": [...]}, ...]
    deadline = time.time() + seconds
    lock = threading.Lock()

    def client(k):
        i = k
        while time.time() < deadline:
            ref = refs[i % len(refs)]
            i += 1
            body = json.dumps({"prompt": ref["prompt"], "max_tokens": ref["max_tokens"],
                               "temperature": 0, "ignore_eos": True}).encode()
            req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/completions", body,
                                         {"Content-Type": "application/json"})
            start = time.time()
            status, ok, error = 0, False, ""
            try:
                with urllib.request.urlopen(req, timeout=120) as r:
                    status = r.status
                    got = json.load(r)["choices"][0]["token_ids"]
                    ok = got == ref["ids"]
            except urllib.error.HTTPError as e:
                status, error = e.code, e.read().decode(errors="replace")[:300]
            except Exception as e:  # connection refused, timeout: a lost request
                error = repr(e)[:300]
            with lock:
                print(json.dumps({"client": k, "start": start, "end": time.time(), "status": status,
                                  "correct": ok, "error": error}), flush=True)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


if __name__ == "__main__":
    main()
