#!/usr/bin/env python3
"""`make bench`: whole-process wall time and peak memory of dtaas-services, side by side
with the Python CLI (PyPI dtaas-services 1.0.0, in a venv under target/bench) and with
`docker compose` v2 where there is an equivalent. Writes docs/benchmarks.md.

Each command runs RUNS (15) times after one warm-up, side by side with its reference; the
table shows the median wall time and the largest peak RSS (from wait4's ru_maxrss), and the
ratio ours/theirs measured in the same rounds. A line per step on stderr says what is being
measured and about how long it takes.

`user add` of BENCH_USERS users runs against the real PostgreSQL and RabbitMQ images of
images/ (built by images/build.sh; needs root, psql and the Debian mirror on first use),
BENCH_USER_RUNS times per variant, each first run after a reset; the Python CLI does the
PostgreSQL part (its RabbitMQ part, `docker exec rabbitmqctl` three times per user, is timed on
BENCH_PY_RABBIT_SAMPLE users). RabbitMQ creates about ten vhosts a second. Defaults: 200 users,
one round (a whole `make bench` takes about ten minutes); `--full` (`make bench FULL=1`):
1,000 users, three rounds (about 40 minutes more); `--quick`: 5 runs per command, 50 users, a
short scheduler run (for iterating, not for the docs). BENCH_SKIP_USERS=1 leaves users out.
`--only status`: just the `service status` rows (and `--no-probes --json`, which inspects each
container), printed, docs/benchmarks.md left alone; BENCH_BIN names the binary, BENCH_BIN_OLD
another one measured in the same rounds (old against new).

Per command, a profile breakdown (strace timestamps of the first file, compose file, engine
socket, probe connection and stdout write) says where the time goes.
"""
import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(os.environ.get("BENCH_BIN", ROOT / "target/release/dtaas-services"))
VENV = ROOT / "target/bench/pyvenv"
PY_CLI = VENV / "bin/dtaas-services"
RUNS = int(os.environ.get("BENCH_RUNS", "15"))
T0 = time.perf_counter()


def step(what, estimate_s):
    """One progress line on stderr: what is measured now and about how long it takes."""
    el = int(time.perf_counter() - T0)
    est = f"about {estimate_s:.0f} s" if estimate_s < 120 else f"about {estimate_s / 60:.0f} min"
    print(f"[{el // 60:02d}:{el % 60:02d}] {what} ({est})", file=sys.stderr, flush=True)


