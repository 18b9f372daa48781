#!/usr/bin/env python3
"""Resident memory per registered driver, per open order and per connected idle driver.

Starts `target/release/dispatch serve` on 127.0.0.1 with a fresh temporary data dir,
registers DRIVERS drivers (POST /v1/drivers: offline, no position) and then creates
ORDERS orders (POST /v1/orders, pickups spread over one city, so they stay open:
pending or unassignable, no driver being available), then connects SOCKETS of the
drivers over `/ws/driver` (hello, `available`, one position each, then idle, sockets
held open), and reads the engine's VmRSS from /proc/<pid>/status before and after each
phase, once the engine is idle again.

    cargo build --release --bins
    python3 sim/tools/mem_per_record.py [--drivers 20000] [--orders 50000]
        [--sockets 0] [--bin PATH] [--config FILE] [--threads 8] [--json]

Sockets are bounded by this process's open-file limit (raised to its hard limit) and the
engine's: one file each side per socket. Connected idle drivers: use `--orders 0` so no
order is matched to them (an idle driver then holds an empty route).

Loopback only; the engine is stopped (SIGTERM) and its data dir removed at the end.
Per record = (RSS after the phase - RSS before it) / records. The store's page cache
(`storage.cache_mb`, 64 MiB by default) is part of that RSS: pass a config with a small
`cache_mb` to see the engine's own structures alone.
"""

import argparse
import asyncio
import http.client
import json
import os
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def settled_rss(pid, quiet_s=2.0, deadline_s=60.0):
    """RSS once it has not moved by more than 1 % for quiet_s (the engine is idle)."""
    end = time.monotonic() + deadline_s
    last, since = rss_kib(pid), time.monotonic()
    while time.monotonic() < end:
        time.sleep(0.25)
        now = rss_kib(pid)
        if abs(now - last) > last // 100:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return now
    return rss_kib(pid)


