"""Synthetic dataset files, datasets and the LightningDataModule."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch

from softrec.data import (
    CATEGORIES,
    ShapeNetDataModule,
    TwoViewDataset,
    ViewVoxelDataset,
    images_to_float,
    make_synthetic_dataset,
)
from softrec.data.datasets import collate_batch
from softrec.data.h5format import IMAGES, VOXELS

CATS = ["03001627", "04379243"]  # chair, table: class ids 4 and 10
SIZES = {"n_train": 3, "n_val": 2, "n_test": 1}


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return make_synthetic_dataset(
        tmp_path_factory.mktemp("syn"),
        **SIZES,
        seed=3,
        categories=CATS,
        num_workers=0,
        progress=False,
    )


def test_categories_table():
    assert len(CATEGORIES) == 13
    assert [c[2] for c in CATEGORIES][:3] == ["airplane", "bench", "dresser"]
    assert CATEGORIES[11] == ("04401088", "telephone", "phone")


def test_files_have_the_documented_layout(root):
    for split, n in (("train", 3), ("val", 2), ("test", 1)):
        with h5py.File(root / f"{split}.h5") as f:
            assert f.attrs["format_version"] == 1
            assert f.attrs["camera_distance"] == pytest.approx(2.732)
            for s in CATS:
                assert f[s][IMAGES].shape == (n, 24, 4, 64, 64) and f[s][IMAGES].dtype == np.uint8
                assert f[s][VOXELS].shape == (n, 32, 32, 32)
                images = f[s][IMAGES][:]
                alpha = images[:, :, 3]
                assert alpha.max() == 255 and (alpha == 0).mean() > 0.3  # object on background
                assert (images[:, :, :3] <= alpha[:, :, None]).all()  # inverted RGB ≤ alpha
                assert f[s][VOXELS][:].any(axis=(1, 2, 3)).all()


def test_generation_is_deterministic_and_skips_when_complete(root, tmp_path):
    other = make_synthetic_dataset(
        tmp_path, **SIZES, seed=3, categories=CATS, num_workers=0, progress=False
    )
    for split in ("train", "test"):
        with h5py.File(root / f"{split}.h5") as a, h5py.File(other / f"{split}.h5") as b:
            for s in CATS:
                assert np.array_equal(a[s][IMAGES][:], b[s][IMAGES][:])
                assert np.array_equal(a[s][VOXELS][:], b[s][VOXELS][:])
    before = (other / "train.h5").stat().st_mtime_ns
    make_synthetic_dataset(other, **SIZES, seed=3, categories=CATS, num_workers=0, progress=False)
    make_synthetic_dataset(other, **SIZES, seed=3, categories=CATS, num_workers=0)
    assert (other / "train.h5").stat().st_mtime_ns == before
    # files from another generator version hold other objects: rebuilt, not reused
    with h5py.File(other / "test.h5", "a") as f:
        f.attrs["synthetic_generator"] = 1
    make_synthetic_dataset(other, **SIZES, seed=3, categories=CATS, num_workers=0)
    assert (other / "train.h5").stat().st_mtime_ns == before
    with h5py.File(other / "test.h5") as f, h5py.File(root / "test.h5") as g:
        assert f.attrs["synthetic_generator"] == g.attrs["synthetic_generator"] != 1
        assert np.array_equal(f[CATS[0]][IMAGES][:], g[CATS[0]][IMAGES][:])
    # Objects within a category differ.
    with h5py.File(root / "train.h5") as f:
        vox = f[CATS[0]][VOXELS][:]
        assert not np.array_equal(vox[0], vox[1])


def test_two_view_dataset(root):
    ds = TwoViewDataset(root / "train.h5", categories=["chair", "table"])
    assert len(ds) == 6
    seen_pairs = set()
    for i in range(len(ds)):
        item = ds[i]
        assert item["images_a"].shape == (4, 64, 64) and item["images_a"].dtype == torch.uint8
        assert item["images_a"][3].max() == 255  # the mask channel is there
        assert item["view_a"] != item["view_b"]
        assert item["class_id"].item() == (4 if i < 3 else 10)
        seen_pairs.add((int(item["view_a"]), int(item["view_b"])))
    assert len(seen_pairs) > 1
    with h5py.File(root / "train.h5") as f:
        item = ds[4]
        stored = f[CATS[1]][IMAGES][1, int(item["view_b"])]
        assert torch.equal(item["images_b"], torch.from_numpy(stored))  # bit for bit
        batch = images_to_float(collate_batch([item, ds[5]]))
        assert torch.equal(batch["images_b"][0], torch.from_numpy(stored).float() / 255)
        # the batched read (what the DataLoader calls) returns exactly the stored views
        torch.manual_seed(0)
        batch = ds.__getitems__([5, 0, 4, 5, -1])
        assert batch["images_a"].shape == (5, 4, 64, 64) and batch["images_a"].dtype == torch.uint8
        assert (batch["view_a"] != batch["view_b"]).all()
        assert batch["class_id"].tolist() == [10, 4, 10, 10, 10]
        for i, (c, o) in enumerate([(1, 2), (0, 0), (1, 1), (1, 2), (1, 2)]):
            for key in ("a", "b"):
                want = f[CATS[c]][IMAGES][o, int(batch[f"view_{key}"][i])]
                assert torch.equal(batch[f"images_{key}"][i], torch.from_numpy(want))
    with pytest.raises(IndexError):
        ds.__getitems__([0, 6])


def test_view_voxel_dataset_covers_every_object_and_view(root):
    ds = ViewVoxelDataset(root / "val.h5", objects_per_category=1)
    assert len(ds) == 2 * 24
    keys = {(int(d["class_id"]), int(d["object_id"]), int(d["view"])) for d in ds}
    assert keys == {(c, 0, v) for c in (4, 10) for v in range(24)}
    full = ViewVoxelDataset(root / "val.h5")
    batch = full.__getitems__([0, 1, 30, 95])  # chair 0 v0|v1, chair 1 v6, table 1 v23
    with h5py.File(root / "val.h5") as f:
        for i, (c, o, v) in enumerate([(0, 0, 0), (0, 0, 1), (0, 1, 6), (1, 1, 23)]):
            assert torch.equal(batch["images"][i], torch.from_numpy(f[CATS[c]][IMAGES][o, v]))
            assert torch.equal(batch["voxels"][i], torch.from_numpy(f[CATS[c]][VOXELS][o] > 0))
            assert (int(batch["object_id"][i]), int(batch["view"][i])) == (o, v)
    item = ds[25]
    assert item["voxels"].dtype == torch.bool and item["voxels"].shape == (32, 32, 32)
    assert len(ViewVoxelDataset(root / "val.h5")) == 2 * 2 * 24


def test_datamodule_with_workers(root):
    dm = ShapeNetDataModule(
        root, batch_size=4, num_workers=2, eval_batch_size=16, val_objects_per_category=1
    )
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert batch["images_a"].shape == (4, 4, 64, 64) and batch["view_b"].dtype == torch.int64
    assert batch["images_a"].dtype == torch.uint8  # as stored: 1/4 of the bytes from workers
    batch = dm.on_after_batch_transfer(batch, 0)  # what Lightning does on the device
    assert batch["images_a"].dtype == torch.float32 and 0 <= batch["images_a"].min()
    assert batch["images_a"].max() <= 1 and batch["images_a"][:, 3].max() == 1  # masks present
    n = 0
    for b in dm.val_dataloader():
        assert b["voxels"].dtype == torch.bool and b["images"].shape[1:] == (4, 64, 64)
        n += len(b["view"])
    assert n == 2 * 24
    assert sum(len(b["view"]) for b in dm.eval_dataloader("test")) == 2 * 24
    assert dm.class_names[4] == "chair"


def _copy_with(root, tmp_path, edit):
    path = tmp_path / "bad.h5"
    path.write_bytes((root / "val.h5").read_bytes())
    with h5py.File(path, "a") as f:
        edit(f)
    return path


def test_bad_files_give_clear_errors(root, tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.h5"):
        TwoViewDataset(tmp_path / "missing.h5")
    path = _copy_with(root, tmp_path, lambda f: f.attrs.__setitem__("format_version", 99))
    with pytest.raises(ValueError, match="bad.h5.*format version"):
        ViewVoxelDataset(path)
    path = _copy_with(root, tmp_path, lambda f: None)
    with pytest.raises(ValueError, match="bad.h5.*missing category group '02691156'"):
        TwoViewDataset(path, categories=["airplane"])

    def reshape(f):
        del f[CATS[0]][VOXELS]
        f[CATS[0]].create_dataset(VOXELS, data=np.zeros((2, 16, 16, 16), np.uint8))

    path = _copy_with(root, tmp_path, reshape)
    with pytest.raises(ValueError, match=r"bad.h5.*03001627/voxels.*\(2, 16, 16, 16\)"):
        ViewVoxelDataset(path)
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not hdf5")
    with pytest.raises(ValueError, match="junk.h5"):
        TwoViewDataset(junk)
    with pytest.raises(ValueError, match="unknown category"):
        TwoViewDataset(root / "train.h5", categories=["spaceship"])


# ---------------------------------------------------------------- the generator's own files
def _digests(folder) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_generator_refuses_folders_with_foreign_files(root, tmp_path):
    from softrec.data import ForeignDataError
    from softrec.data.h5format import atomic_h5, create_category
    from softrec.data.release import SOURCE

    kw = dict(**SIZES, seed=3, categories=CATS, num_workers=0, progress=False)
    foreign = tmp_path / "foreign"
    with atomic_h5(foreign / "train.h5", SOURCE) as f:  # a converted release file
        create_category(f, CATS[0], 1)
    (foreign / "notes.txt").write_text("mine")
    before = _digests(foreign)
    with pytest.raises(ForeignDataError, match="data=shapenet"):
        make_synthetic_dataset(foreign, **kw)
    (foreign / "notes.txt").unlink()
    before.pop("notes.txt")
    with pytest.raises(ForeignDataError, match="train.h5.*data=shapenet"):
        make_synthetic_dataset(foreign, **kw)
    assert _digests(foreign) == before  # nothing was written or removed
    data = (foreign / "train.h5").read_bytes()
    (foreign / "train.h5").write_bytes(data[:500])  # damaged and not ours: still refused
    with pytest.raises(ForeignDataError, match="train.h5"):
        make_synthetic_dataset(foreign, **kw)
    assert (foreign / "train.h5").read_bytes() == data[:500]
    plain_file = tmp_path / "a_file"
    plain_file.write_text("x")
    with pytest.raises(ForeignDataError, match="is a file"):
        make_synthetic_dataset(plain_file, **kw)


def test_generator_repairs_its_own_files_and_says_so(root, tmp_path, capsys):
    import shutil

    from softrec.data.synthetic import MANIFEST_NAME

    kw = dict(**SIZES, seed=3, categories=CATS, num_workers=0, progress=False)
    own = tmp_path / "own"
    shutil.copytree(root, own)
    original = _digests(own)
    (own / "val.h5").write_bytes(original["val.h5"][:2000])  # truncated
    make_synthetic_dataset(own, **kw)
    err = capsys.readouterr().err
    assert f"regenerating {own / 'val.h5'} (damaged" in err and "train.h5" not in err
    assert _digests(own) == original
    make_synthetic_dataset(own, **{**kw, "n_test": 2})  # other size: outdated, said so
    err = capsys.readouterr().err
    assert f"regenerating {own / 'test.h5'} (outdated: objects_per_category 1 instead of 2)" in err
    # files of an earlier version without a manifest are recognised by their source
    (own / MANIFEST_NAME).unlink()
    make_synthetic_dataset(own, **{**kw, "n_test": 2})
    assert capsys.readouterr().err == "" and (own / MANIFEST_NAME).is_file()


# ---------------------------------------------------------------- the training sampler
def test_batch_sampler_is_a_pure_function_of_consumed_batches():
    from softrec.data.sampling import TwoViewBatchSampler

    def stream(sampler, n):
        out, it = [], iter(sampler)
        while len(out) < n:
            try:
                out.append(next(it))
            except StopIteration:
                it = iter(sampler)
                continue
            sampler.consumed += 1
        return out

    counts = [5, 3, 9]
    full = stream(TwoViewBatchSampler(counts, 24, 4, seed=7), 11)  # 4 batches an epoch
    assert len(full) == 11 and all(len(b) == 4 for b in full)
    for k in (0, 3, 4, 6):
        resumed = TwoViewBatchSampler(counts, 24, 4, seed=7)
        resumed.load_state_dict({"consumed_batches": k})
        assert stream(resumed, 11 - k) == full[k:]
    epoch = [t for b in full[:4] for t in b]
    assert sorted(o for o, _, _ in epoch) == sorted(set(o for o, _, _ in epoch))  # no repeats
    assert all(a != b and 0 <= a < 24 and 0 <= b < 24 for _, a, b in epoch)
    other = stream(TwoViewBatchSampler(counts, 24, 4, seed=8), 4)
    assert other != full[:4]
    # data-parallel shares are disjoint and cover the same draws
    shares = [TwoViewBatchSampler(counts, 24, 2, seed=7, rank=r, world_size=2) for r in (0, 1)]
    drawn = [t for s in shares for b in iter(s) for t in b]
    assert len(drawn) == len(set(drawn)) == 16


def test_class_balanced_sampling_weighs_categories_equally():
    from softrec.data.sampling import TwoViewBatchSampler

    counts = [200, 20, 5]  # very unequal categories
    starts = np.cumsum([0, *counts[:-1]])
    per_cat = np.zeros(3)
    uniform = np.zeros(3)
    for epoch in range(20):
        for sampler, acc in ((TwoViewBatchSampler(counts, 24, 5, seed=1, class_balanced=True),
                              per_cat),
                             (TwoViewBatchSampler(counts, 24, 5, seed=1), uniform)):
            objects = sampler.epoch_draws(epoch)[:, 0]
            acc += np.bincount(np.searchsorted(starts, objects, side="right") - 1, minlength=3)
    assert np.allclose(per_cat / per_cat.sum(), 1 / 3, atol=0.02)
    assert np.allclose(uniform / uniform.sum(), np.array(counts) / sum(counts))
