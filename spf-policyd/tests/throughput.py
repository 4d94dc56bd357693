#!/usr/bin/env python3
"""Throughput of fastspf-policyd and Debian's policyd-spf, side by side.

Drives N concurrent policy connections (as N smtpd processes would) with
Postfix's full RCPT-state policy requests, for a fixed number of requests,
and reports requests/s and per-request latency (p50, p99) per service: the
median of RUNS runs, each with freshly started services.

Services (same policyd-spf.conf as sidebyside.py, same DNS):
  fastspf-daemon   fastspf-policyd as one daemon on a Unix socket, handed to
                   it the way systemd's socket activation does (LISTEN_FDS);
                   every connection shares its DNS cache.
  fastspf-spawn    fastspf-policyd in spawn mode: one process per connection
                   on one end of a socket pair, as Postfix's spawn(8) runs it.
  policyd-spf      Debian's /usr/bin/policyd-spf, spawned the same way: one
                   process per connection (it has no daemon mode).

Workloads:
  warm   the demo zone's 16 senders (pass, fail, softfail, neutral, none,
         permerror, include chains, redirect, mx, IPv6, null sender) in a
         seeded random order; every connection first sends all 16 once,
         untimed, so whatever a service caches is warm.
  cold   a generated zone (`fastspf-bench gen`: providers' include trees,
         own ranges, a/mx, redirect, exists, ptr, no record, broken, over
         the limit) and one transaction per sender domain, each domain used
         once; every connection first sends one demo-zone request, untimed
         (process start-up is not timed), so only the providers' shared
         records can be cached from earlier requests of the same run.
  cold-dns10  cold, with spf-testdns delaying every answer by 10 ms (a
         resolver that has to ask the Internet), and --slow-requests
         requests per run (fewer: a run is bound by DNS waits).
  A transaction is one client, HELO and sender with 1 to 5 recipients (one
  request per RCPT, same instance=), 1.5 on average.

DNS: spf-testdns serves both zones on 127.0.0.1:53 in a private network and
mount namespace, with /etc/resolv.conf bind-mounted to name it (pyspf reads
resolv.conf and cannot take a port). The script re-runs itself under
`unshare --net --mount` when it is not in one yet (needs root).

Every answer must be `action=...`; the script exits 1 otherwise.

Usage:
  throughput.py [options] FASTSPF_POLICYD SPF_TESTDNS FASTSPF_BENCH DEMO_ZONE
  --smoke           tiny counts (1 run, 1 and 4 connections): the test command's check
  --requests R      requests per run (default 6000)
  --slow-requests R requests per run of cold-dns10 (default 600)
  --conns LIST      connection counts (default 1,8,64)
  --runs K          runs per cell; the median is reported (default 3)
  --services LIST   default fastspf-daemon,fastspf-spawn,policyd-spf
  --workloads LIST  default warm,cold,cold-dns10
  --json FILE       also write every run's numbers
Runs are interleaved (run 1 of every service, then run 2, ...), so a change
in the machine's load falls on every service alike. Prints one line per
cell: the medians of requests/s, p50 and p99, of the service's CPU time per
request (all its processes, timed part only), of its resident memory at
the end (all its processes) and of the driver's own CPU
share (it shares the machine), and the load average over the cell's runs;
then a Markdown table of the same.
"""

import argparse
import atexit
import asyncio
import ctypes
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
from sidebyside import CONFIG, DEMO_CASES  # noqa: E402  (the same config and demo mix)

NAMESPACE_MARK = "FASTSPF_THROUGHPUT_IN_NAMESPACE"
SERVICES = ("fastspf-daemon", "fastspf-spawn", "policyd-spf")
WORKLOADS = ("warm", "cold", "cold-dns10")
# Recipients per transaction and their weights: 1.5 on average.
RCPT_COUNTS = ((1, 70), (2, 20), (3, 7), (5, 3))
SEED = 18


