"""Break the code on purpose, one breakage at a time, and check that the test suite notices.

    python tools/breakages.py            # every breakage below; prints a table, exits 1 if any is missed
    python tools/breakages.py --list     # the breakages, without running anything
    python tools/breakages.py -k detach  # only those whose name contains "detach"

Each breakage replaces one exact snippet of the code (it must occur exactly once, so the list cannot go
stale silently) in a scratch copy of the checkout, then runs the tests named for it there; the
breakage is *caught* when they fail. The tests named are the ones meant to guard that code: if they
catch it, the whole suite does. First, as a control, each set of tests runs on an unbroken copy and
must pass. The checkout itself is never modified.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COPY = ["src", "stages", "tests", "tools", "benchmarks", "run.sh", "data/images", "params.yaml", "search.yaml", "dvc.yaml", "pyproject.toml", ".gitignore",
        "omniglot/params.yaml", "omniglot/dvc.yaml", "omniglot/search.yaml",
        ".dvcignore", ".dvc/config", ".dvc/plots", "metrics/search.json"]  # search.json: test_config checks params.yaml against it
UNIT = ["tests", "--ignore=tests/integration"]


@dataclass(frozen=True)
class Breakage:
    name: str
    path: str  # file to edit, relative to the checkout
    old: str  # exact snippet, present exactly once
    new: str
    tests: tuple[str, ...] = tuple(UNIT)  # pytest arguments: the tests that must catch it


BREAKAGES = [
    Breakage("no optimiser step", "src/siamese_mnist/training.py",
             "            opt.step()\n", "            pass  # opt.step()\n", ("tests/pipeline/test_learning.py",)),
    Breakage("contrastive negative term detached", "src/siamese_mnist/losses.py",
             "(margin - d).clamp_min(0)", "(margin - d.detach()).clamp_min(0)",
             ("tests/test_losses.py", "tests/pipeline/test_learning.py")),
    Breakage("contrastive targets inverted", "src/siamese_mnist/losses.py",
             "    y = same.to(a.dtype)\n", "    y = 1 - same.to(a.dtype)\n",
             ("tests/test_losses.py", "tests/pipeline/test_learning.py")),
    Breakage("pair targets misaligned with the pairs", "src/siamese_mnist/models.py",
             'return {"items": items, "targets": same}', 'return {"items": items, "targets": np.roll(same, 1, axis=1)}',
             ("tests/pipeline/test_learning.py",)),
    Breakage("triplet positive and negative swapped", "src/siamese_mnist/losses.py",
             "(pair_distance(a, p) - pair_distance(a, n) + margin)", "(pair_distance(a, n) - pair_distance(a, p) + margin)",
             ("tests/test_losses.py", "tests/pipeline/test_learning.py")),
    Breakage("CNN targets misaligned with the images", "src/siamese_mnist/models.py",
             "labels[:, 0].long()", "labels[:, 0].roll(1).long()", ("tests/pipeline/test_learning.py",)),
    Breakage("hardest mining falls back to the given negatives", "src/siamese_mnist/losses.py",
             'if mining == "none":', 'if mining in ("none", "hardest"):', ("tests/test_losses.py",)),
    Breakage("semihard mining takes the hardest negative", "src/siamese_mnist/losses.py",
             "    if mining == \"hardest\":\n        return hardest\n", "    return hardest\n",
             ("tests/test_losses.py",)),
    Breakage("negative pairs anchored uniformly over images (not class-balanced)", "src/siamese_mnist/pairs.py",
             "    neg_cls = _spread_classes(len(classes), n_neg, rng)\n",
             "    neg_cls = np.searchsorted(classes, labels[rng.integers(0, len(labels), n_neg)])\n",
             ("tests/test_pairs.py",)),
    Breakage("validation images left in the training split", "src/siamese_mnist/datasets/splits.py",
             "    keep[val] = False\n", "", ("tests/datasets/test_splits.py",)),
    Breakage("probe fitted on the validation embeddings", "src/siamese_mnist/probe.py",
             "        pipe = fit_logreg(fit, fit_labels, c)\n", "        pipe = fit_logreg(val, val_labels, c)\n",
             ("tests/test_probe.py", "tests/test_evaluation.py")),
    Breakage("probe fitted on whatever BLAS threads the caller allows", "src/siamese_mnist/probe.py",
             'with threadpool_limits(1, user_api="blas"):', 'with threadpool_limits(None, user_api="blas"):',
             ("tests/test_probe.py",)),
    Breakage("evaluate stage ignores SIAMESE_MNIST_THREADS", "stages/evaluate.py",
             "threads = set_threads(machine_settings()[1])", "threads = set_threads(0)",
             ("tests/pipeline/test_evaluate_stage.py",)),
    Breakage("probe's C chosen on the test split", "src/siamese_mnist/evaluation.py",
             'pipe, c = select_logreg(fit, fit_labels, val, val_labels, cfg.logreg_c)',
             'pipe, c = select_logreg(fit, fit_labels, emb["test"][epoch], emb["test_labels"], cfg.logreg_c)',
             ("tests/test_evaluation.py",)),
    Breakage("verification threshold chosen on the test pairs", "src/siamese_mnist/evaluation.py",
             "threshold, _ = best_threshold(pair_distances(val, val_pairs[0]), val_pairs[1])",
             'threshold, _ = best_threshold(pair_distances(emb["test"][epoch], test_pairs[0]), test_pairs[1])',
             ("tests/test_evaluation.py",)),
    Breakage("a reject-all threshold still accepts the closest pair", "src/siamese_mnist/probe.py",
             "        return REJECT_ALL, float(acc[0])\n", "        return float(ds[0]), float(acc[0])\n",
             ("tests/test_probe.py",)),
    Breakage("normaliser fitted on every image, held-out classes included", "src/siamese_mnist/training.py",
             "pool = images[training_pool(labels, p.data.holdout_classes)]", "pool = images",
             ("tests/integration/test_pipeline.py", "-k", "held_out")),
    Breakage("validation keeps the held-out classes", "src/siamese_mnist/training.py",
             "seen_val = training_pool(splits.val[1], p.data.holdout_classes)",
             "seen_val = training_pool(splits.val[1], ())",
             ("tests/test_training.py", "-k", "validation_dumps")),
    Breakage("a run recorded as failed ranks first", "src/siamese_mnist/studies/search/selection.py",
             "return (1, 0.0, 0.0, t.trial_of[model])", "return (-1, 0.0, 0.0, t.trial_of[model])",
             ("tests/studies/test_search_trials.py",)),
    Breakage("search apply drops the line's own comment", "src/siamese_mnist/studies/search/apply.py",
             'note = f"searched: trial {trial}" + (f"; {old}" if old else "")', 'note = f"searched: trial {trial}"',
             ("tests/studies/test_search_apply.py",)),
    Breakage("a failed run is kept for the next rung", "src/siamese_mnist/studies/search/selection.py",
             "if x not in failed[m]]", "if True]", ("tests/studies/test_search_trials.py",)),
    Breakage("normaliser's in-place std skips subtracting the mean", "src/siamese_mnist/training.py",
             "        x -= mean\n", "", ("tests/test_training.py",)),
    Breakage("folder ingest pads with black instead of the border median", "src/siamese_mnist/datasets/folder.py",
             "int(np.median(border))", "0", ("tests/datasets/test_folder.py",)),
    Breakage("folder ingest follows symlinks out of data.root", "src/siamese_mnist/datasets/folder.py",
             "if path.is_symlink() and not _inside(path, root):", "if False:", ("tests/datasets/test_folder.py",)),
    Breakage("data.root is not a dependency of the download stage", "dvc.yaml",
             "      - ${data.root}  # a folder dataset's images: adding, removing or editing one reruns the ingest\n", "",
             ("tests/integration/test_folder_dataset.py", "-k", "end_to_end")),
    Breakage("augmentation shifts in black on a white page", "src/siamese_mnist/augment.py",
             "(max_shift,) * 4, value=fill)", "(max_shift,) * 4)", ("tests/test_training.py", "tests/test_augment.py")),
    Breakage("seed report mixes in experiments with other params", "src/siamese_mnist/studies/identity.py",
             'out[name] = {"params": params, "code": code}', 'out[name] = {"code": code}',
             ("tests/studies/test_replicates.py",)),
    Breakage("seed report mixes in experiments with other params, end to end",
             "src/siamese_mnist/studies/identity.py",
             'out[name] = {"params": params, "code": code}', 'out[name] = {"code": code}',
             ("tests/integration/test_queued_experiments.py", "-k", "seed_report")),
    Breakage("seed statistics: population instead of sample standard deviation", "src/siamese_mnist/studies/stats.py",
             "ddof=1", "ddof=0", ("tests/studies/test_stats.py",)),
    Breakage("seed statistics: paired difference taken unpaired", "src/siamese_mnist/studies/stats.py",
             "diff = a - b", "diff = a - np.roll(b, 1)", ("tests/studies/test_stats.py",)),
    # bad input stops before anything is trained or deleted
    Breakage("a gzip bomb inflated whole", "src/siamese_mnist/datasets/fetch.py",
             "                if limit is not None and size > limit:", "                if False:",
             ("tests/datasets/test_fetch.py",)),
    Breakage("an endless response read on", "src/siamese_mnist/datasets/fetch.py",
             "            if seen > cap:", "            if False:", ("tests/datasets/test_fetch.py",)),
    Breakage("a dripping server waited for", "src/siamese_mnist/datasets/fetch.py",
             "            if time.monotonic() > end:", "            if False:", ("tests/datasets/test_fetch.py",)),
    Breakage("a missing params key silently defaulted", "src/siamese_mnist/typed_yaml.py",
             "    if complete and missing:", "    if False and missing:", ("tests/test_typed_yaml.py",)),
    Breakage("non-finite numbers accepted", "src/siamese_mnist/typed_yaml.py",
             "abs(value) > MAX_INT or not math.isfinite(value):", "abs(value) > MAX_INT:", ("tests/test_typed_yaml.py",)),
    Breakage("seeds unbounded", "src/siamese_mnist/config.py",
             "if not 0 <= self.seed <= MAX_SEED:", "if not 0 <= self.seed:", ("tests/test_typed_yaml.py",)),
    Breakage("a test split with a class of one image passes check", "src/siamese_mnist/checks.py",
             "        if len(bad := np.flatnonzero(present & (n < 2))):", "        if False:", ("tests/test_checks.py",)),
    Breakage("a folder's own short class blamed on a param", "src/siamese_mnist/checks.py",
             "        if counts.where and n is not None and", "        if False and", ("tests/test_checks.py",)),
    Breakage("a class cut by train_limit blamed on val_size", "src/siamese_mnist/checks.py",
             '("train_limit", "train", train, train > 0), ', "", ("tests/test_checks.py",)),
    Breakage("a silhouette sample below two per class passes check", "src/siamese_mnist/checks.py",
             "    if p.evaluate.silhouette_samples < 2 * len(classes):", "    if False:", ("tests/test_checks.py",)),
    Breakage("the weights left out of the memory estimate", "src/siamese_mnist/checks.py",
             "16 * weights))", "0))", ("tests/test_checks.py",)),
    Breakage("a renamed key reported as missing", "src/siamese_mnist/typed_yaml.py",
             "    for key in raw:  # an unknown key first", "    for key in []:  # an unknown key first",
             ("tests/test_typed_yaml.py", "tests/test_config.py")),
    Breakage("a cgroup memory limit ignored", "src/siamese_mnist/checks.py",
             "            total = min(total, int(text))", "            pass", ("tests/test_checks.py",)),
    Breakage("knn_k above the fit set passes check", "src/siamese_mnist/checks.py",
             "    if p.evaluate.knn_k > fit:", "    if p.evaluate.knn_k > 10 * fit:", ("tests/test_checks.py",)),
    Breakage("memory estimate ignored", "src/siamese_mnist/checks.py",
             "        if need > available:", "        if need > 1e30:", ("tests/test_checks.py",)),
    Breakage("FIFOs and devices read", "src/siamese_mnist/datasets/folder.py",
             "            elif not _is_regular(path):", "            elif False:", ("tests/datasets/test_folder.py",)),
    Breakage("decompression bomb a traceback", "src/siamese_mnist/datasets/folder.py",
             "    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:",
             "    except (KeyError,) as exc:", ("tests/datasets/test_folder.py",)),
    Breakage("Pillow's bomb warning let through", "src/siamese_mnist/datasets/folder.py",
             '            warnings.simplefilter("error", Image.DecompressionBombWarning)',
             '            warnings.simplefilter("ignore", Image.DecompressionBombWarning)', ("tests/datasets/test_folder.py",)),
    Breakage("threads uncapped", "src/siamese_mnist/runtime.py",
             "    torch.set_num_threads(min(threads, cores) or cores)", "    torch.set_num_threads(threads or cores)",
             ("tests/test_runtime.py",)),
    Breakage("Ctrl-C exits 130 instead of dying by SIGINT", "src/siamese_mnist/runtime.py",
             "        os.kill(os.getpid(), signal.SIGINT)\n", "", ("tests/test_runtime.py",)),
    Breakage("a full disk a traceback", "src/siamese_mnist/atomic.py",
             "        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):\n            raise\n        raise DiskFullError",
             "        raise\n        raise DiskFullError", ("tests/test_atomic.py",)),
    Breakage("a corrupt resume point blocks every rerun", "src/siamese_mnist/checkpointing.py",
             "        except (UnsafeCheckpointError, KeyError, TypeError, ValueError, AttributeError, RuntimeError,\n",
             "        except (KeyboardInterrupt,\n", ("tests/test_checkpointing.py",)),
    Breakage("a failed resume half-loads the model", "src/siamese_mnist/checkpointing.py",
             "        trial = copy.deepcopy(model)", "        trial = model", ("tests/test_checkpointing.py",)),
    Breakage("a resume point's optimizer state unchecked", "src/siamese_mnist/checkpointing.py",
             "            torch.optim.AdamW(trial.parameters()).load_state_dict(ck[\"optimizer\"])", "            pass",
             ("tests/test_checkpointing.py",)),
    Breakage("a damaged replicate file a traceback", "src/siamese_mnist/studies/replicates.py",
             "        except (OSError, ValueError, KeyError, TypeError, AttributeError, OverflowError, RecursionError) as exc:",
             "        except (KeyboardInterrupt,) as exc:", ("tests/studies/test_replicates.py",)),
    Breakage("one-shot episodes left out of the memory estimate", "src/siamese_mnist/checks.py",
             '              8 * p.evaluate.episodes * len(splits["test"]))]', "              0)]", ("tests/test_checks.py",)),
    Breakage("a NaN loss trains on", "src/siamese_mnist/training.py",
             "        if not math.isfinite(mean_loss):", "        if False:", ("tests/test_training.py",)),
    Breakage("the default block pools before batch-norm", "src/siamese_mnist/models.py",
             "        return [conv, nn.BatchNorm2d(c_out), pool, relu]", "        return [conv, pool, nn.BatchNorm2d(c_out), relu]",
             ("tests/test_models.py",)),
    Breakage("the default block's ReLU before batch-norm", "src/siamese_mnist/models.py",
             "        return [conv, nn.BatchNorm2d(c_out), pool, relu]", "        return [conv, relu, nn.BatchNorm2d(c_out), pool]",
             ("tests/test_models.py",)),
    Breakage("the pool-first block as the default one", "src/siamese_mnist/models.py",
             "        return [conv, pool, nn.BatchNorm2d(c_out), relu]", "        return [conv, nn.BatchNorm2d(c_out), pool, relu]",
             ("tests/test_models.py",)),
    Breakage("the op profile files batch-norm under other", "benchmarks/step_profile.py",
             '("batch_norm", ("batch_norm",))', '("batch_norm", ("batchnorm",))', ("tests/pipeline/test_bench.py",)),
    Breakage("an old checkpoint's missing block refused", "src/siamese_mnist/compare.py",
             '    section = {"block": arch.pop("block", "conv_bn_relu_pool"), **section}', "    arch.pop('block', 0)",
             ("tests/test_compare.py",)),
    Breakage("compare reads a FIFO or a folder as an image", "src/siamese_mnist/compare.py",
             '    if stat.S_ISDIR(st.st_mode):', '    if False:',
             ("tests/test_compare.py::test_folders_fifos_non_images_huge_files_and_non_checkpoints_are_one_line_each",)),
    Breakage("compare hands torch any file as a checkpoint", "src/siamese_mnist/compare.py",
             '    if not zipfile.is_zipfile(path):', '    if False:',
             ("tests/test_compare.py::test_folders_fifos_non_images_huge_files_and_non_checkpoints_are_one_line_each",)),
    Breakage("check decodes no folder image", "src/siamese_mnist/checks.py",
             '        for _ in decode_all(p.data.root, found, p.data.image_size, "check: decoding"):\n            pass',
             "        pass", ("tests/datasets/test_folder.py",)),
    Breakage("a folder name that is not UTF-8 passes", "src/siamese_mnist/datasets/folder.py",
             '        str(path).encode("utf-8")', '        str(path).encode("utf-8", "surrogateescape")',
             ("tests/datasets/test_folder.py",)),
    Breakage("a repeated render epoch or C passes check", "src/siamese_mnist/checks.py",
             "            if v in seen:", "            if False:", ("tests/test_checks.py",)),
    Breakage("run.sh starts a second run in a busy workspace", "run.sh",
             'if [ "$what" = repro ] || [ "$what" = quick ]; then', "if false; then",
             ("tests/pipeline/test_run_sh.py",)),
    Breakage("verify finds every hash matching", "src/siamese_mnist/integrity.py",
             "            if got != md5:", "            if False:", ("tests/integration/test_integrity.py",)),
    Breakage("compare takes another model's probe", "src/siamese_mnist/integrity.py",
             "    if model.resolve() not in lineage:", "    if False:", ("tests/integration/test_integrity.py",)),
    Breakage("rotations relabel the classes but leave the images unturned", "src/siamese_mnist/training.py",
             "                x = turn_images(x, turns[ids].repeat(k))", "                x = x",
             ("tests/test_training.py::test_rotations_turn_every_image_of_an_item_alike_and_make_each_turn_a_class",)),
    Breakage("the CNN's head ignores rotations", "src/siamese_mnist/models.py",
             '        turns = 4 if getattr(section, "rotations", False) else 1', "        turns = 1",
             ("tests/test_training.py::test_rotations_turn_every_image_of_an_item_alike_and_make_each_turn_a_class",)),
    Breakage("the turns drawn alike every epoch", "src/siamese_mnist/augment.py",
             "    gen = torch.Generator().manual_seed(derive_seed(seed, epoch, 3))",
             "    gen = torch.Generator().manual_seed(derive_seed(seed, 1, 3))", ("tests/test_augment.py",)),
    Breakage("--set cannot reach a param inside a section", "src/siamese_mnist/studies/identity.py",
             "    return _section(params[head], rest)", "    return params, key", ("tests/studies/test_replicates.py",)),
    Breakage("--against pairs runs by position, not by seed", "src/siamese_mnist/studies/replicates.py",
             "    return [by_seed[r.seed] for r in runs]", "    return base[:len(runs)]",
             ("tests/studies/test_oneshot_spread.py",)),
    Breakage("unseen --dim pairs with the 2-D runs by position, not by seed", "src/siamese_mnist/studies/replicates.py",
             "    return [by_seed[r.seed] for r in runs]", "    return base[:len(runs)]",
             ("tests/studies/test_unseen.py", "-k", "paired_seed_by_seed")),
    Breakage("an arm's report names the default report's files and not its params", "src/siamese_mnist/studies/tables.py",
             "    if not vary:\n        return []", "    if True:\n        return []",
             ("tests/studies/test_spread.py", "tests/studies/test_oneshot_spread.py")),
    Breakage("the budget rule ignores the data size (MNIST's 55 000 images)", "src/siamese_mnist/pairs.py",
             "        return max(1, round(per_epoch * pool_size / images_per_item))",
             "        return max(1, round(per_epoch * 55_000 / images_per_item))", ("tests/pipeline/test_budgets.py",)),
    Breakage("the search selects on the test figures", "src/siamese_mnist/studies/search/selection.py",
             '        val = t.metrics[model]["val"]', "        val = t.metrics[model]", ("tests/studies/test_search_selection.py",)),
    Breakage("the search's shares overlap", "src/siamese_mnist/studies/search/cli.py",
             "    mine = [s for k, s in enumerate(sorted(plan)) if k % n == i - 1]", "    mine = list(sorted(plan))",
             ("tests/studies/test_search_cli.py",)),
    Breakage("params read 1e-06 as a string (YAML 1.1)", "src/siamese_mnist/typed_yaml.py",
             '        return YAML(typ="safe").load(text)', "        return yaml.safe_load(text)",
             ("tests/studies/test_search_spec.py",)),
    Breakage("held-out metrics count every class", "src/siamese_mnist/evaluation.py",
             "    keep = np.isin(labels, np.asarray(holdout, dtype=labels.dtype))", "    keep = labels >= 0",
             ("tests/test_evaluation.py",)),
    Breakage("a replicate file of other params or code is read", "src/siamese_mnist/studies/replicates.py",
             "    if ref is None:\n        return\n    for r in runs:", "    if True:\n        return\n    for r in runs:",
             ("tests/studies/test_replicates.py",)),
    Breakage("relock leaves the replicate files' code as it was", "tools/relock.py",
             "            if touched:", "            if False:", ("tests/studies/test_replicates.py",)),
    Breakage("a plots change orphans the replicates", "src/siamese_mnist/studies/identity.py",
             'RESULT_STAGES = {"download", "sample", "train", "evaluate", "baseline_pixels", "baselines"}',
             'RESULT_STAGES = {"download", "sample", "train", "evaluate", "baseline_pixels", "baselines", "render"}',
             ("tests/studies/test_replicates.py",)),
    Breakage("the committed search record is not read", "src/siamese_mnist/studies/search/trials.py",
             '            if plan.get(slot) != t["trial_of"] or any(', "            if True or any(",
             ("tests/studies/test_search_trials.py",)),
    Breakage("the unseen report pairs a model with another seed's pixels", "src/siamese_mnist/studies/unseen.py",
             "    pix = {k: [float(r.pixels[k]) for r in runs] for k in METRICS}",
             "    pix = {k: [float(r.pixels[k]) for r in runs[::-1]] for k in METRICS}", ("tests/studies/test_unseen.py",)),
    Breakage("one-shot episodes take the nearest support, not the prototype", "src/siamese_mnist/oneshot.py",
             ".view(*supports.shape, -1).mean(dim=1)", ".view(*supports.shape, -1)[:, 0]", ("tests/test_oneshot.py",)),
    Breakage("Lake's runs scored against the test half", "src/siamese_mnist/lake_runs.py",
             "        train, test = slice(start, start + RUN_SIZE // 2), slice(start + RUN_SIZE // 2, start + RUN_SIZE)",
             "        test, train = slice(start, start + RUN_SIZE // 2), slice(start + RUN_SIZE // 2, start + RUN_SIZE)",
             ("tests/test_oneshot.py",)),
    Breakage("validation alphabets bunched at the start", "src/siamese_mnist/datasets/omniglot_splits.py",
             "int((i + 0.5) * len(names) / count)", "i", ("tests/datasets/test_omniglot_splits.py",)),
    Breakage("a validation alphabet also trained on", "src/siamese_mnist/datasets/omniglot_splits.py",
             'characters = {"train": [n for n in names if n.split("/")[0] not in val_names],',
             'characters = {"train": list(names),', ("tests/datasets/test_omniglot_splits.py",)),
    Breakage("a gallery drawing not inverted for an Omniglot model", "src/siamese_mnist/datasets/folder.py",
             "        pixels = 255 - pixels\n", "        pass\n", ("tests/datasets/test_omniglot_splits.py",)),
    Breakage("hard pairs take the nearest positive", "src/siamese_mnist/losses.py",
             "far = torch.where(same, sq, -inf).max(dim=1).values", "far = torch.where(same, sq, inf).min(dim=1).values",
             ("tests/test_losses.py",)),
    Breakage("every affine component always on", "src/siamese_mnist/augment.py",
             "    u = torch.where(on, u, torch.zeros_like(u)) * cfg.affine", "    u = u * cfg.affine",
             ("tests/test_augment.py",)),
    Breakage("the Omniglot report pairs models against the wrong baseline", "src/siamese_mnist/studies/oneshot_spread.py",
             "paired(column(m, k), column(BASELINE, k), bounds(k))", "paired(column(BASELINE, k), column(m, k), bounds(k))",
             ("tests/studies/test_oneshot_spread.py",)),
    Breakage("a project lists the other project's experiments", "src/siamese_mnist/studies/experiments.py",
             'return not locks or f"{self.prefix}dvc.lock" in locks', "return True",
             ("tests/studies/test_experiments.py",)),
    Breakage("an arm's file compared with the params it was not asked about", "src/siamese_mnist/studies/replicates.py",
             "mine, clashes = without(r.identity, vary)", "mine, clashes = r.identity, []",
             ("tests/studies/test_replicates.py",)),
    Breakage("an arm's file that ran another value of a --set param accepted", "src/siamese_mnist/studies/identity.py",
             "if k in d and d[k] != want:", "if False:", ("tests/studies/test_replicates.py",)),
    Breakage("relock gives an arm's files HEAD's value of the arm's param", "tools/relock.py",
             'added = added_keys(before.get(s, {}), json.loads(json.dumps(entries[s].get("params", {}))))',
             'added = json.loads(json.dumps(entries[s].get("params", {})))', ("tests/studies/test_replicates.py",)),
    Breakage("the Omniglot report's other arm said to train as this one", "src/siamese_mnist/studies/oneshot_spread.py",
             '"trained_with": [trained_with(r) for r in matched],', '"trained_with": [trained_with(r) for r in runs],',
             ("tests/studies/test_oneshot_spread.py",)),
    Breakage("the Omniglot report's clipped-interval footnote dropped", "src/siamese_mnist/studies/oneshot_spread.py",
             'if any("*" in line for line in lines if line.startswith("|")):', "if False:",
             ("tests/studies/test_oneshot_spread.py",)),
    Breakage("the omniglot section accepted on MNIST", "src/siamese_mnist/config.py",
             "        if (self.omniglot is None) == (self.data.dataset == \"omniglot\"):",
             "        if self.omniglot is None and self.data.dataset == \"omniglot\":", ("tests/test_config.py",)),
]


def scratch_copy(dest: Path) -> None:
    for name in COPY:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        elif src.exists():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)


def check(b: Breakage, root: Path = ROOT) -> str:
    """The file's text; SystemExit if the snippet does not occur exactly once."""
    text = (root / b.path).read_text()
    if text.count(b.old) != 1:
        raise SystemExit(f"{b.path}: the snippet of breakage {b.name!r} occurs {text.count(b.old)} times, "
                         "expected once; update tools/breakages.py")
    return text