def post_all(port, token, path, bodies, threads):
    """POSTs every body (JSON) over `threads` keep-alive connections; all must be 201.
    Answers the answers' `token` fields by body `id` (drivers get one)."""
    errors = []
    tokens = {}

    def work(chunk):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        for body in chunk:
            for attempt in range(50):
                conn.request("POST", path, json.dumps(body), headers)
                r = conn.getresponse()
                data = r.read()
                if r.status == 201:
                    if "id" in body:
                        tokens[body["id"]] = json.loads(data).get("token")
                    break
                if r.status in (429, 503) and attempt < 49:
                    time.sleep(0.05)
                    continue
                errors.append((r.status, data[:200]))
                return

    ts = [threading.Thread(target=work, args=(bodies[i::threads],)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        raise RuntimeError(f"{path}: {errors[0]}")
    return tokens


async def hold_sockets(port, tokens, measure_rss):
    """Connects one driver socket per token (hello -> welcome, `available`, one
    position), at most 256 handshakes at once; once all are idle, answers
    `measure_rss()` with every socket still open, then closes them."""
    from websockets.asyncio.client import connect

    gate = asyncio.Semaphore(256)
    conns = []
    rng = random.Random(2)

    async def one(token):
        async with gate:
            for attempt in range(20):
                try:
                    ws = await connect(
                        f"ws://127.0.0.1:{port}/ws/driver",
                        additional_headers={"Authorization": f"Bearer {token}"},
                        open_timeout=30,
                        ping_interval=None,
                    )
                    break
                except (OSError, asyncio.TimeoutError) as e:
                    if attempt == 19:
                        raise RuntimeError(f"socket: {e}")
                    await asyncio.sleep(0.1)
            await ws.send(json.dumps({"type": "hello"}))
            welcome = json.loads(await ws.recv())
            assert welcome["type"] == "welcome", welcome
            await ws.send(json.dumps({"type": "status", "status": "available"}))
            lat, lon = 60.17 + rng.uniform(-0.05, 0.05), 24.94 + rng.uniform(-0.1, 0.1)
            await ws.send(json.dumps({"type": "position", "lat": lat, "lon": lon,
                                      "ts_ms": int(time.time() * 1000)}))
            conns.append(ws)

    await asyncio.gather(*(one(t) for t in tokens))
    rss = await asyncio.to_thread(measure_rss)
    await asyncio.gather(*(ws.close() for ws in conns), return_exceptions=True)
    return rss


def wait_ready(port, data, proc, deadline_s=60.0):
    token_file = os.path.join(data, "initial-admin.token")
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"engine exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200 and os.path.exists(token_file):
                with open(token_file) as f:
                    return f.read().strip()
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError("engine did not become ready")


def order_body(rng):
    lat, lon = 60.17 + rng.uniform(-0.05, 0.05), 24.94 + rng.uniform(-0.1, 0.1)
    return {
        "pickup": {"lat": lat, "lon": lon},
        "dropoff": {"lat": lat + rng.uniform(-0.02, 0.02), "lon": lon + rng.uniform(-0.02, 0.02)},
    }


def measure(args):
    data = tempfile.mkdtemp(prefix="dispatch-mem-")
    port = free_port()
    cmd = [args.bin, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", data]
    if args.config:
        cmd += ["--config", args.config]
    log = open(os.path.join(data, "engine.log"), "w")
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log)
    try:
        token = wait_ready(port, data, proc)
        rng = random.Random(1)
        out = {"drivers": args.drivers, "orders": args.orders}
        out["rss_start_kib"] = base = settled_rss(proc.pid)
        drivers = [{"id": f"drv-{i:06d}", "capacity": 8} for i in range(args.drivers)]
        tokens = post_all(port, token, "/v1/drivers", drivers, args.threads)
        out["rss_drivers_kib"] = after_drivers = settled_rss(proc.pid)
        orders = [order_body(rng) for _ in range(args.orders)]
        post_all(port, token, "/v1/orders", orders, args.threads)
        out["rss_orders_kib"] = after_orders = settled_rss(proc.pid)
        if args.sockets:
            held = [tokens[d["id"]] for d in drivers[: args.sockets]]
            out["sockets"] = len(held)
            out["rss_sockets_kib"] = asyncio.run(
                hold_sockets(port, held, lambda: settled_rss(proc.pid)))
            out["bytes_per_socket"] = round(
                (out["rss_sockets_kib"] - after_orders) * 1024 / len(held))
        if args.drivers:
            out["bytes_per_driver"] = round((after_drivers - base) * 1024 / args.drivers)
        if args.orders:
            out["bytes_per_order"] = round((after_orders - after_drivers) * 1024 / args.orders)
        return out
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(data, ignore_errors=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--drivers", type=int, default=20_000)
    p.add_argument("--orders", type=int, default=50_000)
    p.add_argument("--sockets", type=int, default=0,
                   help="connected idle drivers (at most --drivers)")
    p.add_argument("--threads", type=int, default=8)
    p.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "dispatch"))
    p.add_argument("--config")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    if args.sockets > args.drivers:
        p.error("--sockets must not exceed --drivers")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if args.sockets + 64 > hard:
        p.error(f"--sockets {args.sockets}: this process may open {hard} files")
    out = measure(args)
    if args.json:
        print(json.dumps(out))
        return
    print(f"RSS at start            {out['rss_start_kib'] / 1024:8.1f} MiB")
    print(f"after {args.drivers:6d} drivers     {out['rss_drivers_kib'] / 1024:8.1f} MiB"
          f"   {out.get('bytes_per_driver', 0):6d} B per driver")
    print(f"after {args.orders:6d} orders      {out['rss_orders_kib'] / 1024:8.1f} MiB"
          f"   {out.get('bytes_per_order', 0):6d} B per open order")
    if args.sockets:
        per = out["bytes_per_socket"]
        print(f"after {args.sockets:6d} sockets     {out['rss_sockets_kib'] / 1024:8.1f} MiB"
              f"   {per:6d} B per connected idle driver (on top of its registration)")
        total = out["rss_start_kib"] * 1024 + 100_000 * (out.get("bytes_per_driver", 0) + per)
        print(f"100,000 connected idle drivers at these slopes: {total / 2**30:.2f} GiB")


if __name__ == "__main__":
    sys.exit(main())
