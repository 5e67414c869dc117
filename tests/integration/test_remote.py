"""Share results through a DVC remote: push, a colleague's fresh clone pulls, nothing recomputes."""

import shutil
import subprocess

import pytest

from conftest import Repo

pytestmark = pytest.mark.integration


def round_trip(repo: Repo, tmp_path) -> Repo:
    """Commit and push ``repo``, clone it fresh, pull; returns the clone."""
    repo.commit("results")
    repo.dvc("push")
    clone_dir = tmp_path / "colleague"
    repo.run("git", "clone", "-q", str(repo.path), str(clone_dir))
    clone = Repo(clone_dir, repo.env)
    for rel in (".dvc/config.local",):
        if (repo.path / rel).exists():
            shutil.copy(repo.path / rel, clone_dir / rel)
    assert not (clone_dir / "models/siamese.pt").exists()
    clone.dvc("pull")
    assert clone.status() == {}
    out = clone.dvc("repro").stdout
    assert "Running stage" not in out, out
    return clone


def test_local_remote_round_trip_as_the_readme_sets_it_up(pipeline_repo, tmp_path):
    repo = pipeline_repo.copy(tmp_path / "work" / "repo")
    assert repo.dvc("remote", "list").stdout.strip() == ""  # no default remote that exists beside one checkout only
    remote = tmp_path / "dvc-remote"
    repo.dvc("remote", "add", "-d", "storage", str(remote))
    clone = round_trip(repo, tmp_path / "work")
    assert (clone.path / "models/siamese.pt").read_bytes() == (repo.path / "models/siamese.pt").read_bytes()

    # a second colleague fetches only what a stage needs: nothing reruns, missing data stays remote
    lazy_dir = tmp_path / "work" / "lazy"
    repo.run("git", "clone", "-q", str(repo.path), str(lazy_dir))
    lazy = Repo(lazy_dir, repo.env)
    out = lazy.dvc("repro", "--pull", "--allow-missing").stdout
    assert "Running stage" not in out, out

    # the model registry's view: a registered version of an artifact downloads from the remote by name
    repo.git("tag", "-a", "siamese@v0.1.0", "-m", "Registering artifact siamese version 0.1.0")
    got = tmp_path / "got.pt"
    repo.dvc("artifacts", "get", str(repo.path), "siamese", "-o", str(got))
    assert got.read_bytes() == (repo.path / "models/siamese.pt").read_bytes()


def test_experiment_push_and_pull(pipeline_repo, tmp_path):
    repo = pipeline_repo.copy(tmp_path / "repo")
    repo.dvc("remote", "add", "-d", "storage", str(tmp_path / "dvc-remote"))
    repo.commit("baseline")
    repo.dvc("push")
    upstream = tmp_path / "upstream.git"
    repo.run("git", "clone", "-q", "--bare", str(repo.path), str(upstream))
    repo.git("remote", "add", "origin", str(upstream))
    repo.dvc("exp", "run", "-n", "knn3", "-S", "evaluate.knn_k=3")
    repo.dvc("exp", "push", "origin", "knn3")

    clone_dir = tmp_path / "colleague"
    repo.run("git", "clone", "-q", str(upstream), str(clone_dir))
    clone = Repo(clone_dir, repo.env)
    clone.dvc("exp", "pull", "origin", "knn3")
    clone.dvc("exp", "apply", "knn3")
    assert "knn_k: 3" in (clone_dir / "params.yaml").read_text()
    assert clone.status() == {}  # the experiment's outputs came from the remote: nothing to rerun


@pytest.fixture
def sshd(tmp_path):
    """A real OpenSSH server on 127.0.0.1 with keys made on the spot; yields (url, keyfile, home)."""
    import getpass
    import socket
    import time
    from pathlib import Path

    sshd_bin = shutil.which("sshd") or ("/usr/sbin/sshd" if Path("/usr/sbin/sshd").exists() else None)
    if not sshd_bin or not shutil.which("ssh-keygen"):
        pytest.skip("OpenSSH server not installed (Debian: apt-get install openssh-server)")
    d = tmp_path / "sshd"
    d.mkdir()
    for name in ("host_key", "user_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / name)], check=True)
    shutil.copy(d / "user_key.pub", d / "authorized_keys")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (d / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {d / 'host_key'}\nAuthorizedKeysFile {d / 'authorized_keys'}\n"
        f"PidFile {d / 'sshd.pid'}\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "PubkeyAuthentication yes\nStrictModes no\nUsePAM no\nPermitRootLogin prohibit-password\n"
        "Subsystem sftp internal-sftp\n")
    Path("/run/sshd").mkdir(exist_ok=True)  # privilege-separation directory sshd insists on
    proc = subprocess.Popen([sshd_bin, "-D", "-e", "-f", str(d / "sshd_config")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    host_pub = (d / "host_key.pub").read_text().split()
    (home / ".ssh/known_hosts").write_text(f"[127.0.0.1]:{port} {host_pub[0]} {host_pub[1]}\n")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"sshd exited: {proc.stderr.read()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    try:
        yield f"ssh://{getpass.getuser()}@127.0.0.1:{port}{tmp_path / 'ssh-remote'}", d / "user_key", home
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_ssh_remote_round_trip(pipeline_repo, tmp_path, sshd):
    url, keyfile, home = sshd
    repo = pipeline_repo.copy(tmp_path / "repo")
    repo.env = {**repo.env, "HOME": str(home)}  # known_hosts holds the test server's host key
    repo.dvc("remote", "add", "-d", "-f", "ssh", url)
    repo.dvc("remote", "modify", "--local", "ssh", "keyfile", str(keyfile))  # credentials stay out of git
    clone = round_trip(repo, tmp_path)
    assert "keyfile" not in (clone.path / ".dvc/config").read_text()
    assert any((tmp_path / "ssh-remote").rglob("*")), "nothing was pushed over SSH"
