"""A throw-away Samba 4 AD domain controller for the AD connector tests.

``SambaDC.start()`` provisions a domain into a temporary directory, starts
``samba`` in the foreground (single process) on a free 127.0.0.x address, waits
for LDAPS, and seeds users, groups and a delegated service account. ``stop()``
kills the process and removes the directory. Nothing outside the directory is
touched, so parallel sessions each get their own DC.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from config.secrets import SecretRef
from connectors.ad.connector import ActiveDirectoryConnector
from connectors.ad.ldap import VerifyingTls
from connectors.ad.ldap3 import ldap3
from connectors.ad.settings import Settings
from connectors.ad.values import datetime_to_filetime, guid_to_str, sid_to_str

REALM = "TEST.LOCAL"
DOMAIN = "TEST"
DOMAIN_DN = "DC=test,DC=local"
HOST = "dc1"
SERVER_NAME = "dc1.test.local"  # the CN of Samba's self-signed certificate
ADMIN_PASSWORD = "Adm1n-" + secrets.token_hex(6) + "!Q"
SERVICE_PASSWORD = "Svc-" + secrets.token_hex(8) + "#Z"
USER_PASSWORD = "Us3r-Pass-2024!"
OU_DN = f"OU=Helpdesk,{DOMAIN_DN}"
PAGED_OU_DN = f"OU=Paged,{OU_DN}"
USERS_CN = f"CN=Users,{DOMAIN_DN}"
MAX_PWD_AGE = timedelta(days=30)
MIN_PWD_LENGTH = 10
PAGED_USERS = 8
SERVICE_ENV = "AD_TEST_BIND_PASSWORD"

# Raw write of pwdLastSet into the partition file: the DSA only accepts 0 or -1 for it,
# and tests need passwords that are weeks old. Runs under Samba's own Python.
_SET_PWD_LAST_SET = """
import sys, ldb
db = ldb.Ldb(url=sys.argv[1], options=["modules:"])
for pair in sys.argv[2:]:
    dn, value = pair.rsplit("|", 1)
    msg = ldb.Message()
    msg.dn = ldb.Dn(db, dn)
    msg["pwdLastSet"] = ldb.MessageElement(value, ldb.FLAG_MOD_REPLACE, "pwdLastSet")
    db.modify(msg)