def request(ip: str, sender: str, helo: str, instance: str, rcpt: int) -> bytes:
    """One RCPT-state request with every attribute Postfix 3.x sends (SMTPD_POLICY_README)."""
    family = "ipv6" if ":" in ip else "ipv4"
    return (
        "request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\n"
        f"client_address={ip}\nclient_name=unknown\nclient_port=40{rcpt:03d}\n"
        f"reverse_client_name=unknown\nserver_address={'2001:db8::25' if family == 'ipv6' else '192.0.2.25'}\n"
        f"server_port=25\nhelo_name={helo}\nsender={sender}\n"
        f"recipient=user{rcpt}@receiver.example\nrecipient_count=0\nqueue_id=\ninstance={instance}\n"
        "size=24576\netrn_domain=\nstress=\nsasl_method=\nsasl_username=\nsasl_sender=\n"
        "ccert_subject=\nccert_issuer=\nccert_fingerprint=\nccert_pubkey_fingerprint=\n"
        "encryption_protocol=TLSv1.3\nencryption_cipher=TLS_AES_256_GCM_SHA384\nencryption_keysize=256\n"
        "policy_context=\ncompatibility_level=3.6\nmail_version=3.7.11\n\n"
    ).encode()


def transactions(senders: list[tuple[str, str, str]], total: int, tag: str) -> list[list[bytes]]:
    """Transactions (each a list of RCPT requests) over `senders` in order, `total` requests in all."""
    rng = random.Random(f"{SEED}-{tag}")
    counts, weights = zip(*RCPT_COUNTS)
    out, sent, i = [], 0, 0
    while sent < total:
        ip, sender, helo = senders[i % len(senders)]
        n = min(rng.choices(counts, weights)[0], total - sent)
        instance = f"{tag}.{i:x}.{rng.getrandbits(32):08x}.0"
        out.append([request(ip, sender, helo, instance, r) for r in range(n)])
        sent += n
        i += 1
    return out


def cold_senders(bench: str, work: Path, needed: int) -> tuple[list[tuple[str, str, str]], Path]:
    """Senders of a generated zone, each domain once (its first corpus line), and the zone."""
    domains = max(needed * 3, 600)
    out = work / "gen"
    subprocess.run([bench, "gen", "--seed", str(SEED), "--domains", str(domains),
                    "--queries", str(domains * 40), "--out", str(out)], check=True, stdout=subprocess.DEVNULL)
    seen, senders = set(), []
    for line in (out / "corpus.tsv").read_text().splitlines():
        ip, sender, helo = line.split("\t")
        domain = sender.rpartition("@")[2]
        if domain not in seen:
            seen.add(domain)
            senders.append((ip, sender, helo))
    random.Random(SEED).shuffle(senders)
    if len(senders) < needed:
        sys.exit(f"the generated corpus has {len(senders)} sender domains, {needed} needed")
    return senders[:needed], out / "zone"


LIBC = ctypes.CDLL(None, use_errno=True)


def proc_cpu(pids: list[int]) -> float:
    """CPU seconds (all threads, user + system) these processes used so far, from
    their CPU-time clocks (clock_getcpuclockid(3)): exact, where /proc's tick
    counts round each process's share down to 10 ms."""
    total = 0.0
    for pid in pids:
        clock = ctypes.c_int()
        if LIBC.clock_getcpuclockid(pid, ctypes.byref(clock)) == 0:
            try:
                total += time.clock_gettime(clock.value)
            except OSError:
                pass  # exited meanwhile
    return total


