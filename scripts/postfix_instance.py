#!/usr/bin/env python3
"""Run a real Postfix on loopback from a private folder, for tests.

The instance lives entirely in one folder: ``conf/`` (its
``config_directory``, with its own ``main.cf`` and ``master.cf``), ``queue/``,
``data/``, ``maillog`` (its log) and ``mail/maildir/`` (delivered mail). It
listens on 127.0.0.1 only, on a high port, delivers every message to that
maildir and sends nothing anywhere else. The system's Postfix
(``/etc/postfix``, its queue, its service) is never read, started, stopped or
changed: every command runs as ``postfix -c FOLDER/conf`` /
``postconf -c FOLDER/conf``.

Needs Debian's ``postfix`` (3.4 or later, for ``maillog_file``) and root
(Postfix's master must start as root). ``ensure_installed()`` (or the
``ensure-installed`` command below) installs the package when it is missing,
with debconf's "No configuration" answer, so the system service is not set
up and does not start. The system service may be installed, running or not:
the instance shares nothing with it.

Checked on Debian 12 (Postfix 3.7): ``postfix -c DIR start`` run by root
needs no ``alternate_config_directories`` entry in the default main.cf
(only the set-gid commands ``postdrop``/``postqueue`` check that list, and
this module uses neither: mail comes in over SMTP), nor a default main.cf at
all. What it does need: ``maillog_file`` under a folder named in
``maillog_file_prefixes``, and a ``postlog`` service in master.cf.

Python interface (stdlib only; ``sys.path.insert(0, "scripts")`` first)::

    from postfix_instance import PostfixInstance, ensure_installed

    ensure_installed()
    with PostfixInstance(settings={"smtpd_milters": "inet:127.0.0.1:8891"}) as pf:
        with pf.smtp(helo="client.example") as s:      # smtplib.SMTP
            s.sendmail("a@example.com", ["b@example.org"], b"Subject: hi\\r\\n\\r\\nhi\\r\\n")
        [msg] = pf.wait_for_messages(1)                # email.message.EmailMessage
        print(msg["Received"], pf.log_lines()[-1])

``PostfixInstance(directory=None, *, settings=None, master_lines=None,
port=None, hostname="postfix-instance.test", start_timeout=30.0)``
    ``directory``: the instance's folder (created if missing); None makes a
    temporary one, removed again on ``stop()``/exit. ``settings``: extra
    main.cf parameters (dict name -> value, written after the defaults, so
    they override them; a value of None removes a default). ``master_lines``:
    extra master.cf lines (list of str, each one service entry). ``port``:
    the smtpd port; None picks a free one. ``hostname``: ``myhostname``
    (it also appears in the 220 greeting).

Attributes: ``directory`` (``pathlib.Path``, the instance's folder),
``config_directory`` (``Path``, ``directory/conf``: what ``-c`` takes),
``port`` (int), ``maildir`` (``Path`` of the maildir every message is
delivered to), ``log_file`` (``Path`` of the instance's ``maillog_file``).

Methods:
    ``start()`` writes main.cf/master.cf, runs ``postfix -c CONF check`` and
    ``start``, then polls 127.0.0.1:port until this instance's smtpd answers
    with its 220 greeting (at most ``start_timeout`` seconds; raises
    ``PostfixError`` with the log's tail otherwise). ``stop()`` runs
    ``postfix -c CONF stop``, waits for the master to exit (bounded) and
    kills what is left of this instance (its master's process group and any
    process whose environment names this config directory). Both are what
    ``with`` calls. ``postconf(*args)`` runs ``postconf -c CONF *args`` and
    returns its stdout. ``smtp(helo=..., timeout=...)`` returns an
    ``smtplib.SMTP`` connected to the instance. ``raw_messages()`` /
    ``messages()`` return the delivered messages (bytes /
    ``email.message.EmailMessage``, in delivery order).
    ``wait_for_messages(count, timeout=30)`` polls until at least ``count``
    were delivered and returns them. ``log_lines()`` returns the log so far;
    ``wait_for_log(text, timeout=30)`` polls until a line contains ``text``
    and returns it.

Delivery: ``mydestination`` is empty and every domain is a virtual mailbox
domain (``virtual_mailbox_domains = static:all``) delivered by virtual(8)
as ``nobody`` into ``maildir``; ``default_transport``/``relay_transport``
are ``error``, so nothing leaves the machine.

Shell interface::

    python3 scripts/postfix_instance.py ensure-installed
    python3 scripts/postfix_instance.py start DIR [--port N] [--hostname NAME]
            [--set NAME=VALUE]... [--master LINE]...
        (prints the port; Postfix keeps running; config in DIR/conf, log in
        DIR/maillog, mail in DIR/mail/maildir)
    python3 scripts/postfix_instance.py stop DIR
"""