"""


class SambaUnavailable(Exception):
    """Samba is not installed or cannot run here (the tests skip, or fail under CI)."""


@dataclass
class SeedUser:
    name: str
    dn: str
    email: str
    password: str


@dataclass
class SambaDC:
    """One running domain controller and helpers to seed and inspect it."""

    root: Path
    address: str = "127.0.0.1"
    process: subprocess.Popen[bytes] | None = None
    guids: dict[str, str] = field(default_factory=dict)
    seeded: dict[str, SeedUser] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    # -- paths ---------------------------------------------------------------
    @property
    def conf(self) -> Path:
        return self.root / "etc" / "smb.conf"

    @property
    def ca_file(self) -> Path:
        return self.root / "private" / "tls" / "ca.pem"

    @property
    def ldaps_url(self) -> str:
        return f"ldaps://{self.address}:636"

    @property
    def ldap_url(self) -> str:
        return f"ldap://{self.address}:389"

    # -- lifecycle -----------------------------------------------------------
    @classmethod
    def start(cls) -> SambaDC:
        for tool in ("samba-tool", "samba"):
            if shutil.which(tool) is None:
                raise SambaUnavailable(f"{tool} not found (run scripts/install-debs.sh samba)")
        if os.geteuid() != 0:
            raise SambaUnavailable("samba needs root to listen on ports 389/636")
        address = _free_loopback()
        dc = cls(Path(tempfile.mkdtemp(prefix="samba-ad-")), address)
        try:
            dc._provision()
            dc._launch()
            dc._seed()
        except BaseException:
            dc.stop()
            raise
        return dc

    def _tool(self, *args: str) -> str:
        cmd = ["samba-tool", *args, f"--configfile={self.conf}"]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:3])} failed: {done.stderr[-2000:]}")
        return done.stdout

    def _provision(self) -> None:
        t0 = time.monotonic()
        d = self.root
        options = {
            "interfaces": f"{self.address}/8",
            "bind interfaces only": "yes",
            "server services": "ldap",
            "pid directory": f"{d}/run",
            "ncalrpc dir": f"{d}/run/ncalrpc",
            "winbindd socket directory": f"{d}/run/winbindd",
            "log file": f"{d}/log/samba.log",
            "ldap server require strong auth": "yes",
        }
        cmd = [
            "samba-tool",
            "domain",
            "provision",
            f"--targetdir={d}",
            f"--realm={REALM}",
            f"--domain={DOMAIN}",
            "--server-role=dc",
            "--dns-backend=NONE",
            f"--adminpass={ADMIN_PASSWORD}",
            f"--host-name={HOST}",
            f"--host-ip={self.address}",
            *(f"--option={k} = {v}" for k, v in options.items()),
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"samba-tool domain provision failed: {done.stderr[-3000:]}")
        self._tool(
            "domain",
            "passwordsettings",
            "set",
            "--max-pwd-age=30",
            "--min-pwd-age=0",
            f"--min-pwd-length={MIN_PWD_LENGTH}",
            "--complexity=on",
            "--account-lockout-threshold=3",
            "--account-lockout-duration=30",
            "--reset-account-lockout-after=30",
        )
        self.timings["provision"] = time.monotonic() - t0

    def _launch(self) -> None:
        t0 = time.monotonic()
        with (self.root / "samba.out").open("wb") as log:  # the child keeps its own copy
            self.process = subprocess.Popen(
                ["samba", f"--configfile={self.conf}", "-i", "-M", "single"],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"samba exited early: {self.log_tail()}")
            if self.ca_file.exists() and _tls_ready(self.address, self.ca_file):
                self.timings["start"] = time.monotonic() - t0
                return
            time.sleep(0.1)
        raise RuntimeError(f"samba did not answer on {self.ldaps_url}: {self.log_tail()}")

    def log_tail(self) -> str:
        path = self.root / "samba.out"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.process = None
        shutil.rmtree(self.root, ignore_errors=True)

    # -- LDAP as Administrator -------------------------------------------------
    def admin(self) -> Any:
        tls = VerifyingTls(ca_file=str(self.ca_file), server_name=SERVER_NAME, verify=True)
        server = ldap3.Server(self.address, port=636, use_ssl=True, tls=tls, get_info=ldap3.NONE)
        conn = ldap3.Connection(
            server,
            f"Administrator@{REALM.lower()}",
            ADMIN_PASSWORD,
            client_strategy=ldap3.SAFE_SYNC,
            auto_referrals=False,
            raise_exceptions=False,
        )
        ok, result, _, _ = conn.bind()
        assert ok, result
        return conn

    def try_bind(self, login: str, password: str) -> dict[str, Any]:
        """Bind as someone over LDAPS; the LDAP result (``description``, ``message``)."""
        tls = VerifyingTls(ca_file=str(self.ca_file), server_name=SERVER_NAME, verify=True)
        server = ldap3.Server(self.address, port=636, use_ssl=True, tls=tls, get_info=ldap3.NONE)
        conn = ldap3.Connection(
            server, login, password, client_strategy=ldap3.SAFE_SYNC, raise_exceptions=False
        )
        try:
            _, result, _, _ = conn.bind()
            return dict(result)
        finally:
            conn.unbind()

    def lock_out(self, login: str) -> None:
        """Lock an account for real: threshold (3) wrong passwords."""
        for _ in range(3):
            result = self.try_bind(login, "not-the-password-" + secrets.token_hex(4))
            assert result["description"] == "invalidCredentials", result

    def search_one(self, dn: str, *attrs: str) -> dict[str, list[bytes]]:
        conn = self.admin()
        try:
            ok, result, response, _ = conn.search(
                dn, "(objectClass=*)", ldap3.BASE, attributes=list(attrs)
            )
            assert ok, result
            return dict(response[0]["raw_attributes"])
        finally:
            conn.unbind()

    def _must(self, outcome: tuple[Any, ...]) -> None:
        ok, result = outcome[0], outcome[1]
        assert ok, result

    def add_user(
        self,
        name: str,
        *,
        ou: str = OU_DN,
        mail: str | None = None,
        password: str = USER_PASSWORD,
        uac: int = 0x200,
        display_name: str | None = None,
        conn: Any = None,
    ) -> SeedUser:
        own = conn is None
        conn = conn or self.admin()
        dn = f"CN={name},{ou}"
        email = mail if mail is not None else f"{name}@test.local"
        try:
            self._must(
                conn.add(
                    dn,
                    ["top", "person", "organizationalPerson", "user"],
                    {
                        "sAMAccountName": name,
                        "userPrincipalName": f"{name}@test.local",
                        "mail": email,
                        "displayName": display_name or name.replace("-", " ").title(),
                        "unicodePwd": f'"{password}"'.encode("utf-16-le"),
                        "userAccountControl": str(uac),
                    },
                )
            )
        finally:
            if own:
                conn.unbind()
        return SeedUser(name, dn, email, password)

    def make_user(self, prefix: str = "user", **kwargs: Any) -> SeedUser:
        """A user with a unique name, for a test that mutates it."""
        return self.add_user(f"{prefix}-{secrets.token_hex(3)}", **kwargs)

    def add_group(self, name: str, ou: str = OU_DN, conn: Any = None) -> str:
        own = conn is None
        conn = conn or self.admin()
        dn = f"CN={name},{ou}"
        try:
            self._must(conn.add(dn, ["top", "group"], {"sAMAccountName": name}))
        finally:
            if own:
                conn.unbind()
        return dn

    def add_member(self, group_dn: str, member_dn: str, conn: Any = None) -> None:
        own = conn is None
        conn = conn or self.admin()
        try:
            self._must(conn.modify(group_dn, {"member": [(ldap3.MODIFY_ADD, [member_dn])]}))
        finally:
            if own:
                conn.unbind()

    def modify(self, dn: str, changes: dict[str, Any]) -> None:
        conn = self.admin()
        try:
            self._must(conn.modify(dn, changes))
        finally:
            conn.unbind()

    def set_password_age(self, ages: dict[str, timedelta]) -> dict[str, int]:
        """Move pwdLastSet of each DN back by its age; returns the FILETIMEs written."""
        now = datetime.now(UTC)
        values = {dn: datetime_to_filetime(now - age) for dn, age in ages.items()}
        partition = next((self.root / "private" / "sam.ldb.d").glob("DC=*.ldb"))
        python = _samba_python()
        args = [f"{dn}|{value}" for dn, value in values.items()]
        done = subprocess.run(
            [python, "-c", _SET_PWD_LAST_SET, str(partition), *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"setting pwdLastSet failed: {done.stderr[-2000:]}")
        return values

    # -- seed ------------------------------------------------------------------
    def _schema_guid(self, conn: Any, display_name: str) -> str:
        ok, result, response, _ = conn.search(
            f"CN=Schema,CN=Configuration,{DOMAIN_DN}",
            f"(lDAPDisplayName={display_name})",
            attributes=["schemaIDGUID"],
        )
        assert ok and response, result
        return guid_to_str(response[0]["raw_attributes"]["schemaIDGUID"][0])

    def _right_guid(self, conn: Any, cn: str) -> str:
        ok, result, response, _ = conn.search(
            f"CN=Extended-Rights,CN=Configuration,{DOMAIN_DN}",
            f"(cn={cn})",
            attributes=["rightsGuid"],
        )
        assert ok and response, result
        return str(response[0]["raw_attributes"]["rightsGuid"][0].decode())

    def _seed(self) -> None:
        t0 = time.monotonic()
        conn = self.admin()
        try:
            self._must(conn.add(OU_DN, ["top", "organizationalUnit"]))
            self._must(conn.add(PAGED_OU_DN, ["top", "organizationalUnit"]))
            svc = self.add_user(
                "svc-helpdesk",
                ou=USERS_CN,
                password=SERVICE_PASSWORD,
                conn=conn,
                uac=0x200 | 0x10000,
            )
            self.seeded["svc"] = svc
            # Ordinary members and groups live in the delegated OU.
            self.add_group("figma-editors", conn=conn)
            it_admins = self.add_group("it-admins", ou=USERS_CN, conn=conn)
            tier0 = self.add_group("tier0-ops", conn=conn)
            self.add_member(it_admins, tier0, conn=conn)
            self.add_group("strict-passwords", conn=conn)
            # The directory admin: Domain Admins and adminCount=1 (what SDProp sets on AD).
            root = self.add_user("root-admin", ou=USERS_CN, mail="root@test.local", conn=conn)
            self.add_member(f"CN=Domain Admins,{USERS_CN}", root.dn, conn=conn)
            self._must(conn.modify(root.dn, {"adminCount": [(ldap3.MODIFY_REPLACE, ["1"])]}))
            self.seeded["root"] = root
            # Protected accounts inside the delegated OU: AD itself would let the service
            # account reset them, so only the connector's own check stops it.
            guard = self.add_user("guard", conn=conn)
            self.add_member(tier0, guard.dn, conn=conn)
            self.seeded["guard"] = guard
            shadow = self.add_user("shadow-admin", conn=conn)
            self._must(conn.modify(shadow.dn, {"adminCount": [(ldap3.MODIFY_REPLACE, ["1"])]}))
            self.seeded["shadow"] = shadow
            # Expiry fixtures.
            self.seeded["soon"] = self.add_user("soon", conn=conn)
            self.seeded["forever"] = self.add_user("forever", uac=0x200 | 0x10000, conn=conn)
            self.seeded["disabled-old"] = self.add_user("disabled-old", uac=0x202, conn=conn)
            paged = [
                self.add_user(f"paged-{i:02d}", ou=PAGED_OU_DN, conn=conn)
                for i in range(PAGED_USERS)
            ]
            # Delegation: the service account may reset passwords, write pwdLastSet,
            # lockoutTime and userAccountControl (to disable an account reported as taken
            # over) on users in the OU, and write member on its groups. Nothing else.
            g = {
                "user": self._schema_guid(conn, "user"),
                "group": self._schema_guid(conn, "group"),
                "pwdLastSet": self._schema_guid(conn, "pwdLastSet"),
                "lockoutTime": self._schema_guid(conn, "lockoutTime"),
                "userAccountControl": self._schema_guid(conn, "userAccountControl"),
                "member": self._schema_guid(conn, "member"),
                "reset": self._right_guid(conn, "User-Force-Change-Password"),
            }
            self.guids = g
            ok, result, response, _ = conn.search(
                svc.dn, "(objectClass=*)", ldap3.BASE, attributes=["objectSid"]
            )
            assert ok, result
            sid = sid_to_str(response[0]["raw_attributes"]["objectSid"][0])
        finally:
            conn.unbind()
        aces = (
            f"(OA;CI;CR;{g['reset']};{g['user']};{sid})"
            f"(OA;CI;WP;{g['pwdLastSet']};{g['user']};{sid})"
            f"(OA;CI;WP;{g['lockoutTime']};{g['user']};{sid})"
            f"(OA;CI;WP;{g['userAccountControl']};{g['user']};{sid})"
            f"(OA;CI;WP;{g['member']};{g['group']};{sid})"
        )
        self._tool("dsacl", "set", f"--objectdn={OU_DN}", f"--sddl={aces}")
        # A fine-grained policy stricter than the domain, for the policy-refusal test.
        self._tool(
            "domain",
            "passwordsettings",
            "pso",
            "create",
            "strict-pso",
            "1",
            "--min-pwd-length=64",
            "--complexity=on",
        )
        self._tool("domain", "passwordsettings", "pso", "apply", "strict-pso", "strict-passwords")
        ages = {
            self.seeded["soon"].dn: timedelta(days=27),
            self.seeded["forever"].dn: timedelta(days=40),
            self.seeded["disabled-old"].dn: timedelta(days=29),
        }
        ages.update({u.dn: timedelta(days=28) for u in paged})
        self.set_password_age(ages)
        self.seeded.update({u.name: u for u in paged})
        self.timings["seed"] = time.monotonic() - t0

    # -- connectors ------------------------------------------------------------
    def settings(self, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "urls": [self.ldaps_url],
            "base_dn": DOMAIN_DN,
            "bind_dn": self.seeded["svc"].dn,
            "bind_password": {"env": SERVICE_ENV},
            "ca_file": str(self.ca_file),
            "tls_server_name": SERVER_NAME,
            "protected_groups": ["Domain Admins", "it-admins"],
            "connect_timeout": 3,
            "operation_timeout": 10,
        }
        values.update(overrides)
        return Settings.model_validate(values)

    def connector(
        self, name: str = "ad", *, password: str = SERVICE_PASSWORD, **overrides: Any
    ) -> ActiveDirectoryConnector:
        settings = self.settings(**overrides)
        secret = SecretRef(env=SERVICE_ENV).resolve({SERVICE_ENV: password})
        return ActiveDirectoryConnector(name, settings, secret)


def _samba_python() -> str:
    """The interpreter samba-tool runs under (it has Samba's ``ldb`` bindings)."""
    tool = shutil.which("samba-tool")
    assert tool is not None
    first = Path(tool).read_text(errors="replace").splitlines()[0]
    interpreter = first.removeprefix("#!").strip().split()[0]
    return interpreter if Path(interpreter).exists() else "python3"


def _port_open(address: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((address, port)) == 0


def _free_loopback() -> str:
    """A 127.0.0.x address with nothing on 389/636, so parallel sessions do not collide."""
    start = 2 + secrets.randbelow(200)
    for offset in range(250):
        address = f"127.0.0.{2 + (start + offset) % 250}"
        if not (_port_open(address, 636) or _port_open(address, 389)):
            return address
    raise SambaUnavailable("no free 127.0.0.x address for the test DC")


def _tls_ready(address: str, ca_file: Path) -> bool:
    context = ssl.create_default_context(cafile=str(ca_file))
    try:
        with (
            socket.create_connection((address, 636), timeout=1) as raw,
            context.wrap_socket(raw, server_hostname=SERVER_NAME),
        ):
            return True
    except (OSError, ssl.SSLError):
        return False
