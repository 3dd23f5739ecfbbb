"""A cluster on a network address, without starting it: credentials are generated,
kept 0600 and never on a command line; each server's refusal is named; a credentials
file missing a key says which; worker SSH keys may only speak SFTP."""
from __future__ import annotations

import http.server
import json
import shutil
import threading
from dataclasses import replace

import pytest

from flows.cluster import auth, remote, services, ssh
from flows.cluster import config as cfg


@pytest.fixture
def secured(tmp_path, monkeypatch):
    monkeypatch.setenv("GNN_CLUSTER_DIR", str(tmp_path / "cluster"))
    monkeypatch.setenv("GNN_CLUSTER_BIND", "10.11.12.13")
    config = cfg.new_config()
    cfg.save(config)
    return config


def test_a_network_address_turns_on_credentials_and_keeps_them_off_command_lines(secured):
    assert secured.secured and secured.prefect_api == "http://10.11.12.13:4300/api"
    secrets = [secured.password, secured.prefect_auth, secured.mlflow_admin_password, secured.flask_secret]
    assert all(len(s) >= 24 for s in secrets) and len(set(secrets)) == 4
    prefect, mlflow = [s for s in services.servers(secured) if s.name in ("prefect-server", "mlflow-server")]
    assert prefect.env["PREFECT_SERVER_API_AUTH_STRING"] == secured.prefect_auth
    assert "basic-auth" in mlflow.cmd and (secured.root / "mlflow-auth.ini").stat().st_mode & 0o077 == 0
    assert secured.mlflow_admin_password in (secured.root / "mlflow-auth.ini").read_text()
    for service in services.all_services(secured):  # `ps` shows every user the command lines
        assert not [s for s in secrets if s in " ".join(service.cmd)], service.name
    assert "10.11.12.13" in " ".join(prefect.cmd) and prefect.host == "10.11.12.13"


def test_loopback_stays_open_and_cannot_invite(tmp_path, monkeypatch):
    monkeypatch.setenv("GNN_CLUSTER_DIR", str(tmp_path / "cluster"))
    config = cfg.new_config()
    assert not config.secured and "sshd" not in [s.name for s in services.servers(config)]
    assert "PREFECT_SERVER_API_AUTH_STRING" not in services.servers(config)[1].env
    with pytest.raises(cfg.ClusterError, match="listens on 127.0.0.1 only.*GNN_CLUSTER_BIND"):
        remote.invite(config, "w1")


def test_ipv6_addresses_go_into_urls_in_brackets(secured):
    config = replace(secured, bind="fd00::5")
    assert config.secured and config.mlflow_uri == "http://[fd00::5]:5300"


def test_credentials_files_are_private_and_a_missing_key_is_named(tmp_path, secured):
    path = tmp_path / "w1.json"
    creds = replace(auth.admin_credentials(secured, "w1"), mlflow_user="w1", mlflow_password="pw")
    creds.save(path)
    assert path.stat().st_mode & 0o777 == 0o600 and auth.Credentials.load(path) == creds
    assert creds.client_env()["MLFLOW_TRACKING_USERNAME"] == "w1"
    raw = json.loads(path.read_text())
    del raw["prefect_auth"]
    path.write_text(json.dumps(raw))
    with pytest.raises(cfg.ClusterError, match=r"w1.json: missing key\(s\) prefect_auth"):
        auth.Credentials.load(path)
    path.write_text("{not json")
    with pytest.raises(cfg.ClusterError, match="w1.json is not a credentials file"):
        auth.Credentials.load(path)
    with pytest.raises(cfg.ClusterError, match="no credentials file .*invite NAME"):
        auth.Credentials.load(tmp_path / "absent.json")


class _Refuses(http.server.BaseHTTPRequestHandler):
    """Answers 401 to everything, as a server with the wrong credentials does."""

    def _refuse(self):
        self.send_response(401, "Unauthorized")
        self.end_headers()

    do_GET = do_POST = _refuse

    def log_message(self, *args):
        pass


@pytest.fixture
def refusing_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Refuses)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_the_invite_message_names_its_credentials_file_for_scripts(tmp_path):
    path = tmp_path / "state dir" / "credentials" / "gpu-1.json"  # a space in the path too
    message = remote.invited_message("gpu-1", path)
    assert remote.credentials_in(f"noise before\n{message}\n") == path
    assert "join gpu-1.json" in message


def test_a_refusal_names_the_server_and_where_the_credentials_came_from(secured, refusing_server):
    creds = replace(auth.admin_credentials(secured), prefect_api=f"{refusing_server}/api", prefect_auth="")
    with pytest.raises(cfg.ClusterError, match=rf"the Prefect server at {refusing_server}/api refused the "
                                               r"credentials \(HTTP 401 Unauthorized\): none were given; check w.json"):
        auth.check_credentials(creds, "w.json")


def test_worker_keys_may_only_speak_sftp_and_a_second_invite_replaces_the_key(secured):
    if not shutil.which("ssh-keygen"):
        pytest.skip("ssh-keygen not installed (make test installs openssh-server)")
    ssh.prepare(secured)
    first = ssh.new_client_key(secured, "w1")
    second = ssh.new_client_key(secured, "w1")
    ssh.new_client_key(secured, "w2")
    assert "PRIVATE KEY" in first and first != second
    lines = (ssh.ssh_dir(secured) / "authorized_keys").read_text().splitlines()
    assert len(lines) == 2 and all(line.startswith("restrict ssh-ed25519 ") for line in lines)
    config = (ssh.ssh_dir(secured) / "sshd_config").read_text()
    assert "ForceCommand internal-sftp" in config and "PasswordAuthentication no" in config
    assert ssh.known_hosts_line(secured).startswith("[10.11.12.13]:2222 ssh-ed25519 ")
    assert ssh.remote_url(secured).endswith(f"@10.11.12.13:2222{secured.dvc_remote}")
    assert not list(ssh.ssh_dir(secured).glob("client-*"))  # private halves live only in credentials files