def run_once(argv, cwd=None, env=None):
    """Wall time from spawn to exit, and peak RSS read by GNU time (its own fork is a small C
    process, so the child's pre-exec memory does not inflate the figure as Python's would)."""
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        start = time.perf_counter()
        proc = subprocess.run(["/usr/bin/time", "-q", "-f", "%M", "-o", rss.name, *argv], cwd=cwd, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        elapsed = time.perf_counter() - start
        kib = float((rss.read().strip().splitlines() or ["0"])[-1])
    if proc.returncode != 0:
        sys.exit(f"benchmark command failed ({proc.returncode}): {' '.join(map(str, argv))}\n"
                 + proc.stderr.decode(errors="replace"))
    return elapsed, kib / 1024.0, proc.returncode


def measure(argv, setup=None, cwd=None, env=None, runs=RUNS):
    return measure_side_by_side([(argv, cwd, env)], setup=setup, runs=runs)[0]


def measure_side_by_side(commands, setup=None, runs=RUNS):
    """Run each (argv, cwd, env) in turn, round after round, so that load from anything else
    on the machine falls on all of them alike. Returns one result per command."""
    results = [{"times": [], "mems": []} for _ in commands]
    for i in range(runs + 1):
        for (argv, cwd, env), r in zip(commands, results):
            if setup:
                setup()
            t, m, _ = run_once(argv, cwd=cwd, env=env)
            if i:  # the first round is a warm-up
                r["times"].append(t)
                r["mems"].append(m)
    return [{"time": statistics.median(r["times"]), "mem": max(r["mems"])} for r in results]


BUSYBOX_IMAGE = "dtaas-test/busybox:1"
SERVICES = [  # compose name, container name, compose file, host port key, container port
    ("rabbitmq", "rabbitmq", "compose.services.yml", "RABBITMQ_PORT", 5671),
    ("mongodb", "mongodb", "compose.services.yml", "MONGODB_PORT", 27017),
    ("grafana", "grafana", "compose.services.yml", "GRAFANA_PORT", 3000),
    ("influxdb", "influxdb", "compose.services.yml", "INFLUXDB_PORT", 8086),
    ("postgres", "postgres", "compose.services.yml", "POSTGRES_PORT", 5432),
    ("thingsboard-ce", "thingsboard", "compose.thingsboard.yml", "THINGSBOARD_PORT", 8080),
    ("gitlab", "gitlab", "compose.gitlab.yml", "GITLAB_PORT", 443),
]


def ensure_busybox():
    """The stand-in image (the same recipe as components/test_support): busybox-static."""
    if subprocess.run(["docker", "image", "inspect", BUSYBOX_IMAGE], capture_output=True).returncode == 0:
        return
    root = Path(tempfile.mkdtemp(prefix="bb-"))
    (root / "bin").mkdir()
    (root / "tmp").mkdir()
    shutil.copy("/bin/busybox", root / "bin/busybox")
    for a in ["sh", "sleep", "nc", "true"]:
        (root / "bin" / a).symlink_to("busybox")
    tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
    subprocess.run(["docker", "import", "-", BUSYBOX_IMAGE], stdin=tar.stdout, check=True,
                   capture_output=True)
    tar.wait()
    shutil.rmtree(root)


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stand_in_stack(tmp):
    """A generated project whose 7 services run the busybox stand-in with the real service
    names, container names, ports, data volumes, network and a healthcheck: the CLI's own
    cost, not the services', is what is measured."""
    proj = tmp / "stack"
    subprocess.run([str(BIN), "project", "generate", "--path", str(proj)], check=True, capture_output=True)
    ds = [str(BIN), "--project-dir", str(proj), "config", "set"]
    settings = {"HOSTNAME": "bench.localhost", "CONTAINER_PREFIX": "bench-", "NETWORK_NAME": "dtaas-bench"}
    for _, _, _, key, _ in SERVICES:
        settings[key] = str(free_port())
    for k, v in settings.items():
        subprocess.run(ds + [k, v], check=True, capture_output=True)
    by_file = {}
    for name, container, f, key, port in SERVICES:
        by_file.setdefault(f, []).append(
            f"""  {name}:
    image: {BUSYBOX_IMAGE}
    container_name: ${{CONTAINER_PREFIX:-}}{container}
    restart: always
    # Accept and close at once: a probe gets its answer (a refusal) without waiting.
    command: ["sh", "-c", "while true; do nc -l -p {port} </dev/null; done"]
    ports:
      - "${{{key}}}:{port}"
    volumes:
      - ./data/{container}:/data
    healthcheck:
      test: ["CMD", "true"]
      interval: 1s
    networks:
      - platform-services
""")
    for f, services in by_file.items():
        (proj / f).write_text("services:\n" + "".join(services)
                              + "networks:\n  platform-services:\n    name: ${NETWORK_NAME:-dtaas-services}\n")
    return proj


def down(proj_name):
    ids = subprocess.run(["docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={proj_name}"],
                         capture_output=True, text=True).stdout.split()
    if ids:
        subprocess.run(["docker", "rm", "-f", *ids], capture_output=True, check=True)


# --- `user add` of 1,000 users against the real PostgreSQL and RabbitMQ images ------------

USER_COUNT = int(os.environ.get("BENCH_USERS", "200"))
USER_RUNS = int(os.environ.get("BENCH_USER_RUNS", "1"))
USERS_IN_PARALLEL = 4  # components/users UserOptions::users_in_parallel
PY_RABBIT_SAMPLE = int(os.environ.get("BENCH_PY_RABBIT_SAMPLE", "10"))
ADMIN = ("dtaas", "bench-rabbit-admin")  # RABBITMQ_ADMIN_* set for the bench
PG_ADMIN = ("dtaas_user", "bench-pg-admin", "thingsboard")  # POSTGRES_* set for the bench


def container_exists(name):
    return subprocess.run(["docker", "container", "inspect", name], capture_output=True).returncode == 0


def resolves_to_loopback(host):
    import socket
    try:
        return any(ai[4][0] in ("127.0.0.1", "::1") for ai in socket.getaddrinfo(host, 1))
    except OSError:
        return False


def rabbit_request(port, method, path, body=None, auth=ADMIN):
    """One management-API request over HTTPS (certificate not verified: a bench, not a test)."""
    import base64
    import http.client
    import json
    import ssl
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ssl._create_unverified_context(), timeout=60)
    token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    headers = {"Authorization": f"Basic {token}", "Content-Type": "application/json"}
    conn.request(method, f"/api/{path}", body=json.dumps(body) if body is not None else None, headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, data


def psql_admin(port, sql, host="127.0.0.1"):
    env = dict(os.environ, PGPASSWORD=PG_ADMIN[1])
    return subprocess.run(["psql", f"host={host} port={port} user={PG_ADMIN[0]} dbname={PG_ADMIN[2]} sslmode=require",
                           "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1"], input=sql, text=True, env=env,
                          capture_output=True, check=True).stdout


class UserBench:
    """A project with only PostgreSQL and RabbitMQ running (the local images of images/),
    named so that the Python CLI finds them: its RabbitMQ path runs `docker exec rabbitmq`,
    so CONTAINER_PREFIX is empty when no container on this engine is called `rabbitmq` or
    `postgres` already."""

    def __init__(self, tmp):
        out = subprocess.run(["bash", str(ROOT / "images/build.sh"), "postgres", "rabbitmq"], check=True,
                             capture_output=True, text=True).stdout
        tags = dict(l.split("=", 1) for l in out.split())
        self.proj = tmp / "users"
        self.hostname = "bench-users.localhost" if resolves_to_loopback("bench-users.localhost") else "localhost"
        self.pname = self.hostname.replace(".", "-")
        self.plain_names = not container_exists("rabbitmq") and not container_exists("postgres")
        prefix = "" if self.plain_names else "bench-users-"
        subprocess.run([str(BIN), "project", "generate", "--path", str(self.proj)], check=True, capture_output=True)
        self.ports = {k: free_port() for k in ["POSTGRES_PORT", "RABBITMQ_PORT", "RABBITMQ_MANAGEMENT_PORT",
                                               "RABBITMQ_MQTT_PORT"]}
        settings = {"HOSTNAME": self.hostname, "CONTAINER_PREFIX": prefix, "NETWORK_NAME": "bench-users-net",
                    "CERTS_SRC": str(self.proj / "certs-src"), "POSTGRES_IMAGE": tags["postgres"],
                    "RABBITMQ_IMAGE": tags["rabbitmq"], **{k: str(v) for k, v in self.ports.items()},
                    # project generate writes random secrets; the bench talks to the admins too.
                    "POSTGRES_USER": PG_ADMIN[0], "POSTGRES_PASSWORD": PG_ADMIN[1],
                    "RABBITMQ_ADMIN_USERNAME": ADMIN[0], "RABBITMQ_ADMIN_PASSWORD": ADMIN[1]}
        for k, v in settings.items():
            self.ours("config", "set", k, v)
        self.ours("certs", "self-signed")
        self.ours("host", "setup")
        self.down()
        self.ours("service", "start", "-s", "postgres,rabbitmq", "--wait", "--timeout", "5m")
        self.users = [(f"bench{i:04d}", f"Pw-{i:04d}-{os.urandom(6).hex()}") for i in range(USER_COUNT)]
        self.write_csv(self.users)

    def ours(self, *args):
        return subprocess.run([str(BIN), "--project-dir", str(self.proj), *args], check=True, capture_output=True,
                              text=True).stdout

    def ours_cmd(self):
        return [str(BIN), "--project-dir", str(self.proj), "user", "add", "-s", "postgres,rabbitmq"]

    def write_csv(self, users):
        lines = ["username,password,email"] + [f"{u},{p},{u}@example.org" for u, p in users]
        (self.proj / "config/credentials.csv").write_text("\n".join(lines) + "\n")

    def reset(self):
        """Drop the bench users from both services and forget them in our state DB."""
        names = [u for u, _ in self.users]
        sql = "".join(f'DROP DATABASE IF EXISTS "{u}";\nDROP ROLE IF EXISTS "{u}";\n' for u in names)
        psql_admin(self.ports["POSTGRES_PORT"], sql)
        rabbit_request(self.ports["RABBITMQ_MANAGEMENT_PORT"], "POST", "users/bulk-delete", {"users": names})
        for u in names:
            rabbit_request(self.ports["RABBITMQ_MANAGEMENT_PORT"], "DELETE", f"vhosts/{u}")
        for f in (self.proj / ".dtaas").glob("state.db*"):
            if not f.name.endswith(".lock"):
                f.unlink()

    def count(self):
        """(PostgreSQL roles, RabbitMQ users) of the bench."""
        pg = psql_admin(self.ports["POSTGRES_PORT"], "SELECT count(*) FROM pg_roles WHERE rolname LIKE 'bench%';")
        import json
        _, body = rabbit_request(self.ports["RABBITMQ_MANAGEMENT_PORT"], "GET", "users")
        rb = sum(1 for u in json.loads(body) if u["name"].startswith("bench"))
        return int(pg.strip()), rb

    def parallel_pg(self):
        """The server's floor for `user add` on PostgreSQL: the same statements on
        USERS_IN_PARALLEL sessions at once (as many connections as we use)."""
        chunks = [self.users[i::USERS_IN_PARALLEL] for i in range(USERS_IN_PARALLEL)]
        env = dict(os.environ, PGPASSWORD=PG_ADMIN[1])
        procs = []
        for chunk in chunks:
            sql = "".join(
                f"SELECT 1 FROM pg_roles WHERE rolname = '{u}';\n"
                f"CREATE ROLE \"{u}\" LOGIN PASSWORD '{p}';\n"
                f"CREATE DATABASE \"{u}\" OWNER \"{u}\";\n" for u, p in chunk)
            pr = subprocess.Popen(["psql", f"host=127.0.0.1 port={self.ports['POSTGRES_PORT']} user={PG_ADMIN[0]} "
                                   f"dbname={PG_ADMIN[2]} sslmode=require", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1"],
                                  stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
                                  text=True)
            procs.append((pr, sql))
        for pr, sql in procs:
            pr.stdin.write(sql)
            pr.stdin.close()
        for pr, _ in procs:
            if pr.wait() != 0:
                sys.exit("parallel psql floor failed: " + pr.stderr.read())

    def one_at_a_time(self, which):
        """The same work as `user add`, one request after the other from one process: PostgreSQL
        through one psql session, RabbitMQ through the management API."""
        if which == "postgres":
            sql = "".join(
                f"SELECT 1 FROM pg_roles WHERE rolname = '{u}';\n"
                f"CREATE ROLE \"{u}\" LOGIN PASSWORD '{p}';\n"
                f"CREATE DATABASE \"{u}\" OWNER \"{u}\";\n" for u, p in self.users)
            psql_admin(self.ports["POSTGRES_PORT"], sql)
        else:
            port = self.ports["RABBITMQ_MANAGEMENT_PORT"]
            for u, p in self.users:
                rabbit_request(port, "PUT", f"users/{u}", {"password": p, "tags": ""})
                rabbit_request(port, "PUT", f"vhosts/{u}", {})
                rabbit_request(port, "PUT", f"permissions/{u}/{u}", {"configure": ".*", "write": ".*", "read": ".*"})

    def down(self):
        down(self.pname)
        subprocess.run(["docker", "network", "rm", "bench-users-net"], capture_output=True)


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench_user_add(tmp, have_py):
    """Rows (variant, ours first, ours re-run, python first, python re-run, one-at-a-time) for
    `user add` of USER_COUNT users, and notes."""
    step("user add: building and starting the PostgreSQL and RabbitMQ images", 120)
    b = UserBench(tmp)
    rows, notes = [], []

    def summary(samples):
        if not samples:
            return None
        return {"time": statistics.median(t for t, _, _ in samples), "mem": max(m for _, m, _ in samples)}

    def first_and_rerun(cmd, cwd=None, expect=None):
        first, rerun = [], []
        for _ in range(USER_RUNS):
            b.reset()
            first.append(run_once(cmd, cwd=cwd))
            if expect is not None and b.count() != expect:
                notes.append(f"`{' '.join(cmd[-3:])}` left {b.count()} (PostgreSQL roles, RabbitMQ users), "
                             f"expected {expect}.")
            rerun.append(run_once(cmd, cwd=cwd))
        return summary(first), summary(rerun)

    def floor(which):
        times = []
        for _ in range(USER_RUNS):
            b.reset()
            times.append(timed(lambda: b.one_at_a_time(which)))
        return statistics.median(times)

    def floor_parallel():
        times = []
        for _ in range(USER_RUNS):
            b.reset()
            times.append(timed(b.parallel_pg))
        return statistics.median(times)

    try:
        ours = [str(BIN), "--project-dir", str(b.proj), "user", "add", "-s"]
        n = USER_COUNT
        rb_s, pg_s = n / 10 * 1.2, n / 80  # seconds per round: about 10 vhosts and 80 databases a second
        step(f"user add of {n} users to PostgreSQL + RabbitMQ, {USER_RUNS} round(s)", USER_RUNS * (rb_s + pg_s) * 1.3)
        both = first_and_rerun(ours + ["postgres,rabbitmq"], expect=(n, n))
        step(f"user add of {n} users to PostgreSQL", USER_RUNS * pg_s * 1.5)
        pg = first_and_rerun(ours + ["postgres"], expect=(n, 0))
        step(f"user add of {n} users to RabbitMQ", USER_RUNS * rb_s * 1.3)
        rb = first_and_rerun(ours + ["rabbitmq"], expect=(0, n))
        if have_py:
            step(f"Python CLI user add of {n} users to PostgreSQL", USER_RUNS * pg_s * 4)
        py_pg = (first_and_rerun([str(PY_CLI), "user", "add", "-s", "postgres"], cwd=b.proj, expect=(n, 0))
                 if have_py else (None, None))
        step("the servers' floors: the same statements one at a time, and on parallel sessions",
             USER_RUNS * (rb_s + 3 * pg_s))
        f_pg, f_rb = floor("postgres"), floor("rabbitmq")
        f_pg_par = floor_parallel()
        rows = [
            ("PostgreSQL + RabbitMQ", both, (None, None), f_pg + f_rb, None),
            ("PostgreSQL", pg, py_pg, f_pg, f_pg_par),
            ("RabbitMQ", rb, (None, None), f_rb, None),
        ]

        # The Python CLI's RabbitMQ path on a small sample, when its container name is usable.
        if have_py and b.plain_names and PY_RABBIT_SAMPLE > 0:
            step(f"Python CLI user add to RabbitMQ on a sample of {PY_RABBIT_SAMPLE} users", PY_RABBIT_SAMPLE * 1.2)
            sample = b.users[:PY_RABBIT_SAMPLE]
            b.reset()
            b.write_csv(sample)
            t, m, _ = run_once([str(PY_CLI), "user", "add", "-s", "rabbitmq"], cwd=b.proj)
            b.write_csv(b.users)
            per_user = t / len(sample)
            notes.append(
                f"Python CLI, RabbitMQ: not run with {n:,} users. Its RabbitMQ path runs three "
                f"`docker exec rabbitmq rabbitmqctl ...` per user: {len(sample)} users took {t:.1f} s "
                f"({per_user:.2f} s per user, peak {m:.1f} MiB), so {n:,} would take about "
                f"{per_user * n / 60:.0f} min.")
        elif have_py:
            notes.append("Python CLI, RabbitMQ: not run (it needs the container to be called `rabbitmq`, "
                         "and a container of that name already exists on this engine).")
        if not have_py:
            notes.append("Python CLI: not installed (pip install dtaas-services==1.0.0 failed).")
        b.reset()
    finally:
        b.down()
    return rows, notes


def ensure_python_cli():
    if PY_CLI.exists():
        return True
    try:
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(VENV / "bin/pip"), "install", "-q", "dtaas-services==1.0.0"], check=True)
        return PY_CLI.exists()
    except subprocess.CalledProcessError as e:
        print(f"python CLI unavailable: {e}", file=sys.stderr)
        return False


