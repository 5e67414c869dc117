"""Outputs that went bad unnoticed by DVC: `verify` rehashes them, `compare` refuses what does not match the lock."""

import os
import subprocess

import pytest
import yaml

pytestmark = pytest.mark.integration


def lock_md5(repo, path: str) -> str:
    lock = yaml.safe_load((repo.path / "dvc.lock").read_text())
    return next(o["md5"] for s in lock["stages"].values() for o in s.get("outs", []) if o["path"] == path)


@pytest.fixture
def command(monkeypatch, capfd):
    """command(repo, *args) -> (rc, stdout, stderr) of `python -m siamese_mnist ARGS` run in ``repo``, in this
    process (each interpreter start-up with torch costs seconds)."""
    from siamese_mnist.__main__ import main

    def run(repo, *args):
        monkeypatch.chdir(repo.path)
        capfd.readouterr()
        rc = main(list(args))
        out, err = capfd.readouterr()
        return subprocess.CompletedProcess(args, rc, out, err)

    return run


def test_a_flipped_byte_in_the_cache_is_found_by_verify_and_refused_by_compare(pipeline_repo, tmp_path, command):
    repo = pipeline_repo.copy(tmp_path / "repo")
    ok = command(repo, "verify", "-q")
    assert ok.returncode == 0 and ok.stdout.endswith(" 0 mismatches\n"), ok.stdout + ok.stderr
    assert "0 not here" in ok.stdout, ok.stdout  # everything reproduced is hashed, nothing skipped

    # the probe names the run it was fitted on, through the lock: another model's is refused
    right = command(repo, "compare", "0", "1")
    assert right.returncode == 0 and "note:" not in right.stdout, right.stdout + right.stderr
    wrong = command(repo, "compare", "0", "1", "--probe", "models/cnn_probe.json")
    assert (wrong.returncode, wrong.stdout) == (2, "")
    assert wrong.stderr == ("error: models/cnn_probe.json: fitted on models/cnn.pt, not on models/siamese.pt; "
                            "give that model's own probe (or none)\n")

    # one flipped byte in the cache object, as bit rot flips one (the mtime kept): DVC checks it out, and says
    # all is well
    md5 = lock_md5(repo, "models/siamese.pt")
    obj = repo.path / ".dvc/cache/files/md5" / md5[:2] / md5[2:]
    data, st = bytearray(obj.read_bytes()), obj.stat()
    data[len(data) // 2] ^= 0x01
    obj.chmod(0o644)
    with open(obj, "r+b") as f:  # in place: the same inode
        f.write(bytes(data))
    os.utime(obj, ns=(st.st_atime_ns, st.st_mtime_ns))
    obj.chmod(st.st_mode)
    (repo.path / "models/siamese.pt").unlink()
    repo.dvc("checkout", "models/siamese.pt")
    assert (repo.path / "models/siamese.pt").read_bytes() == bytes(data)
    assert repo.status() == {}  # DVC's behaviour (treeverse/dvc#5978): nothing says the file is not the recorded one

    bad = command(repo, "verify", "-q")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    lines = bad.stdout.splitlines()
    assert lines[0].startswith(f"models/siamese.pt (cache object .dvc/cache/files/md5/{md5[:2]}/{md5[2:]}): "
                               f"cache object has md5 ")
    assert lines[0].endswith(f", the record says {md5}: remove it, then `dvc pull` or `dvc repro` brings a good one")
    assert lines[1].startswith("models/siamese.pt: workspace copy has md5 ") and lines[1].endswith(
        f", the record says {md5}: `dvc checkout` restores the recorded one, `dvc commit` records this one")
    assert lines[2].endswith(" 0 not here (neither pulled nor checked out); 2 mismatches") and len(lines) == 3

    refused = command(repo, "compare", "0", "1")
    assert (refused.returncode, refused.stdout) == (2, "")
    assert refused.stderr.startswith("error: models/siamese.pt: md5 ") and refused.stderr.endswith(
        f" is not the {md5} that dvc.lock records (dvc.lock, stage train@siamese): changed or corrupt; "
        "`python -m siamese_mnist verify` rehashes every output\n"), refused.stderr
