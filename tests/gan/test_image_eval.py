"""gan.image_eval: image metrics of a generator and of a run folder (strict JSON, cached real features, CLI hook)."""
import json
import shutil

import numpy as np
import pytest
import torch

from gan import data, image_eval
from gan.cli import main
from gan.features import classifier_for


def _bars(n=1500, seed=0):
    """A labelled 28×28 set with 3 classes: a bright bar in one of three rows/columns, plus noise; 8-bit values."""
    g = np.random.default_rng(seed)
    y = g.integers(0, 3, n)
    x = g.integers(0, 60, size=(n, 28, 28)).astype(np.uint8)
    for i, c in enumerate(y):
        if c == 0:
            x[i, 4:9] = 230
        elif c == 1:
            x[i, :, 12:17] = 230
        else:
            x[i, 19:24] = 200
    return x, y.astype(np.uint8)


@pytest.fixture(scope="module")
def idx_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("bars")
    x, y = _bars()
    data.write_idx(d / "train-images-idx3-ubyte", x)
    data.write_idx(d / "train-labels-idx1-ubyte", y)
    return d


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One cache for the run-folder tests: the classifier of the data set is trained once."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def run_dir(idx_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    assert main(["train", "--data", "idx", "--data-path", str(idx_dir), "--steps", "3", "--batch-size", "16",
                 "--width", "8", "--z-dim", "8", "--no-progress", "--sample-every", "0", "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def bars(idx_dir, cache):
    ds = data.get("idx", idx_dir)
    return ds, classifier_for(ds.images, ds.labels, "bars", cache)


def test_a_perfect_and_a_collapsed_generator_score_as_they_should(bars, tmp_path):
    ds, clf = bars
    assert clf.accuracy > 0.95                                  # 3 easy classes, held-out 10 %

    def perfect(n, seed):                                       # fresh real images: the ideal generator
        return ds.sample(n, generator=torch.Generator().manual_seed(seed + 99))

    def collapsed(n, seed):                                     # one real image repeated: no diversity
        return ds.images[:1].repeat(n, 1, 1, 1)

    kw = dict(n_samples=1000, kid_subsets=5, cache_dir=tmp_path)
    good = image_eval.evaluate_generator(perfect, ds, clf, **kw)
    bad = image_eval.evaluate_generator(collapsed, ds, clf, **kw)
    # the real set holds 1500 images, 1000 drawn with replacement twice: FID/KID small against the collapse
    assert good["frechet_inception_distance"] < 0.05 * bad["frechet_inception_distance"]
    assert good["kernel_inception_distance_mean"] < 0.05 * bad["kernel_inception_distance_mean"]
    assert good["precision"] > 0.9 and good["recall"] > 0.9 and good["coverage"] > 0.9
    assert 0.7 < good["density"] < 1.3
    assert bad["recall"] < 0.01 and bad["coverage"] < 0.05
    assert bad["inception_score_mean"] == pytest.approx(1.0, abs=1e-6)   # one image: p(y|x) = p(y)
    assert good["inception_score_mean"] == pytest.approx(good["real_inception_score_mean"], rel=0.1)
    assert good["extractor"]["name"] == "classifier" and good["extractor"]["heldout_accuracy"] == clf.accuracy


def test_stacked_features_label_the_modes_as_the_data_does(bars):
    """Per-channel features concatenated; class probabilities multiplied with class index Σ y_i K^i, the label of
    StackedImages: the arg max recovers the stacked label as often as the base classifier is right on all k."""
    from gan.features import StackedFeatures

    ds, clf = bars
    st = StackedFeatures(clf, 3)
    x, y = data.StackedImages(ds, 3).sample_labelled(300, generator=torch.Generator().manual_seed(0))
    probs = st.class_probs(x)
    assert probs.shape == (300, 27) and torch.allclose(probs.sum(1), torch.ones(300, dtype=probs.dtype))
    assert (probs.argmax(1) == y).double().mean() > 0.9
    assert st(x).shape == (300, 3 * 128)
    torch.testing.assert_close(st(x)[:, 128:256], clf(x[:, 1:2]))