from __future__ import annotations

import argparse
import email.message
import email.parser
import email.policy
import grp
import os
import pwd
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterable, Mapping, Optional

DEFAULT_HOSTNAME = "postfix-instance.test"
# How long start() waits for the smtpd greeting, stop() for the master to
# exit, and the wait_for_* helpers for their condition. Generous: they are
# bounds for a loaded 2-core CI machine, not expected durations.
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
WAIT_TIMEOUT = 30.0
# Between two polls of a socket, file or process.
POLL_INTERVAL = 0.05
# Postfix 3.4 introduced maillog_file and postlogd.
MIN_VERSION = (3, 4)
# The file, inside the instance directory, that remembers the port (shell use).
PORT_FILE = "instance.port"
# The config_directory, inside the instance directory. The queue and data
# directories are its siblings, not its children: `postfix check` wants
# everything under config_directory owned by root.
CONFIG_DIR = "conf"
# Where the delivered mail goes, relative to the instance directory.
MAIL_BASE = "mail"
MAILDIR = "maildir"

# Services started with chroot off, so that nothing needs copying into a jail.
MASTER_CF = """\
# service type  private unpriv  chroot  wakeup  maxproc command + args
{port}     inet  n       -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


class PostfixError(RuntimeError):
    """Postfix could not be set up, started or stopped (the message has the log's tail)."""


def _run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, **kwargs)


def postfix_version() -> tuple[int, ...]:
    """Postfix's version as numbers, e.g. (3, 7, 11)."""
    out = _run(["postconf", "-d", "-h", "mail_version"], check=True).stdout.strip()
    return tuple(int(part) for part in out.split(".") if part.isdigit())