def proc_rss_mib(pids: list[int]) -> float:
    """Resident memory of these processes together, MiB."""
    kib = 0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        kib += sum(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    return kib / 1024


class Running:
    """One service, started for one run, with its connections' addresses."""

    def __init__(self, kind: str, policyd: str, conf: Path, conns: int, work: Path):
        self.kind, self.procs, self.pairs, self.socket_path = kind, [], [], None
        if kind == "fastspf-daemon":
            # Bound here and passed as systemd would (fd 3, LISTEN_FDS, LISTEN_PID):
            # connections queue in the backlog at once, no start-up race.
            self.socket_path = work / "fastspf.sock"
            self.socket_path.unlink(missing_ok=True)
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            listener.bind(str(self.socket_path))
            listener.listen(1024)
            wrapper = 'exec 3<&0 0</dev/null; LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" "$@"'
            self.procs.append(subprocess.Popen(["sh", "-c", wrapper, policyd, "--log", "none", str(conf)],
                                               stdin=listener, stderr=subprocess.DEVNULL))
            listener.close()
            return
        argv = [policyd, "--log", "none", str(conf)] if kind == "fastspf-spawn" else ["/usr/bin/policyd-spf", str(conf)]
        for _ in range(conns):
            ours, theirs = socket.socketpair()
            self.procs.append(subprocess.Popen(argv, stdin=theirs, stdout=theirs, stderr=subprocess.DEVNULL))
            theirs.close()
            self.pairs.append(ours)

    async def connect(self, i: int):
        if self.socket_path is not None:
            return await asyncio.open_unix_connection(str(self.socket_path), limit=1 << 20)
        return await asyncio.open_unix_connection(sock=self.pairs[i], limit=1 << 20)

    def stop(self):
        for sock in self.pairs:
            sock.close()
        for p in self.procs:
            if self.socket_path is not None:
                p.terminate()
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


async def drive(service: Running, conns: int, warmup: list[list[bytes]], work_items: list[list[bytes]]) -> dict:
    """Warm-up on every connection, then the timed transactions shared out to whichever connection is free."""
    streams = [await service.connect(i) for i in range(conns)]
    bad: list[str] = []
    kinds: dict[str, int] = {}

    async def ask(reader, writer, req: bytes) -> str:
        writer.write(req)
        answer = await reader.readuntil(b"\n\n")
        text = answer.decode(errors="replace").strip()
        if not text.startswith("action="):
            bad.append(text[:200])
        return text

    await asyncio.gather(*(warm(r, w, warmup, ask) for r, w in streams))
    queue = list(reversed(work_items))
    latencies: list[int] = []

    async def worker(reader, writer):
        while queue:
            for req in queue.pop():
                t0 = time.perf_counter_ns()
                text = await ask(reader, writer, req)
                latencies.append(time.perf_counter_ns() - t0)
                words = text.removeprefix("action=").split(" ", 2)
                key = f"prepend {words[1].rstrip(':')}" if words[0] == "prepend" and len(words) > 1 else words[0]
                kinds[key] = kinds.get(key, 0) + 1

    pids = [p.pid for p in service.procs]
    cpu0, driver0, t0 = proc_cpu(pids), time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker(r, w) for r, w in streams))
    wall = time.perf_counter() - t0
    cpu, driver, rss = proc_cpu(pids) - cpu0, time.process_time() - driver0, proc_rss_mib(pids)
    for _, w in streams:
        w.close()
    latencies.sort()
    n = len(latencies)
    return {
        "requests": n, "seconds": wall, "rps": n / wall,
        "p50_ms": latencies[(n - 1) // 2] / 1e6, "p99_ms": latencies[max(0, -(-99 * n // 100) - 1)] / 1e6,
        "service_cpu_ms_per_request": 1000 * cpu / n, "service_rss_mib": rss, "driver_cpu_share": driver / wall,
        "actions": kinds, "bad": bad,
    }


async def warm(reader, writer, warmup, ask):
    for txn in warmup:
        for req in txn:
            await ask(reader, writer, req)


def start_dns(testdns: str, zones: list[Path], delay_ms: int) -> subprocess.Popen:
    args = [testdns, "--listen", "127.0.0.1:53", "--delay-ms", str(delay_ms)]
    for z in zones:
        args += ["--zone", str(z)]
    dns = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = dns.stdout.readline()
    if not line.startswith("listening on"):
        sys.exit(f"spf-testdns did not start: {dns.stderr.read()[:500]}")
    return dns


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("policyd")
    ap.add_argument("testdns")
    ap.add_argument("bench")
    ap.add_argument("demo_zone")
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--requests", type=int, default=6000)
    ap.add_argument("--slow-requests", type=int, default=600)
    ap.add_argument("--conns", default="1,8,64")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--services", default=",".join(SERVICES))
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--json")
    args = ap.parse_args()
    if os.environ.get(NAMESPACE_MARK) != "1":
        env = dict(os.environ, **{NAMESPACE_MARK: "1"})
        argv = ["unshare", "--net", "--mount", sys.executable, str(Path(__file__).resolve()), *sys.argv[1:]]
        return subprocess.run(argv, env=env).returncode
    if args.smoke:
        args.requests, args.slow_requests, args.conns, args.runs = 60, 30, "1,4", 1
    limit = 60 if args.smoke else 1800  # seconds one run may take: a hung service fails the run
    conn_counts = [int(c) for c in args.conns.split(",")]
    services = args.services.split(",")
    workloads = args.workloads.split(",")
    for s in services:
        if s not in SERVICES:
            sys.exit(f"unknown service {s!r} (one of {', '.join(SERVICES)})")
    for w in workloads:
        if w not in WORKLOADS:
            sys.exit(f"unknown workload {w!r} (one of {', '.join(WORKLOADS)})")

    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    work = Path(tempfile.mkdtemp(prefix="throughput."))
    atexit.register(shutil.rmtree, work, True)  # the generated zone and corpus: tens of MB in a full run
    resolv = work / "resolv.conf"
    resolv.write_text("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
    subprocess.run(["mount", "--bind", str(resolv), "/etc/resolv.conf"], check=True)
    conf = work / "policyd-spf.conf"
    conf.write_text(CONFIG)

    demo = [(ip, sender, helo) for ip, sender, helo in DEMO_CASES]
    warm_senders = random.Random(SEED).sample(demo, len(demo))
    # Enough distinct domains for every transaction (1.5 requests each on average).
    cold, gen_zone = cold_senders(args.bench, work, max(args.requests, args.slow_requests))

    results, failures, table = [], 0, []
    for workload in workloads:
        count = args.slow_requests if workload == "cold-dns10" else args.requests
        dns = start_dns(args.testdns, [Path(args.demo_zone), gen_zone], 10 if workload == "cold-dns10" else 0)
        try:
            for conns in conn_counts:
                # Run k of every service, then run k+1: a change in the
                # machine's load (it is shared) falls on every service alike.
                runs: dict[str, list[dict]] = {service: [] for service in services}
                loads = []
                for run in range(args.runs):
                    tag = f"{workload}{conns}r{run}"
                    if workload == "warm":
                        warmup = [[request(ip, s, h, f"w{i}.{tag}", 0)] for i, (ip, s, h) in enumerate(demo)]
                        items = transactions(warm_senders, count, tag)
                    else:
                        ip, s, h = demo[0]
                        warmup = [[request(ip, s, h, f"w.{tag}", 0)]]
                        items = transactions(cold, count, tag)
                    for service in services:
                        loads.append(os.getloadavg()[0])
                        running = Running(service, args.policyd, conf, conns, work)
                        try:
                            r = asyncio.run(asyncio.wait_for(drive(running, conns, warmup, items), limit))
                        except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError) as e:
                            sys.exit(f"{service} {workload} N={conns}: {type(e).__name__}: {e}")
                        finally:
                            running.stop()
                        r.update(service=service, workload=workload, conns=conns, run=run, load=loads[-1])
                        if r["bad"]:
                            failures += 1
                            print(f"{service} {workload} N={conns}: {len(r['bad'])} answers without action=: "
                                  f"{r['bad'][:3]}", file=sys.stderr)
                        runs[service].append(r)
                        results.append(r)
                for service in services:
                    med = {k: statistics.median(r[k] for r in runs[service])
                           for k in ("rps", "p50_ms", "p99_ms", "service_cpu_ms_per_request", "service_rss_mib",
                                     "driver_cpu_share")}
                    table.append((workload, conns, service, med))
                    print(f"{workload:10} N={conns:<3} {service:15} {med['rps']:8.0f} req/s  p50 {med['p50_ms']:7.2f} ms"
                          f"  p99 {med['p99_ms']:7.2f} ms  service CPU {med['service_cpu_ms_per_request']:.3f} ms/req"
                          f"  RSS {med['service_rss_mib']:.0f} MiB"
                          f"  driver CPU {100 * med['driver_cpu_share']:.0f}%  load {min(loads):.1f}-{max(loads):.1f}"
                          f"  ({len(runs[service])} runs of {runs[service][0]['requests']})", flush=True)
                    if args.smoke:
                        print(f"      answers: {runs[service][0]['actions']}")
        finally:
            dns.stdin.close()
            dns.wait(timeout=30)
    if not args.smoke:
        print("\n| workload | N | service | requests/s | p50 ms | p99 ms | service CPU ms/request | service RSS MiB "
              "| driver CPU |")
        print("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for workload, conns, service, med in table:
            print(f"| {workload} | {conns} | {service} | {med['rps']:,.0f} | {med['p50_ms']:.2f} | {med['p99_ms']:.2f} "
                  f"| {med['service_cpu_ms_per_request']:.3f} | {med['service_rss_mib']:.0f} "
                  f"| {100 * med['driver_cpu_share']:.0f}% |")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    if failures:
        print(f"throughput: {failures} runs had answers without action=", file=sys.stderr)
        return 1
    if args.smoke:
        print("throughput smoke test: ok (every request answered with action=, by every service)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