def fmt_t(r):
    return f"{r['time'] * 1000:.1f} ms" if r else "n/a"


def fmt_m(r):
    return f"{r['mem']:.1f} MiB" if r else "n/a"


def ratio(a, b, key):
    if not a or not b or not b[key]:
        return "n/a"
    return f"{a[key] / b[key]:.3f}"


def bench_scheduler(secs):
    """The scheduler's section: components/scheduler/examples/bench.rs, 10,000 interval tasks
    due every second (BENCH_SCHED_SECS) and idle (BENCH_SCHED_IDLE_SECS)."""
    env = dict(os.environ)
    env.setdefault("BENCH_SCHED_SECS", str(secs))
    idle = int(env.get("BENCH_SCHED_IDLE_SECS", "10"))
    step(f"scheduler: 10,000 tasks due every second for {env['BENCH_SCHED_SECS']} s, then idle",
         int(env["BENCH_SCHED_SECS"]) + idle + 10)
    out = subprocess.run(["cargo", "run", "--release", "-q", "-p", "scheduler", "--example", "bench"],
                         cwd=ROOT, env=env, check=True, stdout=subprocess.PIPE, text=True).stdout
    return out.rstrip().splitlines()


PHASES = ["process start", "settings", "compose parsing", "engine calls", "probes", "printing"]