def test_evaluate_run_writes_strict_json_caches_and_is_relocatable(run_dir, cache, tmp_path):
    config_before = (run_dir / "config.json").read_bytes()
    kw = dict(n_samples=1000, cache_dir=cache, kid_subsets=5)
    r = image_eval.evaluate_run(run_dir, **kw)
    path = run_dir / "eval_images_classifier.json"
    saved = json.loads(path.read_text(), parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
    assert saved == json.loads(json.dumps(r))
    for key in ("inception_score_mean", "inception_score_std", "frechet_inception_distance",
                "kernel_inception_distance_mean", "kernel_inception_distance_std", "precision", "recall", "f_score",
                "density", "coverage"):
        assert np.isfinite(r[key]), key
    assert r["step"] == 3 and r["n_samples"] == 1000 and r["kid_subset_size"] == 1000
    assert (run_dir / "config.json").read_bytes() == config_before            # the run folder is not rewritten
    cached = sorted(p.name for p in cache.rglob("*") if p.is_file())
    assert any(n.startswith("classifier-idx-") for n in cached) and any(n.endswith(".npz") for n in cached)
    moved = tmp_path / "moved"
    shutil.copytree(run_dir, moved)
    r2 = image_eval.evaluate_run(moved, **kw)                                  # from the cache, another folder
    assert {k: v for k, v in r2.items() if k != "run"} == {k: v for k, v in r.items() if k != "run"}


def test_evaluate_refuses_fewer_samples_than_the_kid_subset(run_dir, tmp_path):
    with pytest.raises(ValueError, match="n_samples 500 is below the KID subset size 1000"):
        image_eval.evaluate_run(run_dir, n_samples=500, cache_dir=tmp_path, write=False)


def test_cli_eval_of_an_image_run(run_dir, cache, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DIVKIT_CACHE", str(cache))
    assert main(["eval", str(run_dir), "--n-samples", "1000"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["kid_subsets"] == 100 and "coverage" in out
    bad = tmp_path / "weights.pth"
    bad.write_bytes(b"garbage")
    with pytest.raises(SystemExit) as exc:
        main(["eval", str(run_dir), "--n-samples", "1000", "--inception-weights", str(bad)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "state dict" in err and "TorchScript" in err and "Traceback" not in err
    with pytest.raises(SystemExit):
        main(["eval", str(run_dir), "--n-samples", "10"])
    assert "below the KID subset size" in capsys.readouterr().err


def test_evaluate_folder_table_and_figure(run_dir, cache, tmp_path):
    folder = tmp_path / "cmp"
    shutil.copytree(run_dir, folder / "kl-nonsaturating-s0")
    failed = folder / "pearson-saturating-s0"
    shutil.copytree(run_dir, failed)
    (failed / "summary.json").unlink()                       # as a run stopped on a non-finite loss leaves it
    recs = image_eval.evaluate_folder(folder, 1000, cache_dir=cache, kid_subsets=5)
    assert [r["variant"] for r in recs] == ["kl-nonsaturating", "pearson-saturating"]
    assert "failed" in recs[1] and recs[0]["kid_subsets"] == 5
    # a second pass reuses the JSON written for the same step and settings (same numbers, nothing recomputed)
    again = image_eval.evaluate_folder(folder, 1000, cache_dir=cache, kid_subsets=5)
    assert again[0]["frechet_inception_distance"] == recs[0]["frechet_inception_distance"]
    table = image_eval.table_markdown(recs)
    row = next(line for line in table.splitlines() if line.startswith("| kl-nonsaturating"))
    assert f"{recs[0]['frechet_inception_distance']:.2f}" in row
    assert "| pearson-saturating | failed |" in table
    image_eval.sample_figure(recs, tmp_path / "grid.png")
    assert (tmp_path / "grid.png").stat().st_size > 1000