def apply(b: Breakage, root: Path) -> None:
    (root / b.path).write_text(check(b, root).replace(b.old, b.new))


def run(b: Breakage | None, tests: tuple[str, ...], timeout: float) -> tuple[bool, float, str]:
    """(tests failed, seconds, last line of pytest's output) in a fresh scratch copy with breakage ``b``
    applied (None: the copy as it is, the control run)."""
    with tempfile.TemporaryDirectory(prefix="breakage-") as tmp:
        root = Path(tmp)
        scratch_copy(root)
        if b is not None:
            apply(b, root)
        env = {**os.environ, "PYTHONPATH": str(root / "src"), "PYTHONDONTWRITEBYTECODE": "1",
               "SIAMESE_MNIST_TEST_DATA": os.environ.get("SIAMESE_MNIST_TEST_DATA", str(ROOT.parent / "shared/data"))}
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests],
                              cwd=root, env=env, capture_output=True, text=True, timeout=timeout)
        lines = [line for line in proc.stdout.splitlines() if line.strip()]
        return proc.returncode != 0, time.perf_counter() - t0, lines[-1] if lines else proc.stderr.strip()[-200:]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-k", default="", help="only breakages whose name contains this")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--timeout", type=float, default=900)
    args = ap.parse_args()
    chosen = [b for b in BREAKAGES if args.k.lower() in b.name.lower()]
    for b in chosen:  # fail fast on a stale snippet, before any test runs
        check(b)
    if args.list:
        for b in chosen:
            print(f"{b.name}  ({b.path}; tests: {' '.join(b.tests)})")
        return 0
    # Control: the same tests on an unbroken copy must pass, or a "caught" below would mean nothing.
    for tests in dict.fromkeys(b.tests for b in chosen):
        failed, seconds, last = run(None, tests, args.timeout)
        print(f"control (no breakage): {' '.join(tests)}: {'FAILED' if failed else 'pass'} in {seconds:.0f} s: {last}",
              flush=True)
        if failed:
            return 1
    missed = 0
    print(f"{'breakage':<70} {'caught':<7} {'s':>5}  pytest")
    for b in chosen:
        caught, seconds, last = run(b, b.tests, args.timeout)
        missed += not caught
        print(f"{b.name:<70} {'yes' if caught else 'NO':<7} {seconds:5.0f}  {last}", flush=True)
    print(f"{len(chosen) - missed} of {len(chosen)} breakages caught")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
