"""What makes a run a replicate of another, read from its dvc.lock: the params and code of the stages whose outputs
the reports read (:func:`identity`), and the value a param took (:func:`lock_values`) — a param recorded as named
(``data.holdout_classes``, listed alone in dvc.yaml) or inside a section a stage records whole (``cnn.rotations``)."""

from __future__ import annotations

# The stages whose outputs the reports read: a change to another one (the plots) orphans no replicate.
# baselines: the Omniglot pipeline's (omniglot/dvc.yaml, whose code deps are ../src/, ../stages/).
RESULT_STAGES = {"download", "sample", "train", "evaluate", "baseline_pixels", "baselines"}
CODE = ("src/", "stages/", "../src/", "../stages/")


def identity(lock: dict, stages: set[str], vary: tuple[str, ...] = ()) -> dict:
    """What makes a run a replicate, from its dvc.lock: per pipeline stage whose outputs the reports read
    (``stages``: the stage names of ``dvc.yaml``, within RESULT_STAGES; ``train@cnn`` counts as ``train``), the
    params it ran with but ``seed`` and those in ``vary``, and the hash of every ``src/`` and ``stages/`` file it
    depends on. Entries of stages no longer in the pipeline are ignored."""
    out = {}
    for name, stage in lock.get("stages", {}).items():
        if name.split("@")[0] not in stages & RESULT_STAGES:
            continue
        params = {k: v for f in stage.get("params", {}).values() for k, v in f.items() if k != "seed"}
        for key in vary:
            params = _without(params, key)
        code = {d["path"]: d.get("md5") for d in stage.get("deps", []) if d["path"].startswith(CODE)}
        out[name] = {"params": params, "code": code}
    return out


def without(ident: dict, vary: dict) -> tuple[dict, list[tuple[str, str, object]]]:
    """(``ident``, an identity() as a replicate file records it, without the params of ``vary`` ({param: value}),
    the (stage, param, value) it records at another value than ``vary``'s): a file written for one arm read as
    another's that also sets a param the file's arm left as it was (small1's runs, Siamese rotations off)."""
    out, clashes = {}, []
    for name, rec in ident.items():
        params = rec["params"]
        for key, want in vary.items():
            d, k = _section(params, key)
            if k in d and d[k] != want:
                clashes.append((name, key, d[k]))
            params = _without(params, key)
        out[name] = {**rec, "params": params}
    return out, clashes


def _section(params: dict, key: str) -> tuple[dict, str]:
    """(the dict that records param ``key``, its name there): ``params`` where it is recorded as named
    (``data.holdout_classes``, listed alone in dvc.yaml), else the section recorded whole (``cnn.rotations``)."""
    head, _, rest = key.partition(".")
    if key in params or not rest or not isinstance(params.get(head), dict):
        return params, key
    return _section(params[head], rest)


def _without(params: dict, key: str) -> dict:
    """A copy of ``params`` without param ``key`` (the sections on its path copied too)."""
    if _section(params, key)[0] is params:
        return {k: v for k, v in params.items() if k != key}
    head = key.partition(".")[0]
    return {**params, head: _without(params[head], key.partition(".")[2])}


def lock_values(lock: dict, key: str) -> list:
    """Every value ``key`` (``data.holdout_classes``, ``cnn.rotations``) has in the stages that record it."""
    return [d[k] for stage in lock.get("stages", {}).values() for f in stage.get("params", {}).values()
            for d, k in [_section(f, key)] if k in d]