def profile_breakdown(argv, proj):
    """Where one run of `argv` spends its time, from strace timestamps (strace slows every
    system call, so only the shares are shown): process start (exec to the first file of the
    project), settings (to the first compose file), compose parsing (to the first connection
    to the engine's socket), engine calls (to the first TCP connection of a probe, or to the
    printing), probes (to the printing), printing (from the first write to stdout after the
    last engine call or probe connection, to the exit). Concurrent phases overlap: a phase is
    the stretch until the next one's first event."""
    if not shutil.which("strace"):
        return None
    with tempfile.NamedTemporaryFile("r", suffix=".strace") as log:
        subprocess.run(["strace", "-f", "-ttt", "-qq", "-o", log.name, "-e",
                        "trace=execve,openat,connect,write,exit_group", *argv],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        lines = log.read().splitlines()
    marks = {}
    writes = []

    def mark(name, t):
        marks.setdefault(name, t)

    end = None
    for line in lines:
        parts = line.split(None, 2)
        if len(parts) < 3:
            continue
        try:
            t = float(parts[1])
        except ValueError:
            continue
        call = parts[2]
        if call.startswith("execve("):
            mark("start", t)
        elif call.startswith("openat(") and str(proj) in call and "ENOENT" not in call:
            mark("settings", t)
            if "compose" in call and (".yml" in call or ".yaml" in call):
                mark("compose parsing", t)
        elif call.startswith("connect(") and "docker.sock" in call:
            mark("engine calls", t)
        elif call.startswith("connect(") and "AF_INET" in call:
            mark("probes", t)
        elif call.startswith("write(1,"):
            writes.append(t)
        elif call.startswith("exit_group("):
            end = t
    if "start" not in marks or end is None:
        return None
    # Printing: from the first write to stdout after the last engine or probe event (progress
    # lines written while the work goes on belong to the work).
    last_work = max((t for n, t in marks.items() if n in ("engine calls", "probes")), default=marks["start"])
    late_writes = [t for t in writes if t >= last_work]
    if late_writes:
        marks["printing"] = late_writes[0]
    points = [("process start", marks["start"])] + [(p, marks[p]) for p in PHASES[1:] if p in marks]
    points.sort(key=lambda x: x[1])
    total = end - marks["start"]
    shares = {}
    for (name, t), nxt in zip(points, [p[1] for p in points[1:]] + [end]):
        shares[name] = (nxt - t) / total if total > 0 else 0
    return shares


def only_status():
    """`--only status`: the status rows on the 7 running stand-ins, beside `docker ps`."""
    if not BIN.exists():
        sys.exit(f"build first: {BIN}")
    step("the 7 busybox stand-ins: image and project", 10)
    ensure_busybox()
    tmp = Path(tempfile.mkdtemp(prefix="dtaas-bench-"))
    proj = stand_in_stack(tmp)
    pname = "bench-localhost"
    try:
        subprocess.run([str(BIN), "--project-dir", str(proj), "service", "start"], check=True,
                       capture_output=True)
        names = ["ours `status --no-probes`", "ours `status --no-probes --json`", "`docker ps`"]
        cmds = [([str(BIN), "--project-dir", str(proj), "service", "status", "--no-probes"], None, None),
                ([str(BIN), "--project-dir", str(proj), "service", "status", "--no-probes", "--json"],
                 None, None),
                (["docker", "ps", "--filter", f"label=com.docker.compose.project={pname}"], None, None)]
        old = os.environ.get("BENCH_BIN_OLD")
        if old:
            names.append("old `status --no-probes`")
            cmds.append(([old, "--project-dir", str(proj), "service", "status", "--no-probes"], None, None))
        step(f"`service status` variants beside `docker ps`; {RUNS} rounds", RUNS * 0.5)
        res = measure_side_by_side(cmds)
        floor = res[2]["time"]
        print("| command | median | peak | vs `docker ps` |\n|---|---|---|---|")
        for n, r in zip(names, res):
            print(f"| {n} | {fmt_t(r)} | {fmt_m(r)} | {r['time'] / floor:.2f} |")
    finally:
        down(pname)
        subprocess.run(["docker", "network", "rm", "dtaas-bench"], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="5 runs per command, 50 users, short scheduler run")
    parser.add_argument("--full", action="store_true", help="1,000 users, three rounds (about 40 min more)")
    parser.add_argument("--only", choices=["status"], help="one command's rows, printed (docs left alone)")
    args = parser.parse_args()
    global RUNS, USER_COUNT, USER_RUNS
    if args.only == "status":
        only_status()
        return
    sched_secs = 20
    if args.full:
        USER_COUNT = int(os.environ.get("BENCH_USERS", "1000"))
        USER_RUNS = int(os.environ.get("BENCH_USER_RUNS", "3"))
    if args.quick:
        RUNS = int(os.environ.get("BENCH_RUNS", "5"))
        USER_COUNT = int(os.environ.get("BENCH_USERS", "50"))
        sched_secs = 5
    if not BIN.exists():
        sys.exit("build first: make release")
    step("Python CLI (PyPI dtaas-services 1.0.0) in a venv, if missing", 30)
    have_py = ensure_python_cli()
    have_compose = shutil.which("docker") and subprocess.run(
        ["docker", "compose", "version"], capture_output=True).returncode == 0
    rows, floor_rows, profiles = [], [], []
    tmp = Path(tempfile.mkdtemp(prefix="dtaas-bench-"))

    # 1. --help
    step(f"`--help`: ours, Python, docker compose; {RUNS} runs each", RUNS * (1.5 if have_py else 0.2))
    ours = measure([str(BIN), "--help"])
    py = measure([str(PY_CLI), "--help"]) if have_py else None
    dc = measure(["docker", "compose", "--help"]) if have_compose else None
    rows.append(("`--help`", ours, py, dc))

    # 2. project generate into a fresh directory each run
    target = tmp / "gen"

    def fresh():
        shutil.rmtree(target, ignore_errors=True)

    step(f"`project generate`: ours, Python; {RUNS} runs each", RUNS * (1.5 if have_py else 0.2))
    ours = measure([str(BIN), "project", "generate", "--path", str(target)], setup=fresh)
    py = measure([str(PY_CLI), "project", "generate", "--path", str(target)], setup=fresh) if have_py else None
    rows.append(("`project generate`", ours, py, None))

    # 3-4. service status on 7 running services; service start of 7 from scratch.
    if have_compose:
        step("the 7 busybox stand-ins: image and project", 10)
        ensure_busybox()
        proj = stand_in_stack(tmp)
        pname = "bench-localhost"
        files = []
        for f in ["compose.services.yml", "compose.thingsboard.yml", "compose.gitlab.yml"]:
            files += ["-f", str(proj / f)]
        compose = ["docker", "compose", "-p", pname, "--env-file", str(proj / "config/services.env"), *files]
        ours_cmd = [str(BIN), "--project-dir", str(proj)]
        py_env = dict(os.environ)

        def reset():
            down(pname)

        step(f"`service start` of 7 stand-ins from scratch beside `docker compose up -d`; {RUNS} rounds", RUNS * 5)
        ours, dc = measure_side_by_side(
            [(ours_cmd + ["service", "start"], None, None), (compose + ["up", "-d"], None, None)],
            setup=reset, runs=RUNS)
        rows.append(("`service start` (7 services from scratch)", ours, None, dc))
        reset()
        step("`service start` profile (strace)", 5)
        profiles.append(("`service start`", profile_breakdown(ours_cmd + ["service", "start"], proj)))
        subprocess.run(ours_cmd + ["service", "start"], check=True, capture_output=True)
        cmds = [(ours_cmd + ["service", "status", "--no-probes"], None, None),
                (compose + ["ps"], None, None),
                (ours_cmd + ["service", "status"], None, None),
                (["docker", "ps", "--filter", f"label=com.docker.compose.project={pname}"], None, None)]
        if have_py:
            cmds.append(([str(PY_CLI), "service", "status"], proj, py_env))
        step(f"`service status` with and without probes beside `docker compose ps` and `docker ps`"
             f"{' and the Python CLI' if have_py else ''}; {RUNS} rounds", RUNS * (4 if have_py else 0.8))
        bare, dc, probed, dps, *py = measure_side_by_side(cmds)
        py = py[0] if py else None
        rows.append(("`service status --no-probes` (7 running)", bare, py, dc))
        rows.append(("`service status` (7 running, with readiness probes)", probed, py, dc))
        floor_rows.append(("`service status --no-probes` (7 running)", bare, dps))
        step("`service status` profiles (strace)", 5)
        profiles.append(("`service status --no-probes`",
                         profile_breakdown(ours_cmd + ["service", "status", "--no-probes"], proj)))
        profiles.append(("`service status`", profile_breakdown(ours_cmd + ["service", "status"], proj)))
        down(pname)
        subprocess.run(["docker", "network", "rm", "dtaas-bench"], capture_output=True)

    user_rows, user_notes = [], []
    if have_compose and os.environ.get("BENCH_SKIP_USERS") != "1":
        user_rows, user_notes = bench_user_add(tmp, have_py)

    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (scripts/bench.py) from one run; do not edit by hand.",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}.",
        f"Each command: {RUNS} runs after a warm-up; median wall time of the whole process, largest peak RSS.",
        "Python CLI: PyPI dtaas-services 1.0.0 in a venv. Compose: `docker compose` v2 where an equivalent exists.",
        "Ratios are ours / theirs (below 1 means we are faster or smaller).",
        "",
        "| command | ours time | ours peak | Python time | Python peak | time ratio vs Python | mem ratio vs Python | compose time | time ratio vs compose |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, o, p, d in rows:
        lines.append(
            f"| {name} | {fmt_t(o)} | {fmt_m(o)} | {fmt_t(p)} | {fmt_m(p)} | {ratio(o, p, 'time')} | "
            f"{ratio(o, p, 'mem')} | {fmt_t(d)} | {ratio(o, d, 'time')} |")
    lines += [
        "",
        "- `service start` and `service status` run on 7 busybox stand-ins with the services' names,",
        "  ports and healthchecks (no registry here). The readiness probes get an immediate answer or",
        "  refusal from them, so the probe row measures our own overhead (parallel probes, client set-up),",
        "  not the services' latency; `--no-probes` is the engine-only view compared with `docker compose ps`.",
        "- The Python CLI's `service start` is `docker compose up -d` on the services not yet running:",
        "  the compose column measures it.",
    ]
    if floor_rows:
        lines += [
            "",
            "Beside the engine's own listing (`docker ps` filtered by the project label, one list call),",
            "measured in the same rounds:",
            "",
            "| command | ours time | `docker ps` time | time ratio vs `docker ps` |",
            "|---|---|---|---|",
        ]
        for name, o, d in floor_rows:
            lines.append(f"| {name} | {fmt_t(o)} | {fmt_t(d)} | {ratio(o, d, 'time')} |")
    if any(p for _, p in profiles):
        lines += [
            "",
            "Where the time goes (one run under `strace -f -ttt`, shares of its wall time; a phase",
            "lasts until the next one's first system call: the first project file, compose file,",
            "engine socket connection, probe connection and stdout write; concurrent phases overlap):",
            "",
            "| command | " + " | ".join(PHASES) + " |",
            "|---|" + "---|" * len(PHASES),
        ]
        for name, shares in profiles:
            if shares:
                cells = [f"{shares[p] * 100:.0f} %" if p in shares else "-" for p in PHASES]
                lines.append(f"| {name} | " + " | ".join(cells) + " |")
    if user_rows:
        lines += [
            "",
            f"## `user add` of {USER_COUNT:,} users (real PostgreSQL and RabbitMQ)",
            "",
            "The local `dtaas-test/postgres:15` and `dtaas-test/rabbitmq:3.10` images (images/), started with",
            f"`service start`; config/credentials.csv holds the users. Medians of {USER_RUNS} runs. Every first",
            "run follows a reset (roles, databases, users and vhosts dropped; our state DB deleted); the",
            "re-run follows it with nothing to change. One at a time: the same statements or API calls,",
            "one after the other from one process (one psql session; one HTTPS request at a time).",
            "",
            "| services | ours first run | ours re-run | ours peak | Python first run | Python re-run "
            "| Python peak | first run vs Python | one at a time | first run vs one at a time "
            f"| {USERS_IN_PARALLEL} sessions at once | first run vs {USERS_IN_PARALLEL} sessions |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]

        def secs(r):
            return f"{r['time']:.2f} s" if r else "n/a"

        for name, (of, orr), (pf, pr), fl, fpar in user_rows:
            par = f"{fpar:.2f} s" if fpar else "n/a"
            par_ratio = f"{of['time'] / fpar:.3f}" if fpar else "n/a"
            peak_o = max(x["mem"] for x in (of, orr) if x) if of else None
            peak_p = max(x["mem"] for x in (pf, pr) if x) if pf else None
            lines.append(
                f"| {name} | {secs(of)} | {secs(orr)} | {f'{peak_o:.1f} MiB' if peak_o else 'n/a'} | "
                f"{secs(pf)} | {secs(pr)} | {f'{peak_p:.1f} MiB' if peak_p else 'n/a'} | "
                f"{ratio(of, pf, 'time')} | {fl:.2f} s | {of['time'] / fl:.3f} | {par} | {par_ratio} |")
        if user_notes:
            lines += [""] + [f"- {n}" for n in user_notes]
    if os.environ.get("BENCH_SKIP_SCHEDULER") != "1":
        lines += ["", *bench_scheduler(sched_secs)]
    extra = ROOT / "docs/benchmarks.extra.md"
    if extra.exists():
        lines += ["", extra.read_text().rstrip()]
    if args.quick:
        print("--quick: docs/benchmarks.md left as it is", file=sys.stderr)
    else:
        (ROOT / "docs/benchmarks.md").write_text("\n".join(lines) + "\n")
    step("done", 0)
    print("\n".join(lines))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