def ensure_installed() -> None:
    """Installs Debian's postfix when missing (idempotent), without setting up its service.

    debconf gets "No configuration", so no /etc/postfix/main.cf is written
    and the service does not start. Needs root or sudo, and apt.
    """
    if shutil.which("postfix", path="/usr/sbin:/usr/bin:/sbin:/bin") and shutil.which(
        "postconf", path="/usr/sbin:/usr/bin:/sbin:/bin"
    ):
        return
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(
        sudo + ["debconf-set-selections"],
        input="postfix postfix/main_mailer_type select No configuration\n",
        text=True,
        check=True,
    )
    subprocess.run(sudo + ["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(
        sudo + ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "postfix"],
        check=True,
        env=env,
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (start() retries on a collision)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _deadline_loop(timeout: float):
    """Yields until `timeout` seconds have passed, pausing POLL_INTERVAL between turns."""
    end = time.monotonic() + timeout
    while True:
        yield
        if time.monotonic() >= end:
            return
        time.sleep(POLL_INTERVAL)


class PostfixInstance:
    """A Postfix instance in its own folder, on 127.0.0.1 (see the module docstring)."""

    def __init__(
        self,
        directory: Optional[os.PathLike | str] = None,
        *,
        settings: Optional[Mapping[str, Optional[str]]] = None,
        master_lines: Optional[Iterable[str]] = None,
        port: Optional[int] = None,
        hostname: str = DEFAULT_HOSTNAME,
        start_timeout: float = START_TIMEOUT,
    ) -> None:
        self._owns_directory = directory is None
        self.directory = Path(tempfile.mkdtemp(prefix="postfix-instance.") if directory is None else directory)
        self.directory = self.directory.resolve()
        self.config_directory = self.directory / CONFIG_DIR
        self.settings = dict(settings or {})
        self.master_lines = list(master_lines or [])
        self._fixed_port = port
        self.port = port or 0
        self.hostname = hostname
        self.start_timeout = start_timeout
        self.maildir = self.directory / MAIL_BASE / MAILDIR
        self.log_file = self.directory / "maillog"
        self._master_pid: Optional[int] = None

    # -- configuration ---------------------------------------------------

    def main_cf(self) -> dict[str, str]:
        """The main.cf parameters this instance is written with (defaults, then `settings`)."""
        d = self.directory
        version = postfix_version()
        if version[:2] < MIN_VERSION:
            raise PostfixError(f"Postfix {version} is older than 3.4 (no maillog_file)")
        nobody = pwd.getpwnam("nobody")
        params: dict[str, Optional[str]] = {
            "compatibility_level": "3.6" if version[:2] >= (3, 6) else "2",
            "queue_directory": str(d / "queue"),
            "data_directory": str(d / "data"),
            "mail_owner": "postfix",
            "myhostname": self.hostname,
            "mydomain": self.hostname.partition(".")[2] or self.hostname,
            "myorigin": "$myhostname",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "maillog_file": str(self.log_file),
            "maillog_file_prefixes": str(d),
            # No DNS from Postfix itself: tests are offline.
            "smtpd_peername_lookup": "no",
            # Every domain is delivered here, nothing is relayed.
            "mydestination": "",
            "local_recipient_maps": "",
            "alias_maps": "",
            "alias_database": "",
            "relayhost": "",
            "default_transport": "error:postfix-instance delivers nothing off this machine",
            "relay_transport": "error:postfix-instance delivers nothing off this machine",
            "virtual_mailbox_domains": "static:all",
            "virtual_mailbox_base": str(d / MAIL_BASE),
            "virtual_mailbox_maps": f"static:{MAILDIR}/",
            "virtual_uid_maps": f"static:{nobody.pw_uid}",
            "virtual_gid_maps": f"static:{nobody.pw_gid}",
            "virtual_minimum_uid": str(nobody.pw_uid),
            "biff": "no",
            "append_dot_mydomain": "no",
            "smtpd_banner": "$myhostname ESMTP postfix-instance",
            "delay_warning_time": "0",
        }
        params.update(self.settings)
        return {k: v for k, v in params.items() if v is not None}

    def write_config(self) -> None:
        """Writes main.cf and master.cf and the folders they name."""
        d = self.directory
        d.mkdir(parents=True, exist_ok=True)
        # Postfix daemons (as mail_owner) and virtual(8) (as nobody) must
        # reach inside: the folder and every folder above it must be
        # searchable by others.
        d.chmod(0o755)
        for parent in d.parents:
            if not parent.stat().st_mode & 0o001:
                raise PostfixError(f"{parent} is not searchable by others (chmod o+x), so Postfix cannot reach {d}")
        for sub in (CONFIG_DIR, "queue", "data"):
            (d / sub).mkdir(exist_ok=True)
        owner = pwd.getpwnam("postfix")
        os.chown(d / "data", owner.pw_uid, owner.pw_gid)
        mail = d / MAIL_BASE
        mail.mkdir(exist_ok=True)
        nobody = pwd.getpwnam("nobody")
        os.chown(mail, nobody.pw_uid, grp.getgrgid(nobody.pw_gid).gr_gid)
        if not self.port:
            self.port = free_port()
        lines = [f"{k} = {v}" for k, v in self.main_cf().items()]
        (self.config_directory / "main.cf").write_text("# Written by scripts/postfix_instance.py\n" + "\n".join(lines) + "\n")
        master = MASTER_CF.format(port=f"127.0.0.1:{self.port}")
        (self.config_directory / "master.cf").write_text(master + "".join(line.rstrip("\n") + "\n" for line in self.master_lines))
        (d / PORT_FILE).write_text(f"{self.port}\n")

    def postconf(self, *args: str) -> str:
        """Runs `postconf -c CONF ARGS...` and returns its standard output."""
        proc = _run(["postconf", "-c", str(self.config_directory), *args])
        if proc.returncode != 0:
            raise PostfixError(f"postconf {' '.join(args)} failed: {proc.stderr.strip()}")
        return proc.stdout

    # -- life cycle --------------------------------------------------------

    def _postfix(self, command: str) -> subprocess.CompletedProcess:
        return _run(["postfix", "-c", str(self.config_directory), command])

    def _fail(self, what: str) -> PostfixError:
        tail = "\n".join(self.log_lines()[-15:])
        return PostfixError(f"{what} (config directory {self.directory})\n{tail}")

    def start(self) -> "PostfixInstance":
        """Writes the configuration, checks it and starts Postfix; returns once smtpd answers."""
        if os.geteuid() != 0:
            raise PostfixError("Postfix's master must be started by root")
        attempts = 1 if self._fixed_port else 3
        for attempt in range(attempts):
            self.write_config()
            check = self._postfix("check")
            if check.returncode != 0:
                raise self._fail(f"postfix check failed: {check.stderr.strip()}")
            started = self._postfix("start")
            if started.returncode != 0:
                self._kill_leftovers()
                if attempt + 1 < attempts and self._port_taken():
                    self.port = 0
                    continue
                raise self._fail(f"postfix start failed: {started.stderr.strip()}")
            self._master_pid = self._read_master_pid()
            if self._wait_for_greeting():
                return self
            self.stop(remove=False)
            if attempt + 1 < attempts and self._port_taken():
                self.port = 0  # another program took the port first: pick another
                continue
            raise self._fail(f"Postfix did not answer on 127.0.0.1:{self.port} within {self.start_timeout} s")
        raise self._fail("Postfix could not be started")

    def _port_taken(self) -> bool:
        return any("Address already in use" in line for line in self.log_lines())

    def _read_master_pid(self) -> Optional[int]:
        pid_file = self.directory / "queue" / "pid" / "master.pid"
        try:
            return int(pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def _master_alive(self) -> bool:
        pid = self._master_pid or self._read_master_pid()
        if pid is None:
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def _wait_for_greeting(self) -> bool:
        """Polls the port until this instance's smtpd sends its 220 greeting."""
        expected = f"220 {self.hostname} ESMTP".encode()
        for _ in _deadline_loop(self.start_timeout):
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
                    greeting = s.recv(512)
                    if greeting.startswith(expected):
                        s.sendall(b"QUIT\r\n")
                        return True
            except OSError:
                pass
            if self._master_pid is None:
                self._master_pid = self._read_master_pid()
            if self._master_pid is not None and not self._master_alive():
                return False
        return False

    def _instance_pids(self) -> list[int]:
        """Processes whose environment names this config directory (Postfix passes MAIL_CONFIG down)."""
        marker = f"MAIL_CONFIG={self.config_directory}".encode()
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                environ = (entry / "environ").read_bytes()
            except OSError:
                continue
            if marker in environ.split(b"\0"):
                pids.append(int(entry.name))
        return pids

    def _kill_leftovers(self) -> None:
        if self._master_pid is not None:
            try:
                os.killpg(self._master_pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        for pid in self._instance_pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def stop(self, remove: Optional[bool] = None) -> None:
        """Stops Postfix (orderly, then kills what is left); removes a temporary folder."""
        if self._master_pid is None:
            self._master_pid = self._read_master_pid()
        if self._master_alive():
            self._postfix("stop")
            for _ in _deadline_loop(STOP_TIMEOUT):
                if not self._master_alive():
                    break
        self._kill_leftovers()
        self._master_pid = None
        if remove if remove is not None else self._owns_directory:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> "PostfixInstance":
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- what tests look at ------------------------------------------------

    def smtp(self, helo: str = "client.example", timeout: float = 60.0) -> smtplib.SMTP:
        """An SMTP session with the instance, from 127.0.0.1 (EHLO `helo` on first command)."""
        return smtplib.SMTP("127.0.0.1", self.port, local_hostname=helo, timeout=timeout)

    def _message_files(self) -> list[Path]:
        files = []
        for sub in ("new", "cur"):
            folder = self.maildir / sub
            if folder.is_dir():
                files.extend(p for p in folder.iterdir() if p.is_file())
        # Maildir names start with the delivery time in seconds, then a
        # unique part; the file's mtime orders deliveries within a second.
        return sorted(files, key=lambda p: (p.stat().st_mtime_ns, p.name))

    def raw_messages(self) -> list[bytes]:
        """The messages delivered so far, as bytes with their headers, oldest first."""
        return [p.read_bytes() for p in self._message_files()]

    def messages(self) -> list[email.message.EmailMessage]:
        """The messages delivered so far, parsed, oldest first."""
        parser = email.parser.BytesParser(policy=email.policy.default)
        return [parser.parsebytes(raw) for raw in self.raw_messages()]  # type: ignore[misc]

    def wait_for_messages(self, count: int, timeout: float = WAIT_TIMEOUT) -> list[email.message.EmailMessage]:
        """Polls until at least `count` messages were delivered; returns them all."""
        for _ in _deadline_loop(timeout):
            if len(self._message_files()) >= count:
                return self.messages()
        raise self._fail(f"{count} message(s) were not delivered within {timeout} s")

    def wait_for_subjects(self, subjects: list[str], timeout: float = WAIT_TIMEOUT) -> list[email.message.EmailMessage]:
        """Polls until a message with each of `subjects` was delivered (a message
        to several recipients may arrive as several files, one at a time);
        returns every message delivered so far."""
        missing: set[str] = set(subjects)
        for _ in _deadline_loop(timeout):
            messages = self.messages()
            missing = set(subjects) - {str(m["Subject"]) for m in messages}
            if not missing:
                return messages
        raise self._fail(f"no message with subject {sorted(missing)} was delivered within {timeout} s")

    def log_lines(self) -> list[str]:
        """The instance's log (maillog_file) so far, one string per line."""
        try:
            return self.log_file.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return []

    def wait_for_log(self, text: str, timeout: float = WAIT_TIMEOUT) -> str:
        """Polls the log until a line contains `text`; returns that line."""
        for _ in _deadline_loop(timeout):
            for line in self.log_lines():
                if text in line:
                    return line
        raise self._fail(f"no log line with {text!r} within {timeout} s")


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Run a Postfix instance on loopback from a folder (for tests).")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("ensure-installed", help="install Debian's postfix if missing, without configuring its service")
    start = sub.add_parser("start", help="write DIR/conf/main.cf and master.cf, start Postfix, print the port")
    start.add_argument("directory")
    start.add_argument("--port", type=int)
    start.add_argument("--hostname", default=DEFAULT_HOSTNAME)
    start.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="a main.cf parameter")
    start.add_argument("--master", action="append", default=[], metavar="LINE", help="a master.cf line")
    stop = sub.add_parser("stop", help="stop the Postfix instance in DIR")
    stop.add_argument("directory")
    args = parser.parse_args(argv)

    if args.command == "ensure-installed":
        ensure_installed()
        return 0
    if args.command == "start":
        settings = {}
        for item in args.set:
            name, sep, value = item.partition("=")
            if not sep:
                parser.error(f"--set wants NAME=VALUE, got {item!r}")
            settings[name.strip()] = value.strip()
        instance = PostfixInstance(
            args.directory, settings=settings, master_lines=args.master, port=args.port, hostname=args.hostname
        )
        try:
            instance.start()
        except PostfixError as e:
            instance.stop(remove=False)
            print(f"postfix_instance: {e}", file=sys.stderr)
            return 1
        print(instance.port)
        return 0
    instance = PostfixInstance(args.directory)
    try:
        instance.port = int((instance.directory / PORT_FILE).read_text())
    except (OSError, ValueError):
        pass
    instance.stop(remove=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
